"""Reply templates filled in for the case, and approved facts offered for factual
inaccuracies until their review date."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from cases import services
from cases.models import Answering, ApprovedFact, ReplyTemplate
from cases.selectors import case_language, offered_facts, suggested_replies
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, CaseFactory, MentionFactory, UserFactory

pytestmark = pytest.mark.django_db


def template(name, text, *, language="nl", category="", **fields):
    return ReplyTemplate.objects.create(
        name=name, text=text, language=language, category=category, **fields
    )


def fact(statement, *, review_by, language="nl"):
    return ApprovedFact.objects.create(
        statement=statement,
        language=language,
        owner_department="pr",
        sources="https://www.example.com/tarieven",
        review_by=review_by,
    )


def test_a_template_is_filled_in_for_the_case_and_agent(agent):
    case = CaseFactory(customer=AuthorFactory(display_name="Jan de Vries"))
    template("Excuses", "Hoi {customer}, sorry! Zaak {case}. Groet, {agent}")
    (suggestion,) = suggested_replies(case, agent)
    assert suggestion.text == f"Hoi Jan, sorry! Zaak {case.pk}. Groet, Anna"


def test_without_a_name_the_customer_is_their_handle(agent):
    case = CaseFactory(customer=AuthorFactory(display_name="", handle="pinpas_kwijt"))
    template("Hoi", "Hoi {customer}")
    assert suggested_replies(case, agent)[0].text == "Hoi @pinpas_kwijt"


def test_a_customers_name_is_filled_in_as_text_never_read_as_a_template(agent):
    case = CaseFactory(
        customer=AuthorFactory(display_name="{agent}{case} {x.__class__}")
    )
    template("Hoi", "Hoi {customer}, {agent}")
    assert suggested_replies(case, agent)[0].text == "Hoi {agent}{case}, Anna"


def test_unknown_variables_are_refused_when_saved():
    with pytest.raises(ValidationError) as refused:
        ReplyTemplate(name="x", text="Hoi {naam}, {agent}").full_clean()
    assert "Unknown variables: {naam}" in str(refused.value)
    ReplyTemplate(name="x", text="Hoi {customer} :-{ }").full_clean()


def test_the_cases_category_comes_first_then_general_in_its_language(agent):
    case = CaseFactory(category="complaint")
    template("Algemeen", "Algemeen")
    template("Klacht", "Klacht", category="complaint")
    template("Vraag", "Vraag", category="question")
    template("General", "General", language="en")
    template("Oud", "Oud", is_active=False)
    names = [s.template.name for s in suggested_replies(case, agent)]
    assert names == ["Klacht", "Algemeen"]


def test_the_language_is_the_customers_then_their_posts_then_the_teams(settings):
    case = CaseFactory(customer=AuthorFactory(language=""))
    assert case_language(case) == "nl"
    settings.WEBCARE_REPLY_LANGUAGE = "en"
    assert case_language(case) == "en"
    MentionFactory(case=case, language="nl")
    assert case_language(case) == "nl"
    case.customer.language = "en-GB"
    case.customer.save()
    assert case_language(case) == "en"


def test_facts_are_offered_for_factual_inaccuracies_until_their_review_date():
    today = timezone.localdate()
    current = fact("Pinnen in het buitenland is gratis.", review_by=today)
    fact("De rente is 2%.", review_by=today - timedelta(days=1))
    fact("Contactless is free.", review_by=today, language="en")
    inaccuracy = CaseFactory(category="factual_inaccuracy")
    assert list(offered_facts(inaccuracy, today)) == [current]
    assert list(offered_facts(CaseFactory(category="complaint"), today)) == []


def test_the_case_page_offers_them_to_who_may_reply(client, team, agent):
    case = services.case_open(
        subject="Klopt niet",
        team=team,
        channel="x_search",
        category="factual_inaccuracy",
    )
    template("Rechtzetting", "Dag {customer}, dat klopt niet helemaal. {agent}")
    fact("Pinnen in de eurozone is gratis.", review_by=timezone.localdate())
    fact("Verlopen feit.", review_by=timezone.localdate() - timedelta(days=1))
    url = reverse("admin:cases_case_change", args=[case.pk])

    client.force_login(agent)
    page = client.get(url).content.decode()
    assert "Answer with" in page and "Rechtzetting" in page
    assert "dat klopt niet helemaal. Anna" in page
    assert "Pinnen in de eurozone is gratis." in page
    assert "Verlopen feit." not in page

    spokesperson = UserFactory(groups=["spokesperson"])  # reads, does not reply
    client.force_login(spokesperson)
    assert "Answer with" not in client.get(url).content.decode()

    services.case_assign(case=case, assignee=agent, actor=agent)
    services.case_resolve(case=case, actor=agent)
    client.force_login(agent)
    assert "Answer with" not in client.get(url).content.decode()


def test_spokespeople_keep_templates_and_facts_agents_read_them(client, team):
    agent = make_agent(team, "dirk", "Dirk")
    spokesperson = UserFactory(groups=["spokesperson"])
    add = reverse("admin:cases_replytemplate_add")
    data = {"name": "Bedankt", "language": "nl", "text": "Dank {customer}!"}
    client.force_login(agent)
    assert client.get(reverse("admin:cases_approvedfact_changelist")).status_code == 200
    assert client.post(add, {**data, "is_active": "on"}).status_code == 403
    client.force_login(spokesperson)
    assert client.post(add, {**data, "is_active": "on"}).status_code == 302
    response = client.post(add, {**data, "name": "Fout", "text": "Dank {naam}!"})
    assert "Unknown variables: {naam}" in response.content.decode()
    assert ReplyTemplate.objects.get().name == "Bedankt"
    expired = fact("Oud.", review_by=timezone.localdate() - timedelta(days=3))
    listing = client.get(
        reverse("admin:cases_approvedfact_changelist"), {"review": "expired"}
    ).content.decode()
    assert "Oud." in listing and "not offered" in listing
    assert expired.pk


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_use_puts_the_text_in_the_composer_and_colleagues_see_her_answer(
    live_server, browser, team
):
    agent = make_agent(team, "eva", "Eva")
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    template("Welkom", "Hoi {customer}, we zoeken het uit. {agent}")
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(agent.username)
    browser.find_element(By.NAME, "password").send_keys("webcare-demo")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/admin/"))
    browser.get(f"{live_server.url}/admin/cases/case/{case.pk}/change/")
    button = browser.find_element(By.CSS_SELECTOR, "#reply-suggestions button")
    browser.execute_script("arguments[0].scrollIntoView()", button)
    button.click()
    composer = browser.find_element(By.CSS_SELECTOR, 'textarea[name$="-0-text"]')
    WebDriverWait(browser, 5).until(
        lambda _: "we zoeken het uit. Eva" in composer.get_attribute("value")
    )
    assert browser.switch_to.active_element == composer
    # Typing (here: the text put in) tells colleagues she is answering.
    status = browser.find_element(By.ID, "answering")
    WebDriverWait(browser, 5).until(lambda _: status.get_attribute("data-last-signal"))
    assert Answering.objects.filter(case=case, agent=agent).exists()
