"""Who may have a customer's personal survey link (issue 16): only those who send it
to the customer, never the agent who was rated, every copy on the case's trail; and a
staff session never answers a survey."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from cases.models import CaseEvent, EventKind
from reporting.models import SurveyChannel, SurveyStatus
from reporting.services import SURVEY_LINK_COPIED
from sources.models import Author
from tests.factories import AuthorFactory, ReplyFactory, UserFactory
from tests.foundation.test_partial_saves import form_as_shown
from webcare.api.auth import api_client_create

from .helpers import resolved_case, sent_survey

pytestmark = pytest.mark.django_db

ROLES = ("agent", "spokesperson", "customer_service", "manager")


def link_survey(**fields):
    """A survey for a customer without e-mail: the CRM or staff send its link."""
    case = resolved_case(customer=AuthorFactory(email=""), **fields)
    return sent_survey(case=case, channel=SurveyChannel.LINK, email="")


def copy_url(survey) -> str:
    return f"/admin/reporting/survey/{survey.pk}/copy-link/"


def copies(survey):
    return CaseEvent.objects.filter(case=survey.case, kind=SURVEY_LINK_COPIED)


@pytest.fixture
def project_urls(settings):
    # The API and the survey pages together, as in production.
    settings.ROOT_URLCONF = "webcare.urls"


# --- the admin: no page shows the link -----------------------------------------------


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_no_role_sees_the_link_on_the_survey_or_the_case_page(client, role):
    survey = link_survey()
    user = (
        UserFactory(is_superuser=True)
        if role == "superuser"
        else UserFactory(groups=[role])
    )
    client.force_login(user)
    for page in (
        f"/admin/reporting/survey/{survey.pk}/change/",
        f"/admin/cases/case/{survey.case_id}/change/",
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        assert survey.token not in response.content.decode(), page
    assert not copies(survey).exists()


def test_customer_service_gets_the_copy_button_and_an_agent_does_not(client):
    survey = link_survey()
    client.force_login(UserFactory(groups=["customer_service"]))
    html = client.get(f"/admin/reporting/survey/{survey.pk}/change/").content.decode()
    assert copy_url(survey) in html
    client.force_login(UserFactory(groups=["agent"]))
    html = client.get(f"/admin/reporting/survey/{survey.pk}/change/").content.decode()
    assert copy_url(survey) not in html


def test_the_case_page_offers_the_copy_button_to_customer_service(client):
    survey = link_survey()
    client.force_login(UserFactory(groups=["customer_service"]))
    html = client.get(f"/admin/cases/case/{survey.case_id}/change/").content.decode()
    assert copy_url(survey) in html
    assert survey.token not in html


def test_an_email_survey_has_no_copy_button(client):
    survey = sent_survey()
    client.force_login(UserFactory(groups=["customer_service"]))
    html = client.get(f"/admin/reporting/survey/{survey.pk}/change/").content.decode()
    assert copy_url(survey) not in html


def test_the_roles_that_may_copy_the_link():
    may_copy = {
        group.name
        for group in Group.objects.filter(
            permissions__codename="copy_survey_link",
            permissions__content_type__app_label="reporting",
        )
    }
    assert may_copy == {"customer_service", "manager"}


# --- the admin: copying ------------------------------------------------------------


def test_customer_service_copies_the_link_and_the_case_trail_records_who(client):
    survey = link_survey()
    karim = UserFactory(groups=["customer_service"])
    client.force_login(karim)
    response = client.post(copy_url(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"https://webcare.example.com/s/{survey.token}/" in html
    assert "no-store" in response["Cache-Control"]
    event = copies(survey).get()
    assert event.actor == karim
    assert event.data == {
        "survey_id": survey.pk,
        "channel": SurveyChannel.LINK,
        "via": "admin",
    }
    assert survey.token not in str(event.data)


def test_looking_at_the_copy_page_shows_no_link_and_records_nothing(client):
    survey = link_survey()
    client.force_login(UserFactory(groups=["customer_service"]))
    response = client.get(copy_url(survey))
    assert response.status_code == 200
    assert survey.token not in response.content.decode()
    assert not copies(survey).exists()


def test_an_agent_may_not_copy_the_link(client):
    survey = link_survey()
    client.force_login(UserFactory(groups=["agent"]))
    response = client.post(copy_url(survey))
    assert response.status_code == 403
    assert survey.token not in response.content.decode()
    assert "Only customer service and managers" in response.content.decode()
    assert not copies(survey).exists()


def test_the_assignee_may_not_copy_the_link_even_as_a_manager(client):
    manager = UserFactory(groups=["manager"])
    survey = link_survey(assignee=manager)
    client.force_login(manager)
    response = client.post(copy_url(survey))
    assert response.status_code == 403
    html = response.content.decode()
    assert survey.token not in html
    assert "the customer rates you" in html
    assert not copies(survey).exists()


def test_whoever_replied_on_the_case_may_not_copy_the_link(client):
    survey = link_survey()
    replied = UserFactory(groups=["customer_service"])
    ReplyFactory(case=survey.case, agent=replied)
    client.force_login(replied)
    assert client.post(copy_url(survey)).status_code == 403
    assert not copies(survey).exists()


def test_the_link_of_a_cancelled_survey_is_not_handed_out(client):
    survey = link_survey()
    survey.status = SurveyStatus.CANCELLED
    survey.save(update_fields=["status"])
    client.force_login(UserFactory(groups=["customer_service"]))
    response = client.post(copy_url(survey))
    assert response.status_code == 409
    assert survey.token not in response.content.decode()
    assert not copies(survey).exists()


# --- the API ------------------------------------------------------------------------


def test_the_crm_fetching_the_link_is_recorded_on_the_case(project_urls):
    survey = link_survey()
    _, token = api_client_create(name="crm", scopes=["read", "write"])
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = http.get(f"/api/v1/surveys/{survey.pk}/link/")
    assert response.status_code == 200
    assert response.json()["url"].endswith(f"/s/{survey.token}/")
    event = copies(survey).get()
    assert event.actor is None and event.actor_label == "api:crm"
    assert event.data["via"] == "api"
    assert survey.token not in str(event.data)


def test_the_rated_agent_gets_no_link_from_the_api(project_urls):
    manager = UserFactory(groups=["manager"])
    survey = link_survey(assignee=manager)
    http = APIClient()
    http.force_login(manager)
    response = http.get(f"/api/v1/surveys/{survey.pk}/link/")
    assert response.status_code == 403
    assert survey.token not in response.content.decode()
    assert not copies(survey).exists()


def test_an_agent_session_gets_no_link_from_the_api(project_urls):
    survey = link_survey()
    http = APIClient()
    http.force_login(UserFactory(groups=["agent"]))
    assert http.get(f"/api/v1/surveys/{survey.pk}/link/").status_code == 403
    assert not copies(survey).exists()


def test_customer_service_gets_the_link_from_the_api_and_it_is_recorded(project_urls):
    survey = link_survey()
    karim = UserFactory(groups=["customer_service"])
    http = APIClient()
    http.force_login(karim)
    response = http.get(f"/api/v1/surveys/{survey.pk}/link/")
    assert response.status_code == 200
    assert copies(survey).get().actor == karim


# --- the survey page: a staff session never answers -----------------------------


def test_a_staff_session_cannot_answer_a_survey(client):
    agent = UserFactory(groups=["agent"])
    survey = sent_survey()
    survey.case.assignee = agent
    survey.case.save(update_fields=["assignee"])
    client.force_login(agent)
    response = client.post(
        f"/s/{survey.token}/?lang=nl", {"score": "10", "comment": "Top!"}
    )
    assert response.status_code == 403
    assert "alleen de klant kan een vragenlijst invullen" in response.content.decode()
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    assert survey.score is None and survey.comment == ""
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_ANSWERED).exists()


def test_a_staff_session_does_not_see_the_survey_page(client):
    survey = sent_survey(subject="Pinpas kwijt")
    client.force_login(UserFactory(groups=["customer_service"]))
    response = client.get(f"/s/{survey.token}/?lang=en")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You are signed in as staff" in html
    assert "Pinpas kwijt" not in html
    dutch = client.get(f"/s/{survey.token}/?lang=nl").content.decode()
    assert "Je bent ingelogd als medewerker" in dutch


def test_a_staff_session_cannot_opt_the_customer_out(client):
    survey = sent_survey()
    client.force_login(UserFactory(groups=["manager"]))
    response = client.post(f"/s/{survey.token}/opt-out/")
    assert response.status_code == 403
    survey.recipient.refresh_from_db()
    assert survey.recipient.survey_opt_out_at is None


def test_the_customer_still_answers_after_staff_signed_out(client):
    survey = sent_survey()
    client.force_login(UserFactory(groups=["agent"]))
    client.logout()
    response = client.post(f"/s/{survey.token}/", {"score": "8"})
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.score == 8


@pytest.mark.parametrize(
    "role, may", [("agent", False), ("customer_service", True), ("manager", True)]
)
def test_only_customer_service_and_managers_change_where_the_link_is_mailed(
    role, may, client
):
    """The reviewer's route around the rule: an agent set the customer's e-mail to
    her own, resolved the case and got the personal link in her mailbox."""
    client.force_login(UserFactory(groups=[role]))
    author = AuthorFactory(email="klant@example.nl")
    url = reverse("admin:sources_author_change", args=[author.pk])
    data = form_as_shown(client, url)
    assert ("email" in client.get(url).context["adminform"].form.fields) == may
    response = client.post(url, {**data, "email": "anna@example.nl", "is_vip": "on"})
    assert response.status_code == 302
    author = Author.objects.get(pk=author.pk)
    assert author.is_vip
    assert author.email == ("anna@example.nl" if may else "klant@example.nl")
