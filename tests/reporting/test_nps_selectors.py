"""NPS figures from the database, checked against numbers worked out by hand."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reporting.models import SurveyStatus
from reporting.selectors import nps_figures
from tests.factories import (
    CaseFactory,
    MentionFactory,
    SourceFactory,
    SurveyFactory,
    TeamFactory,
    TopicFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
JAN = datetime(2026, 1, 1, tzinfo=AMSTERDAM)
FEB = datetime(2026, 2, 1, tzinfo=AMSTERDAM)
MAR = datetime(2026, 3, 1, tzinfo=AMSTERDAM)
APR = datetime(2026, 4, 1, tzinfo=AMSTERDAM)


def survey(score=None, *, sent_at, status=None, case=None, responded_at=None):
    """A survey sent at `sent_at`; with a score, answered an hour later."""
    fields = {"sent_at": sent_at, "scheduled_for": sent_at or responded_at}
    if score is not None:
        fields.update(
            status=SurveyStatus.ANSWERED,
            score=score,
            responded_at=responded_at or sent_at + timedelta(hours=1),
        )
    else:
        fields["status"] = status or SurveyStatus.SENT
    if case is not None:
        fields["case"] = case
    return SurveyFactory(**fields)


@pytest.fixture
def quarter():
    """January: 10 9 9 8 3 and two unanswered; February: 0 6 7; March: nothing."""
    for score in (10, 9, 9, 8, 3):
        survey(score, sent_at=JAN + timedelta(days=3))
    survey(sent_at=JAN + timedelta(days=4))
    survey(sent_at=JAN + timedelta(days=5), status=SurveyStatus.EXPIRED)
    # 23:30 on 31 January in Amsterdam is still January (22:30 UTC).
    survey(sent_at=FEB - timedelta(minutes=30), status=SurveyStatus.REMINDED)
    # 00:30 on 1 February in Amsterdam is February, though still 31 January in UTC.
    survey(0, sent_at=FEB + timedelta(minutes=30))
    survey(6, sent_at=FEB + timedelta(days=10))
    survey(7, sent_at=FEB + timedelta(days=20))
    # Outside the range, or never sent: not counted.
    survey(10, sent_at=JAN - timedelta(minutes=1))
    survey(10, sent_at=APR)
    SurveyFactory(status=SurveyStatus.SCHEDULED, scheduled_for=JAN + timedelta(days=2))
    SurveyFactory(status=SurveyStatus.CANCELLED, scheduled_for=JAN + timedelta(days=2))


def test_the_total_over_a_range(quarter):
    result = nps_figures(start=JAN, end=APR)
    # 3 promoters, 2 passives, 3 detractors of 8 answers; 11 sent.
    assert (result.promoters, result.passives, result.detractors) == (3, 2, 3)
    assert (result.answered, result.sent) == (8, 11)
    assert result.nps == 0
    # p = d = 3/8: var = 6/8 - 0 = 0.75; 1.96 * 100 * sqrt(0.75 / 8) = 60.0125
    assert result.margin_of_error == pytest.approx(60.0125, abs=1e-4)
    assert result.response_rate == pytest.approx(8 / 11)
    assert result.indicative is True


def test_per_month_with_the_empty_month(quarter):
    groups = nps_figures(start=JAN, end=APR, group_by="period", period="month")
    assert [group.key for group in groups] == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    january, february, march = (group.result for group in groups)
    # January: 10 9 9 8 3 of 8 sent: (3 - 1) / 5 = 40; p .6 d .2: var .64,
    # 1.96 * 100 * sqrt(.64 / 5) = 70.1231
    assert (january.answered, january.sent) == (5, 8)
    assert january.nps == pytest.approx(40)
    assert january.margin_of_error == pytest.approx(70.1231, abs=1e-4)
    assert january.response_rate == pytest.approx(5 / 8)
    # February: 0 6 7: (0 - 2) / 3 = -66.67; var 2/3 - 4/9 = 2/9,
    # 1.96 * 100 * sqrt(2/27) = 196 * 0.2721655 = 53.3444
    assert (february.answered, february.sent) == (3, 3)
    assert february.nps == pytest.approx(-66.6667, abs=1e-4)
    assert february.margin_of_error == pytest.approx(53.3444, abs=1e-4)
    # March: nothing sent, nothing to over-read.
    assert (march.answered, march.sent) == (0, 0)
    assert march.nps is None
    assert march.margin_of_error is None
    assert march.response_rate is None
    assert march.indicative is True
    assert groups[2].as_dict()["key"] == "2026-03-01"


def test_per_week_and_per_quarter(quarter):
    weeks = nps_figures(start=FEB, end=MAR, group_by="period", period="week")
    # February 2026 starts on a Sunday: its week began on Monday 26 January.
    assert weeks[0].key == date(2026, 1, 26)
    assert len(weeks) == 5
    assert sum(week.result.answered for week in weeks) == 3
    quarters = nps_figures(start=JAN, end=APR, group_by="period", period="quarter")
    assert [q.key for q in quarters] == [date(2026, 1, 1)]
    assert quarters[0].result.answered == 8


def test_a_link_answered_before_it_was_marked_sent_counts_when_answered():
    survey(9, sent_at=None, responded_at=FEB + timedelta(days=1))
    result = nps_figures(start=FEB, end=MAR)
    assert (result.answered, result.sent, result.nps) == (1, 1, 100)


def test_an_empty_range_has_no_score():
    result = nps_figures(start=JAN, end=FEB)
    assert (result.answered, result.sent, result.nps) == (0, 0, None)
    assert result.margin_of_error is None


def test_thirty_answers_are_no_longer_indicative():
    for index in range(30):
        survey(9 if index < 20 else 5, sent_at=JAN + timedelta(hours=index))
    result = nps_figures(start=JAN, end=FEB)
    assert result.answered == 30
    assert result.indicative is False
    # 20 promoters, 10 detractors: NPS 33.33; var = 1 - (1/3)^2 = 8/9,
    # 1.96 * 100 * sqrt(8 / 270) = 196 * 0.1721326 = 33.7380
    assert result.nps == pytest.approx(33.3333, abs=1e-4)
    assert result.margin_of_error == pytest.approx(33.7380, abs=1e-4)


def test_per_agent_team_and_category():
    anna = UserFactory(first_name="Anna", last_name="Jansen")
    bram = UserFactory(first_name="Bram", last_name="de Vries")
    north, south = TeamFactory(name="Noord"), TeamFactory(name="Zuid")
    cases = [
        CaseFactory(assignee=anna, team=north, category="complaint"),
        CaseFactory(assignee=anna, team=north, category="complaint"),
        CaseFactory(assignee=bram, team=south, category="question"),
        CaseFactory(assignee=None, team=south, category=""),
    ]
    for case, score in zip(cases, (10, 2, 8, None), strict=True):
        survey(score, sent_at=JAN + timedelta(days=1), case=case)

    agents = {
        g.label: g.result for g in nps_figures(start=JAN, end=FEB, group_by="agent")
    }
    assert set(agents) == {"Anna Jansen", "Bram de Vries", "Unassigned"}
    assert (agents["Anna Jansen"].nps, agents["Anna Jansen"].sent) == (0, 2)
    assert agents["Bram de Vries"].nps == 0 and agents["Bram de Vries"].passives == 1
    assert agents["Unassigned"].nps is None and agents["Unassigned"].sent == 1

    teams = nps_figures(start=JAN, end=FEB, group_by="team")
    assert [(g.key, g.label, g.result.answered) for g in teams] == [
        (north.pk, "Noord", 2),
        (south.pk, "Zuid", 1),
    ]
    categories = {
        g.key: (g.label, g.result.answered)
        for g in nps_figures(start=JAN, end=FEB, group_by="category")
    }
    assert categories == {
        "complaint": ("Complaint / problem", 2),
        "question": ("Question", 1),
        "": ("Uncategorised", 0),
    }


def test_per_topic_a_case_counts_under_each_of_its_topics():
    fees, app = TopicFactory(name="Fees"), TopicFactory(name="Mobile app")
    both = CaseFactory()
    both.topics.set([fees, app])
    only_app = CaseFactory()
    only_app.topics.set([app])
    survey(9, sent_at=JAN + timedelta(days=1), case=both)
    survey(4, sent_at=JAN + timedelta(days=1), case=only_app)
    survey(7, sent_at=JAN + timedelta(days=1))

    topics = {
        g.label: g.result for g in nps_figures(start=JAN, end=FEB, group_by="topic")
    }
    assert topics["Fees"].nps == 100
    assert (topics["Mobile app"].promoters, topics["Mobile app"].detractors) == (1, 1)
    assert topics["Mobile app"].nps == 0
    assert topics["No topic"].passives == 1


def test_per_source_of_the_first_mention():
    forum = SourceFactory(name="Forum")
    x_search = SourceFactory(name="X search")
    case = CaseFactory()
    MentionFactory(case=case, source=forum, published_at=JAN)
    MentionFactory(case=case, source=x_search, published_at=JAN + timedelta(hours=1))
    survey(10, sent_at=JAN + timedelta(days=1), case=case)
    survey(1, sent_at=JAN + timedelta(days=1))

    sources = {
        g.label: g.result for g in nps_figures(start=JAN, end=FEB, group_by="source")
    }
    assert sources["Forum"].nps == 100
    assert sources["No source"].nps == -100
    assert "X search" not in sources


def test_it_refuses_unknown_groupings_and_backwards_ranges():
    with pytest.raises(ValueError, match="group_by"):
        nps_figures(start=JAN, end=FEB, group_by="mood")
    with pytest.raises(ValueError, match="period"):
        nps_figures(start=JAN, end=FEB, group_by="period", period="fortnight")
    with pytest.raises(ValueError, match="before"):
        nps_figures(start=FEB, end=JAN)
