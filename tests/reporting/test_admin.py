import pytest
from django.contrib.admin.sites import site
from django.utils import timezone

from cases.models import CaseEvent, EventKind
from reporting.admin import SurveyInline
from reporting.models import SurveyChannel, SurveyStatus
from tests.factories import AuthorFactory, SurveyFactory, UserFactory

from .helpers import resolved_case, sent_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_client(client):
    user = UserFactory(is_superuser=True)
    client.force_login(user)
    return client


def test_the_list_filters_on_status_and_score_band(
    manager_client, django_assert_max_num_queries
):
    promoter = SurveyFactory(
        status=SurveyStatus.ANSWERED, score=10, responded_at=timezone.now()
    )
    detractor = SurveyFactory(
        status=SurveyStatus.ANSWERED, score=2, responded_at=timezone.now()
    )
    failed = SurveyFactory(status=SurveyStatus.FAILED, last_error="451")
    url = "/admin/reporting/survey/"
    with django_assert_max_num_queries(12):
        response = manager_client.get(url)
    assert response.status_code == 200

    def listed(query):
        page = manager_client.get(url + query)
        return {survey.pk for survey in page.context["cl"].result_list}

    assert listed("?band=detractor") == {detractor.pk}
    assert listed("?band=promoter") == {promoter.pk}
    assert listed("?status__exact=failed") == {failed.pk}


def test_the_list_does_not_run_a_query_per_row(
    manager_client, django_assert_max_num_queries
):
    for _ in range(20):
        SurveyFactory()
    with django_assert_max_num_queries(12):
        assert manager_client.get("/admin/reporting/survey/").status_code == 200


def test_staff_resend_a_failed_survey(
    manager_client, smtp_server, django_capture_on_commit_callbacks
):
    survey = sent_survey(status=SurveyStatus.FAILED, sent_at=None, send_attempts=5)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            "/admin/reporting/survey/",
            {"action": "resend_surveys", "_selected_action": [survey.pk]},
        )
    assert response.status_code == 302
    survey.refresh_from_db()
    # Queued after commit; eager here, so it went out at once.
    assert survey.status == SurveyStatus.SENT
    assert len(smtp_server.messages) == 1
    assert CaseEvent.objects.filter(
        kind=EventKind.SURVEY_SCHEDULED, data__resend=True
    ).exists()


def test_staff_cancel_an_unanswered_survey_but_not_an_answered_one(manager_client):
    open_survey = sent_survey()
    answered = sent_survey(
        case=resolved_case(customer=AuthorFactory(email="b@example.com")),
        status=SurveyStatus.ANSWERED,
        score=9,
        responded_at=timezone.now(),
    )
    response = manager_client.post(
        "/admin/reporting/survey/",
        {"action": "cancel_surveys", "_selected_action": [open_survey.pk, answered.pk]},
        follow=True,
    )
    open_survey.refresh_from_db()
    answered.refresh_from_db()
    assert open_survey.status == SurveyStatus.CANCELLED
    assert answered.status == SurveyStatus.ANSWERED
    messages = [str(message) for message in response.context["messages"]]
    assert any("cannot be cancelled" in message for message in messages)


def test_an_agent_sees_surveys_but_cannot_act(client):
    survey = sent_survey()
    client.force_login(UserFactory(groups=["agent"]))
    page = client.get("/admin/reporting/survey/")
    assert page.status_code == 200
    assert "resend_surveys" not in page.content.decode()
    client.post(
        "/admin/reporting/survey/",
        {"action": "cancel_surveys", "_selected_action": [survey.pk]},
    )
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT


def test_the_personal_link_is_never_shown_only_the_copy_button(manager_client):
    link = sent_survey(channel=SurveyChannel.LINK, email="")
    page = manager_client.get(f"/admin/reporting/survey/{link.pk}/change/")
    html = page.content.decode()
    assert f"/s/{link.token}/" not in html
    assert f"/admin/reporting/survey/{link.pk}/copy-link/" in html
    email = sent_survey(
        case=resolved_case(customer=AuthorFactory(email="b@example.com"))
    )
    page = manager_client.get(f"/admin/reporting/survey/{email.pk}/change/")
    assert f"/s/{email.token}/" not in page.content.decode()
    assert f"/admin/reporting/survey/{email.pk}/copy-link/" not in (
        page.content.decode()
    )


def test_the_inline_shows_the_survey_of_a_case(rf):
    survey = sent_survey(channel=SurveyChannel.LINK, email="")
    request = rf.get("/")
    request.user = UserFactory(is_superuser=True)
    inline = SurveyInline(survey.case.__class__, site)
    formset = inline.get_formset(request, obj=survey.case)(instance=survey.case)
    assert [form.instance for form in formset.forms] == [survey]
    assert inline.has_add_permission(request, obj=survey.case) is False
    assert f"/s/{survey.token}/" not in inline.personal_link(survey)
    assert "copy-link" in inline.personal_link(survey)
