from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.models import CaseEvent, Commitment, EventKind
from reporting.models import Survey, SurveyStatus
from tests.factories import AgentFactory, AuthorFactory, UserFactory

from .helpers import resolved_case, sent_survey

pytestmark = pytest.mark.django_db


def url(survey_or_token, suffix=""):
    token = getattr(survey_or_token, "token", survey_or_token)
    return f"/s/{token}/{suffix}"


def test_it_shows_the_question_in_dutch(client, django_assert_max_num_queries):
    survey = sent_survey(agent_first_name="Anna", subject="Pinpas kwijt")
    with django_assert_max_num_queries(1):
        response = client.get(url(survey))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="nl">' in html
    assert "Hoe waarschijnlijk is het dat je ons aanbeveelt" in html
    assert "Anna van ons webcareteam" in html
    assert "Pinpas kwijt" in html
    for score in range(11):
        assert f'<label for="score-{score}">{score}' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"


def test_it_shows_the_question_in_english_for_an_english_customer(client):
    survey = sent_survey(language="en")
    html = client.get(url(survey)).content.decode()
    assert '<html lang="en">' in html
    assert "How likely are you to recommend us" in html


def test_the_customer_can_switch_language(client):
    survey = sent_survey(language="nl")
    html = client.get(url(survey) + "?lang=en").content.decode()
    assert "How likely are you to recommend us" in html


def test_the_page_reveals_nothing_private(client):
    survey = sent_survey(agent_first_name="Anna", subject="Pinpas kwijt")
    survey.case.assignee = UserFactory(first_name="Anna", last_name="Jansen")
    survey.case.crm_customer_id = "CRM-123456"
    survey.case.save()
    html = client.get(url(survey)).content.decode()
    for private in ("Jansen", "CRM-123456", survey.email, survey.recipient.handle):
        assert private not in html


def test_it_records_an_answer_and_thanks_a_promoter(client):
    survey = sent_survey()
    response = client.post(url(survey), {"score": "9", "comment": "Snel geholpen"})
    assert response.status_code == 302
    assert response["Location"] == url(survey, "thanks/")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.ANSWERED
    assert survey.score == 9
    assert survey.comment == "Snel geholpen"
    assert survey.responded_at is not None
    event = CaseEvent.objects.get(case=survey.case, kind=EventKind.SURVEY_ANSWERED)
    assert event.data["score"] == 9
    assert event.data["band"] == "promoter"
    assert not CaseEvent.objects.filter(kind=EventKind.FOLLOW_UP).exists()
    thanks = client.get(response["Location"])
    assert "Bedankt dat je ons aanbeveelt" in thanks.content.decode()


def test_a_detractor_opens_a_follow_up_for_the_agent(client):
    agent = AgentFactory(user__first_name="Anna").user
    survey = sent_survey(case=resolved_case(assignee=agent))
    client.post(url(survey), {"score": "3", "comment": ""})
    follow_up = CaseEvent.objects.get(case=survey.case, kind=EventKind.FOLLOW_UP)
    new_case = survey.case.__class__.objects.get(pk=follow_up.data["follow_up_case_id"])
    commitment = Commitment.objects.get(case=new_case)
    assert follow_up.data["commitment_id"] == commitment.pk
    assert commitment.owner == agent
    assert new_case.assignee == agent
    assert "3/10" in commitment.description
    assert commitment.due_at > timezone.now()
    # The helped case stays resolved; the follow-up has its own due times and trail.
    survey.case.refresh_from_db()
    assert survey.case.status == "resolved"
    assert new_case.first_response_due_at is not None
    assert new_case.events.filter(kind=EventKind.CREATED).exists()
    thanks = client.get(url(survey, "thanks/")).content.decode()
    assert "Het spijt ons" in thanks


def test_a_detractor_of_an_agent_who_left_opens_an_unassigned_case(client):
    former = UserFactory(first_name="Bram", is_active=False)
    survey = sent_survey(case=resolved_case(assignee=former))
    response = client.post(url(survey), {"score": "2"})
    assert response.status_code == 302
    follow_up = CaseEvent.objects.get(case=survey.case, kind=EventKind.FOLLOW_UP)
    new_case = survey.case.__class__.objects.get(pk=follow_up.data["follow_up_case_id"])
    assert new_case.assignee is None
    assert not Commitment.objects.filter(case=new_case).exists()
    survey.refresh_from_db()
    assert survey.score == 2


def test_a_detractor_without_an_agent_opens_a_new_case_for_the_team(client):
    survey = sent_survey()
    client.post(url(survey), {"score": "0"})
    follow_up = CaseEvent.objects.get(case=survey.case, kind=EventKind.FOLLOW_UP)
    new_case = survey.case.__class__.objects.get(pk=follow_up.data["follow_up_case_id"])
    assert new_case.status == "new"
    assert new_case.customer == survey.case.customer
    assert new_case.team == survey.case.team
    assert new_case.priority == "high"
    assert new_case.subject.startswith("NPS follow-up (0/10)")


def test_a_second_submit_shows_the_thank_you_page_and_changes_nothing(client):
    survey = sent_survey()
    client.post(url(survey), {"score": "8"})
    again = client.post(url(survey), {"score": "8"})
    assert again.status_code == 302
    assert again["Location"] == url(survey, "thanks/")
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_CORRECTED).exists()


def test_a_correction_within_the_window_replaces_the_score(client):
    survey = sent_survey()
    client.post(url(survey), {"score": "8", "comment": "ok"})
    page = client.get(url(survey)).content.decode()
    assert "Je kunt het nog wijzigen" in page
    assert 'value="8" required checked' in page

    client.post(url(survey), {"score": "4", "comment": "toch niet"})

    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "toch niet")
    assert survey.corrected_at is not None
    corrected = CaseEvent.objects.get(kind=EventKind.SURVEY_CORRECTED)
    assert corrected.data | {} == {
        "survey_id": survey.pk,
        "old_score": 8,
        "score": 4,
        "old_comment": "ok",
        "comment": "toch niet",
    }
    # Both the answer and the correction are in the audit trail.
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1
    # Now a detractor: the loop is closed for the team as well.
    assert CaseEvent.objects.filter(kind=EventKind.FOLLOW_UP).count() == 1


def test_after_the_window_the_answer_is_final(client, settings):
    survey = sent_survey()
    client.post(url(survey), {"score": "8"})
    Survey.objects.filter(pk=survey.pk).update(
        responded_at=timezone.now()
        - settings.WEBCARE_SURVEY_CORRECTION_WINDOW
        - timedelta(seconds=1)
    )
    response = client.post(url(survey), {"score": "2"})
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.score == 8
    # A used link shows the thank-you page.
    used = client.get(url(survey), follow=True)
    assert used.status_code == 200
    assert "Bedankt voor je antwoord" in used.content.decode()
    assert "Mijn antwoord wijzigen" not in used.content.decode()


def test_the_comment_is_stored_as_given_and_shown_escaped(client):
    hostile = '<script>alert("x")</script> & <b>vet</b>  '
    survey = sent_survey()
    client.post(url(survey), {"score": "7", "comment": hostile})
    survey.refresh_from_db()
    assert survey.comment == hostile
    html = client.get(url(survey)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_a_full_comment_with_browser_line_breaks_is_accepted(client):
    # A textarea's maxlength counts a line break as one character; the browser
    # submits it as CRLF. 2,000 characters as typed must fit.
    lines = ["x" * 399] * 5
    typed = "\n".join(lines) + "\n" * 5
    typed = typed[:2000]
    assert len(typed) == 2000
    survey = sent_survey()
    response = client.post(
        url(survey), {"score": "8", "comment": typed.replace("\n", "\r\n")}
    )
    assert response.status_code == 302
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.ANSWERED
    assert survey.comment == typed


def test_a_comment_longer_than_2000_characters_is_refused(client):
    survey = sent_survey()
    response = client.post(url(survey), {"score": "8", "comment": "y" * 2001})
    assert response.status_code == 400
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    assert survey.comment == ""


def test_a_hostile_subject_is_shown_escaped(client):
    survey = sent_survey(subject='<img src=x onerror="alert(1)">')
    html = client.get(url(survey)).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html


@pytest.mark.parametrize("score", ["11", "-1", "", "ten", "7.5"])
def test_an_invalid_score_is_refused_with_a_message(client, score):
    survey = sent_survey()
    response = client.post(url(survey), {"score": score})
    assert response.status_code == 400
    assert "Kies een cijfer van 0 tot en met 10." in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT


def test_the_form_is_csrf_protected():
    survey = sent_survey()
    client = Client(enforce_csrf_checks=True)
    response = client.post(url(survey), {"score": "9"})
    assert response.status_code == 403
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT


def test_an_unknown_token_gets_a_friendly_404(client):
    response = client.get(url("A" * 43))
    assert response.status_code == 404
    assert "We cannot find this survey" in response.content.decode()


def test_without_a_survey_the_page_follows_the_browser_language(client):
    response = client.get(url("A" * 43), HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9")
    assert response.status_code == 404
    assert "We kunnen deze vragenlijst niet vinden" in response.content.decode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1],  # truncated in a mail client
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: token + "'--",
        lambda token: token.replace(token[:4], "%00%"),
        lambda token: token.upper(),
    ],
)
def test_a_tampered_token_gets_a_friendly_404(client, tamper):
    survey = sent_survey()
    response = client.get(url(tamper(survey.token)))
    assert response.status_code == 404
    assert "We cannot find this survey" in response.content.decode()
    response = client.post(url(tamper(survey.token)), {"score": "9"})
    assert response.status_code == 404
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT


def test_a_path_instead_of_a_token_is_not_found(client):
    assert client.get("/s/..%2F..%2Fadmin/").status_code == 404


def test_an_expired_survey_gets_a_friendly_410(client, settings):
    survey = sent_survey(
        sent_ago=settings.WEBCARE_SURVEY_EXPIRES_AFTER + timedelta(minutes=1)
    )
    # Expired by time even before the expiry task has run.
    assert survey.status == SurveyStatus.SENT
    response = client.get(url(survey))
    assert response.status_code == 410
    assert "Deze vragenlijst is gesloten" in response.content.decode()
    assert client.post(url(survey), {"score": "9"}).status_code == 410
    survey.refresh_from_db()
    assert survey.score is None


def test_a_cancelled_survey_gets_a_friendly_410(client):
    survey = sent_survey(status=SurveyStatus.CANCELLED)
    response = client.get(url(survey))
    assert response.status_code == 410
    assert "niet meer beschikbaar" in response.content.decode()


def test_the_thanks_page_of_an_unanswered_survey_leads_to_the_question(client):
    survey = sent_survey()
    response = client.get(url(survey, "thanks/"))
    assert response.status_code == 302
    assert response["Location"] == url(survey)


def test_opting_out_needs_a_confirmation(client):
    survey = sent_survey()
    page = client.get(url(survey, "opt-out/"))
    assert page.status_code == 200
    survey.recipient.refresh_from_db()
    assert survey.recipient.survey_opt_out_at is None  # a link scanner changes nothing

    done = client.post(url(survey, "opt-out/"))

    assert done.status_code == 200
    assert "Je ontvangt geen vragenlijsten meer" in done.content.decode()
    survey.refresh_from_db()
    survey.recipient.refresh_from_db()
    assert survey.recipient.survey_opt_out_at is not None
    assert survey.status == SurveyStatus.CANCELLED
    assert CaseEvent.objects.get(kind=EventKind.SURVEY_CANCELLED).data["reason"] == (
        "opted_out"
    )
    # And no survey for the next case.
    from reporting.services import survey_schedule_for_case

    next_case = resolved_case(customer=survey.recipient)
    assert survey_schedule_for_case(case=next_case) is None


def test_the_page_is_throttled_per_token(client, settings):
    survey = sent_survey()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"survey_ip": "100/min", "survey_token": "3/min"},
    }
    assert [client.get(url(survey)).status_code for _ in range(3)] == [200] * 3
    refused = client.post(url(survey), {"score": "9"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    # Refused before the survey is looked up: in the browser's language.
    assert "Too many attempts" in refused.content.decode()
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    # Another customer's link is not affected.
    other = sent_survey(case=resolved_case(customer=AuthorFactory(email="b@x.nl")))
    assert client.get(url(other)).status_code == 200


def test_the_page_is_throttled_per_ip(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"survey_ip": "5/min", "survey_token": "100/min"},
    }
    guesser = Client(REMOTE_ADDR="127.0.0.7")
    codes = [guesser.get(url(f"{n:043d}")).status_code for n in range(6)]
    assert codes == [404] * 5 + [429]
    survey = sent_survey()
    assert guesser.get(url(survey)).status_code == 429
    assert Client(REMOTE_ADDR="127.0.0.8").get(url(survey)).status_code == 200


def test_the_default_rates_allow_a_normal_visit(client):
    survey = sent_survey()
    client.get(url(survey))
    client.post(url(survey), {"score": "6"})
    client.get(url(survey, "thanks/"))
    client.get(url(survey))
    assert client.post(url(survey), {"score": "7"}).status_code == 302
    survey.refresh_from_db()
    assert survey.score == 7
