"""The survey page in a real headless Chromium: keyboard only, both languages."""

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from cases.models import CaseEvent, EventKind
from reporting.models import SurveyStatus
from tests.factories import AuthorFactory

from .helpers import resolved_case, sent_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def press(driver, *keys):
    actions = ActionChains(driver)
    for key in keys:
        actions.send_keys(key)
    actions.perform()


def focused(driver):
    return driver.switch_to.active_element


def wait_for_heading(driver, text):
    # While a double submit navigates twice, Chromium may answer a poll with an
    # inspector error; keep polling until the heading shows or the wait times out.
    WebDriverWait(driver, 10, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), text)
    )


def test_a_customer_answers_with_the_keyboard_only_in_dutch(live_server, browser):
    survey = sent_survey(agent_first_name="Anna", subject="Pinpas kwijt")
    browser.get(f"{live_server.url}/s/{survey.token}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hoe hebben we het gedaan?"
    # The group is labelled and every option has its own label.
    legend = browser.find_element(By.CSS_SELECTOR, "fieldset legend")
    assert legend.text.startswith("Hoe waarschijnlijk")
    radios = browser.find_elements(By.CSS_SELECTOR, "input[type=radio][name=score]")
    assert len(radios) == 11
    for radio in radios:
        label = browser.find_element(
            By.CSS_SELECTOR, f"label[for={radio.get_attribute('id')}]"
        )
        assert label.is_displayed()
    # Mobile first: nothing sticks out sideways on a phone.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )

    press(browser, Keys.TAB)
    assert focused(browser).get_attribute("id") == "score-0"
    press(browser, *[Keys.ARROW_RIGHT] * 8)
    assert focused(browser).get_attribute("id") == "score-8"
    assert focused(browser).is_selected()
    press(browser, Keys.TAB)
    assert focused(browser).get_attribute("id") == "comment"
    press(browser, "Snel en <b>vriendelijk</b>")
    press(browser, Keys.TAB)
    assert focused(browser).tag_name == "button"
    press(browser, Keys.ENTER)

    wait_for_heading(browser, "Bedankt voor je antwoord!")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.ANSWERED
    assert survey.score == 8
    assert survey.comment == "Snel en <b>vriendelijk</b>"


def test_a_customer_answers_in_english_and_a_double_submit_counts_once(
    live_server, browser
):
    survey = sent_survey(
        language="en",
        case=resolved_case(customer=AuthorFactory(email="c@example.com")),
    )
    browser.get(f"{live_server.url}/s/{survey.token}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == "How did we do?"

    press(browser, Keys.TAB, *[Keys.ARROW_RIGHT] * 10)
    assert focused(browser).get_attribute("id") == "score-10"
    button = browser.find_element(By.CSS_SELECTOR, "button[type=submit]")
    ActionChains(browser).double_click(button).perform()

    wait_for_heading(browser, "Thank you for your answer!")
    survey.refresh_from_db()
    assert survey.score == 10
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_CORRECTED).exists()

    # Back to the form and send again: the thank-you page, nothing changes.
    browser.back()
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "score-10"))
    )
    assert browser.find_element(By.ID, "score-10").is_selected()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_heading(browser, "Thank you for your answer!")
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_CORRECTED).exists()


def test_a_missing_score_is_announced(live_server, browser):
    survey = sent_survey()
    browser.get(f"{live_server.url}/s/{survey.token}/")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "errors"))
    )
    assert alert.get_attribute("role") == "alert"
    assert "Kies een cijfer van 0 tot en met 10." in alert.text
    fieldset = browser.find_element(By.TAG_NAME, "fieldset")
    assert fieldset.get_attribute("aria-invalid") == "true"
    assert "errors" in fieldset.get_attribute("aria-describedby")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
