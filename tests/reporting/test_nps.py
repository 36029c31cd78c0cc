import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reporting.nps import (
    MIN_ANSWERS,
    NpsResult,
    band,
    compute_nps,
    compute_nps_from_counts,
    group_nps,
)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, "detractor"),
        (6, "detractor"),
        (7, "passive"),
        (8, "passive"),
        (9, "promoter"),
        (10, "promoter"),
    ],
)
def test_band_follows_the_nps_boundaries(score, expected):
    assert band(score) == expected


@pytest.mark.parametrize("score", [-1, 11, 9.0, 9.5, "9", None, True, False])
def test_band_rejects_anything_but_a_whole_number_from_0_to_10(score):
    with pytest.raises(ValueError, match="whole number from 0 to 10"):
        band(score)


def test_it_computes_a_hand_worked_example():
    # 5 promoters, 3 passives, 2 detractors: NPS = 50% - 20% = 30.
    # var = 0.5 + 0.2 - 0.3^2 = 0.61; margin = 1.96 * sqrt(0.61 / 10) * 100.
    result = compute_nps([10, 9, 9, 10, 9, 8, 7, 7, 3, 6])
    assert result.answered == 10
    assert (result.promoters, result.passives, result.detractors) == (5, 3, 2)
    assert result.nps == pytest.approx(30.0)
    assert result.margin_of_error == pytest.approx(1.96 * math.sqrt(0.061) * 100)
    assert result.margin_of_error == pytest.approx(48.408, abs=0.001)
    assert result.sent is None
    assert result.response_rate is None
    assert result.indicative is True


def test_it_computes_a_second_hand_worked_example():
    # 20 promoters, 20 passives, 10 detractors of 50: NPS = 40% - 20% = 20.
    # var = 0.4 + 0.2 - 0.2^2 = 0.56; margin = 1.96 * sqrt(0.56 / 50) * 100.
    result = compute_nps_from_counts(promoters=20, passives=20, detractors=10, sent=200)
    assert result.nps == pytest.approx(20.0)
    assert result.margin_of_error == pytest.approx(1.96 * math.sqrt(0.0112) * 100)
    assert result.margin_of_error == pytest.approx(20.743, abs=0.001)
    assert result.response_rate == pytest.approx(0.25)
    assert result.indicative is False


def test_all_promoters_score_100_with_no_spread():
    result = compute_nps([9, 10] * 6)
    assert result.nps == 100.0
    assert result.margin_of_error == 0.0
    assert result.indicative is True


def test_all_detractors_score_minus_100():
    result = compute_nps(list(range(7)) * 6)
    assert result.answered == 42
    assert result.detractors == 42
    assert result.nps == -100.0
    assert result.margin_of_error == 0.0
    assert result.indicative is False


def test_only_passives_score_0_with_no_spread():
    result = compute_nps([7, 8, 7])
    assert result.nps == 0.0
    assert result.margin_of_error == 0.0


def test_half_promoters_half_detractors_has_the_widest_margin():
    # var = 1 - 0 = 1: the per-answer score is +1 or -1 with equal chance.
    result = compute_nps_from_counts(promoters=50, passives=0, detractors=50)
    assert result.nps == 0.0
    assert result.margin_of_error == pytest.approx(1.96 * math.sqrt(1 / 100) * 100)


def test_no_answers_give_no_figures():
    result = compute_nps([])
    assert result == NpsResult(
        answered=0,
        promoters=0,
        passives=0,
        detractors=0,
        sent=None,
        nps=None,
        margin_of_error=None,
        response_rate=None,
        indicative=True,
    )


def test_no_answers_out_of_surveys_sent_is_a_zero_response_rate():
    result = compute_nps([], sent=12)
    assert result.nps is None
    assert result.margin_of_error is None
    assert result.response_rate == 0.0
    assert result.sent == 12


def test_thirty_answers_are_no_longer_indicative():
    assert MIN_ANSWERS == 30
    assert compute_nps([9] * 30).indicative is False
    assert compute_nps([9] * 29).indicative is True


def test_response_rate_is_answered_over_sent():
    result = compute_nps([10, 8, 2], sent=12)
    assert result.response_rate == pytest.approx(0.25)
    assert compute_nps([10], sent=1).response_rate == 1.0
    assert compute_nps([], sent=0).response_rate is None


@pytest.mark.parametrize("sent", [-1, 1.5, "10", True])
def test_it_rejects_an_invalid_sent_count(sent):
    with pytest.raises(ValueError, match="sent must be a non-negative whole number"):
        compute_nps([9], sent=sent)


def test_it_rejects_more_answers_than_surveys_sent():
    with pytest.raises(ValueError, match="3 answers but only 2 surveys sent"):
        compute_nps([9, 9, 9], sent=2)


def test_it_rejects_an_invalid_score_among_valid_ones():
    with pytest.raises(ValueError, match="not 11"):
        compute_nps([9, 10, 11])


@pytest.mark.parametrize(
    "counts",
    [
        {"promoters": -1, "passives": 0, "detractors": 0},
        {"promoters": 1, "passives": 2.0, "detractors": 0},
        {"promoters": 1, "passives": 0, "detractors": True},
        {"promoters": None, "passives": 0, "detractors": 0},
    ],
)
def test_it_rejects_invalid_counts(counts):
    with pytest.raises(ValueError, match="must be a non-negative whole number"):
        compute_nps_from_counts(**counts)


@given(
    scores=st.lists(st.integers(min_value=0, max_value=10), max_size=200),
    unanswered=st.integers(min_value=0, max_value=50),
)
def test_counts_and_scores_give_the_same_result(scores, unanswered):
    sent = len(scores) + unanswered
    from_scores = compute_nps(scores, sent=sent)
    from_counts = compute_nps_from_counts(
        promoters=sum(score >= 9 for score in scores),
        passives=sum(7 <= score <= 8 for score in scores),
        detractors=sum(score <= 6 for score in scores),
        sent=sent,
    )
    assert from_scores == from_counts


@given(
    promoters=st.integers(min_value=0, max_value=10_000),
    passives=st.integers(min_value=0, max_value=10_000),
    detractors=st.integers(min_value=0, max_value=10_000),
)
def test_margin_matches_the_textbook_difference_of_proportions(
    promoters, passives, detractors
):
    result = compute_nps_from_counts(
        promoters=promoters, passives=passives, detractors=detractors
    )
    n = promoters + passives + detractors
    if n == 0:
        assert result.nps is None
        assert result.margin_of_error is None
        return
    p, d = promoters / n, detractors / n
    # Var(p - d) = Var(p) + Var(d) - 2 Cov(p, d), with Cov(p, d) = -pd / n.
    variance = (p * (1 - p) + d * (1 - d) + 2 * p * d) / n
    assert result.nps == pytest.approx(100 * (p - d))
    assert -100 <= result.nps <= 100
    assert result.margin_of_error >= 0
    assert result.margin_of_error == pytest.approx(
        1.96 * math.sqrt(variance) * 100, abs=1e-9
    )


def test_as_dict_has_every_figure():
    result = compute_nps([10, 9, 9, 10, 9, 8, 7, 7, 3, 6], sent=40)
    assert result.as_dict() == {
        "answered": 10,
        "promoters": 5,
        "passives": 3,
        "detractors": 2,
        "sent": 40,
        "nps": result.nps,
        "margin_of_error": result.margin_of_error,
        "response_rate": 0.25,
        "indicative": True,
    }
    assert result.as_dict()["nps"] == pytest.approx(30.0)


def test_a_result_cannot_be_changed():
    result = compute_nps([9])
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.nps = 100.0


def test_group_nps_computes_per_key_and_keeps_unanswered_keys():
    rows = [("2026-01", 10), ("2026-02", 8), ("2026-01", 3), ("2026-01", 9)]
    sent = {"2026-01": 6, "2026-02": 2, "2026-03": 5}
    results = group_nps(rows, sent_by_key=sent)
    assert list(results) == ["2026-01", "2026-02", "2026-03"]

    january = results["2026-01"]
    assert (january.promoters, january.passives, january.detractors) == (2, 0, 1)
    assert january.nps == pytest.approx(100 * (2 - 1) / 3)
    assert january.response_rate == pytest.approx(0.5)

    february = results["2026-02"]
    assert february.nps == 0.0
    assert february.response_rate == pytest.approx(0.5)

    march = results["2026-03"]
    assert march.answered == 0
    assert march.nps is None
    assert march.margin_of_error is None
    assert march.sent == 5
    assert march.response_rate == 0.0
    assert march.indicative is True


def test_group_nps_without_sent_counts_and_with_composite_keys():
    rows = [(("anna", "phishing"), 10), (("bram", "phishing"), 2)]
    results = group_nps(rows)
    assert results[("anna", "phishing")].nps == 100.0
    assert results[("bram", "phishing")].nps == -100.0
    assert all(result.sent is None for result in results.values())
    assert group_nps([]) == {}


def test_group_nps_gives_sent_none_to_keys_missing_from_sent_counts():
    results = group_nps([("anna", 9), ("bram", 9)], sent_by_key={"anna": 2})
    assert results["anna"].response_rate == pytest.approx(0.5)
    assert results["bram"].sent is None
    assert results["bram"].response_rate is None


def test_group_nps_rejects_an_invalid_score():
    with pytest.raises(ValueError, match="whole number from 0 to 10"):
        group_nps([("anna", 9), ("bram", -3)])


def test_group_nps_agrees_with_compute_nps_per_group():
    rows = [("a", score) for score in (10, 7, 1, 9)] + [("b", score) for score in (5,)]
    results = group_nps(rows, sent_by_key={"a": 8, "b": 1})
    assert results["a"] == compute_nps([10, 7, 1, 9], sent=8)
    assert results["b"] == compute_nps([5], sent=1)
