"""Mentions of one dialogue triaged at the same time (two workers, PostgreSQL, real
threads) open one case between them, and every mention ends up on it."""

import threading

import pytest
from django.db import connection

from cases.models import Case, CaseEvent, EventKind
from sources.models import EngagementRule, Mention, Outcome, TriageStatus
from sources.triage.services import mention_triage
from tests.factories import AuthorFactory, MentionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COMPLAINTS = [
    "@oranjebank mijn overboeking van vorige week is nog steeds niet aangekomen, "
    "en niemand helpt me",
    "@oranjebank al drie dagen geen geld op mijn rekening, dit is echt een "
    "schandaal, niemand helpt me",
    "@oranjebank mijn pinpas is geblokkeerd en de app geeft een foutmelding, "
    "niemand helpt me",
    "@oranjebank de overboeking is nog steeds niet aangekomen, ik ben het zat",
]


@pytest.fixture(autouse=True)
def complaints_are_engaged(on_postgres):
    # The shipped rules are migration data, which an earlier transactional test's
    # flush removes; this rule decides these mentions either way.
    EngagementRule.objects.create(
        name="Complaint (test)",
        position=1,
        categories=["complaint"],
        outcome=Outcome.ENGAGE,
        priority="high",
        reason="a customer has a problem",
    )


def triage_at_once(mentions: list[Mention]) -> list:
    start = threading.Barrier(len(mentions))
    results: list = [None] * len(mentions)

    def run(index: int, mention_id: int) -> None:
        try:
            start.wait(timeout=10)
            results[index] = mention_triage(mention_id=mention_id)
        except BaseException as error:  # surfaced by the assertions
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, mention.pk))
        for index, mention in enumerate(mentions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def assert_one_case_with_all(mentions: list[Mention], results: list) -> Case:
    assert not [result for result in results if isinstance(result, BaseException)]
    assert all(result is not None for result in results)
    for mention in mentions:
        mention.refresh_from_db()
    assert {mention.triage_status for mention in mentions} == {TriageStatus.ENGAGED}
    case = Case.objects.get()
    assert {mention.case_id for mention in mentions} == {case.pk}
    assert case.mentions.count() == len(mentions)
    assert CaseEvent.objects.filter(kind=EventKind.CREATED).count() == 1
    assert CaseEvent.objects.filter(
        case=case, kind=EventKind.MENTION_ADDED
    ).count() == (len(mentions))
    return case


def test_mentions_of_one_conversation_triaged_at_once_share_one_case(on_postgres):
    # Different people in one thread: only the conversation ties them together.
    mentions = [
        MentionFactory(
            text=text, conversation_key="x_search:1700", author=AuthorFactory()
        )
        for text in COMPLAINTS
    ]

    case = assert_one_case_with_all(mentions, triage_at_once(mentions))
    assert case.conversation_key == "x_search:1700"


def test_mentions_of_one_author_triaged_at_once_share_one_case(on_postgres):
    # One customer posting in separate threads: the author is the dialogue.
    author = AuthorFactory()
    mentions = [
        MentionFactory(text=text, conversation_key=f"x_search:{number}", author=author)
        for number, text in enumerate(COMPLAINTS)
    ]

    case = assert_one_case_with_all(mentions, triage_at_once(mentions))
    assert case.customer == author


def test_the_same_mention_triaged_twice_at_once_is_routed_once(on_postgres):
    mention = MentionFactory(text=COMPLAINTS[0], conversation_key="x_search:1800")

    results = triage_at_once([mention, mention])

    assert not [result for result in results if isinstance(result, BaseException)]
    # One worker triaged it; the other found it no longer pending and skipped it.
    assert sorted(result is None for result in results) == [False, True]
    mention.refresh_from_db()
    assert Case.objects.get().pk == mention.case_id
    assert CaseEvent.objects.filter(kind=EventKind.MENTION_ADDED).count() == 1
