"""Staff pages of triage: rules with a dry run, the review queue, re-runs, explanations."""

import pytest
from django.test import Client
from django.urls import reverse

import sources.admin_rules  # noqa: F401  (registered by sources/admin.py once wired)
import sources.triage.services.dry_run
from cases.models import Case
from sources.models import (
    EngagementRule,
    Mention,
    RuleDryRun,
    TriageRun,
    TriageStatus,
)
from sources.triage.explain import triage_explanation_html
from sources.triage.services import mention_triage
from tests.factories import MentionFactory, UserFactory

pytestmark = pytest.mark.django_db

QUESTION = "@oranjebank hoe kan ik mijn dagelijkse pinlimiet verhogen in de app?"
OTHER = "Oranjebank sponsort dit jaar het schaatstoernooi in Heerenveen"
HOSTILE_OTHER = (
    "<b>Oranjebank</b> sponsort dit jaar het schaatstoernooi <script>x()</script>"
)


def browser(role: str) -> tuple[Client, object]:
    user = UserFactory(username=f"staff-{role}", groups=[role])
    web = Client()
    web.force_login(user)
    return web, user


def rule_form(**overrides) -> dict:
    data = {
        "name": "Limits: check first",
        "position": "45",
        "is_active": "on",
        "description": "",
        "categories": ["question"],
        "patterns": "pinlimiet",
        "min_reach": "",
        "outcome": "review",
        "priority": "normal",
        "reason": "limits changed last week",
        "department": "",
        "also_escalate_to": "",
    }
    data.update(overrides)
    return data


# --- Rules ---------------------------------------------------------------------------


def test_the_rule_list_shows_order_and_a_preview_link():
    web, _ = browser("spokesperson")

    response = web.get(reverse("admin:sources_engagementrule_changelist"))

    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Phishing report") < content.index("Abuse")
    first = EngagementRule.objects.get(name="Phishing report")
    assert reverse("admin:sources_engagementrule_dry_run", args=[first.pk]) in content


def test_a_bad_regex_is_a_form_error():
    web, _ = browser("spokesperson")
    before = EngagementRule.objects.count()

    response = web.post(
        reverse("admin:sources_engagementrule_add"),
        rule_form(patterns="pinlimiet\nre:(unclosed"),
    )

    assert response.status_code == 200
    assert "Line 2 (re:(unclosed): invalid regular expression" in (
        response.content.decode()
    )
    assert EngagementRule.objects.count() == before


def test_a_regex_that_can_hang_is_a_form_error():
    web, _ = browser("spokesperson")

    response = web.post(
        reverse("admin:sources_engagementrule_add"), rule_form(patterns="re:(a+)+$")
    )

    assert response.status_code == 200
    assert "regular expression refused" in response.content.decode()
    assert not EngagementRule.objects.filter(name="Limits: check first").exists()


def test_an_escalate_rule_without_a_department_is_a_form_error():
    web, _ = browser("spokesperson")

    response = web.post(
        reverse("admin:sources_engagementrule_add"), rule_form(outcome="escalate")
    )

    assert "An escalate rule needs a department." in response.content.decode()
    assert not EngagementRule.objects.filter(name="Limits: check first").exists()


def test_a_valid_rule_is_saved_with_its_lists():
    web, _ = browser("spokesperson")

    response = web.post(
        reverse("admin:sources_engagementrule_add"),
        rule_form(source_kinds=["x_search", "mastodon"], languages=["nl"]),
    )

    assert response.status_code == 302
    rule = EngagementRule.objects.get(name="Limits: check first")
    assert rule.categories == ["question"]
    assert rule.source_kinds == ["x_search", "mastodon"]
    assert rule.languages == ["nl"]


def test_the_change_form_has_a_dry_run_button():
    web, _ = browser("spokesperson")
    rule = EngagementRule.objects.get(name="Question")

    response = web.get(reverse("admin:sources_engagementrule_change", args=[rule.pk]))

    url = reverse("admin:sources_engagementrule_dry_run", args=[rule.pk])
    assert f'formaction="{url}"' in response.content.decode()


def run_in_background(web, url, data, capture) -> str:
    """Post a dry run, run its task after commit, and read the page it leads to."""
    with capture(execute=True):
        started = web.post(url, data)
    assert started.status_code == 302
    page = web.get(started.url)
    assert page.status_code == 200
    return page.content.decode()


def test_the_dry_run_of_a_new_rule_shows_changes_without_saving(
    django_capture_on_commit_callbacks,
):
    web, _ = browser("spokesperson")
    MentionFactory(text=QUESTION)
    MentionFactory(text=QUESTION)
    before = EngagementRule.objects.count()

    content = run_in_background(
        web,
        reverse("admin:sources_engagementrule_dry_run_add"),
        {**rule_form(), "_dry_run": "Preview (dry run)"},
        django_capture_on_commit_callbacks,
    )

    assert "<strong>2</strong> mention(s) would change outcome" in content
    assert "engage -&gt; review" in content
    assert "pinlimiet verhogen" in content
    assert EngagementRule.objects.count() == before
    # The page can save exactly what was previewed.
    assert 'name="patterns" value="pinlimiet"' in content
    assert f'action="{reverse("admin:sources_engagementrule_add")}"' in content


def test_the_dry_run_request_itself_tries_no_pattern_on_mentions(
    monkeypatch, django_capture_on_commit_callbacks
):
    web, _ = browser("spokesperson")
    MentionFactory(text=QUESTION)
    decided = []
    real_decide = sources.triage.services.dry_run.decide

    def counting_decide(*args, **kwargs):
        decided.append(args)
        return real_decide(*args, **kwargs)

    monkeypatch.setattr(sources.triage.services.dry_run, "decide", counting_decide)

    with django_capture_on_commit_callbacks() as callbacks:
        response = web.post(
            reverse("admin:sources_engagementrule_dry_run_add"), rule_form()
        )

    assert response.status_code == 302
    assert decided == []
    dry_run = RuleDryRun.objects.get()
    assert (dry_run.status, dry_run.started_by.username) == (
        "queued",
        "staff-spokesperson",
    )
    page = web.get(response.url).content.decode()
    assert 'http-equiv="refresh"' in page
    assert "Waiting for a worker" in page
    for callback in callbacks:
        callback()
    assert decided
    dry_run.refresh_from_db()
    assert dry_run.status == "done"


def test_the_dry_run_page_shows_progress_while_it_runs():
    web, user = browser("spokesperson")
    dry_run = RuleDryRun.objects.create(
        mode="edited",
        candidate={"name": "Limits"},
        status="running",
        total=500,
        done=150,
        started_by=user,
    )

    page = web.get(
        reverse("admin:sources_engagementrule_dry_run_result", args=[dry_run.pk])
    ).content.decode()

    assert "150 of 500 mentions tried (30%)" in page
    assert 'http-equiv="refresh"' in page


def test_the_dry_run_of_edits_to_a_stored_rule_leaves_it_unchanged(
    django_capture_on_commit_callbacks,
):
    web, _ = browser("spokesperson")
    MentionFactory(text=QUESTION)
    rule = EngagementRule.objects.get(name="Question")

    content = run_in_background(
        web,
        reverse("admin:sources_engagementrule_dry_run", args=[rule.pk]),
        rule_form(name="Question", position="50", outcome="ignore", patterns=""),
        django_capture_on_commit_callbacks,
    )

    assert "engage -&gt; ignore" in content
    rule.refresh_from_db()
    assert rule.outcome == "engage"


def test_the_dry_run_page_shows_form_errors_for_a_bad_regex():
    web, _ = browser("spokesperson")

    response = web.post(
        reverse("admin:sources_engagementrule_dry_run_add"),
        rule_form(patterns="re:[unclosed"),
    )

    assert response.status_code == 200
    assert "invalid regular expression" in response.content.decode()
    assert not RuleDryRun.objects.exists()


def test_the_dry_run_names_a_broken_stored_rule_instead_of_failing(
    django_capture_on_commit_callbacks,
):
    # A stored rule the engine refuses today (e.g. saved before a check got
    # stricter) stops triage; its dry runs say which rule to fix.
    web, _ = browser("spokesperson")
    MentionFactory(text=OTHER)
    EngagementRule.objects.create(
        name="Broken", position=1, patterns="re:(x+)+y", outcome="ignore"
    )
    other = EngagementRule.objects.get(name="Phishing report")

    previewed = run_in_background(
        web,
        reverse("admin:sources_engagementrule_dry_run", args=[other.pk]),
        {"_switch": "1"},
        django_capture_on_commit_callbacks,
    )
    edited = run_in_background(
        web,
        reverse("admin:sources_engagementrule_dry_run_add"),
        rule_form(),
        django_capture_on_commit_callbacks,
    )

    for content in (previewed, edited):
        assert "Rule 1. Broken cannot be used" in content
    assert not EngagementRule.objects.filter(name="Limits: check first").exists()


def test_previewing_an_inactive_rule_before_switching_it_on(
    django_capture_on_commit_callbacks,
):
    web, _ = browser("spokesperson")
    MentionFactory(text=HOSTILE_OTHER)
    rule = EngagementRule.objects.create(
        name="Sponsoring news",
        position=85,
        patterns="sponsort",
        outcome="ignore",
        is_active=False,
    )
    url = reverse("admin:sources_engagementrule_dry_run", args=[rule.pk])

    start_page = web.get(url).content.decode()
    assert not RuleDryRun.objects.exists()  # a GET only asks
    content = run_in_background(
        web, url, {"_switch": "1"}, django_capture_on_commit_callbacks
    )

    assert "if it were switched on" in start_page
    assert "if it were switched on" in content
    assert "review -&gt; ignore" in content
    # Mention text is hostile: shown escaped only.
    assert "<script>x()</script>" not in content
    assert "&lt;script&gt;x()&lt;/script&gt;" in content


def test_an_agent_cannot_post_a_dry_run():
    web, _ = browser("agent")

    response = web.post(
        reverse("admin:sources_engagementrule_dry_run_add"), rule_form()
    )

    assert response.status_code == 403


# --- Review queue --------------------------------------------------------------------


def review_items(count: int) -> list[Mention]:
    mentions = [MentionFactory(text=OTHER) for _ in range(count)]
    for mention in mentions:
        mention_triage(mention=mention)
    return mentions


def test_the_review_queue_lists_only_doubtful_mentions_oldest_first():
    web, _ = browser("spokesperson")
    newer, older = review_items(2)
    Mention.objects.filter(pk=older.pk).update(
        first_seen_at=newer.first_seen_at.replace(year=2020)
    )
    engaged = MentionFactory(text=QUESTION)
    mention_triage(mention=engaged)

    response = web.get(reverse("admin:sources_reviewmention_changelist"))

    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert listed == [older, newer]


def test_engaging_review_items_with_the_action_opens_cases():
    web, reviewer = browser("spokesperson")
    first, second = review_items(2)

    response = web.post(
        reverse("admin:sources_reviewmention_changelist"),
        {
            "action": "engage_selected",
            "_selected_action": [first.pk, second.pk],
            "note": "sponsor asks",
        },
    )

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.triage_status == TriageStatus.REVIEWED
    assert first.reviewed_by == reviewer
    assert (
        first.triage_reason == f"reviewed by {reviewer.username}: engage (sponsor asks)"
    )
    assert first.case is not None
    assert Case.objects.count() == 2


def test_ignoring_review_items_with_the_action_keeps_them_visible():
    web, _ = browser("spokesperson")
    (item,) = review_items(1)

    web.post(
        reverse("admin:sources_reviewmention_changelist"),
        {"action": "ignore_selected", "_selected_action": [item.pk]},
    )

    item.refresh_from_db()
    assert item.triage_status == TriageStatus.REVIEWED
    assert item.outcome == "ignore"
    assert not Case.objects.exists()
    assert Mention.objects.filter(pk=item.pk).exists()


def test_settling_from_the_review_page():
    web, _ = browser("spokesperson")
    (item,) = review_items(1)
    change_url = reverse("admin:sources_reviewmention_change", args=[item.pk])
    settle_url = reverse("admin:sources_reviewmention_settle", args=[item.pk])

    page = web.get(change_url)
    assert page.status_code == 200
    assert f'formaction="{settle_url}"' in page.content.decode()
    assert "no rule matched" in page.content.decode()

    response = web.post(settle_url, {"outcome": "engage", "note": "ok"})

    assert response.status_code == 302
    item.refresh_from_db()
    assert item.triage_status == TriageStatus.REVIEWED
    assert item.case is not None


def test_an_agent_cannot_see_the_review_queue():
    web, _ = browser("agent")
    (item,) = review_items(1)

    assert web.get(reverse("admin:sources_reviewmention_changelist")).status_code == 403
    response = web.post(
        reverse("admin:sources_reviewmention_settle", args=[item.pk]),
        {"outcome": "engage"},
    )
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.triage_status == TriageStatus.REVIEW


# --- Re-runs and explanations --------------------------------------------------------


def test_re_running_triage_from_the_admin(django_capture_on_commit_callbacks):
    web, user = browser("spokesperson")
    review_items(3)
    EngagementRule.objects.create(
        name="Sponsoring news", position=85, patterns="sponsort", outcome="ignore"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = web.post(
            reverse("admin:sources_triagerun_add"),
            {"scope": "review", "batch_size": "2"},
        )

    assert response.status_code == 302
    run = TriageRun.objects.get()
    assert (run.status, run.done, run.total, run.started_by) == ("done", 3, 3, user)
    page = web.get(reverse("admin:sources_triagerun_changelist"))
    assert "3/3 (100%)" in page.content.decode()
    assert "ignored 3" in page.content.decode()


@pytest.mark.parametrize("batch_size", ["0", "5001", "99999999999"])
def test_a_re_run_with_a_batch_size_out_of_bounds_is_a_form_error(batch_size):
    web, _ = browser("spokesperson")

    response = web.post(
        reverse("admin:sources_triagerun_add"),
        {"scope": "review", "batch_size": batch_size},
    )

    assert response.status_code == 200
    assert "batch_size" in response.context["adminform"].form.errors
    assert not TriageRun.objects.exists()


def test_the_explanation_is_escaped():
    mention = MentionFactory(text=HOSTILE_OTHER)
    mention_triage(mention=mention)
    mention.refresh_from_db()
    mention.triage_signals["decision"]["explanation"].append("<img src=x onerror=y>")

    html = triage_explanation_html(mention)

    assert "<img" not in html
    assert "&lt;img src=x onerror=y&gt;" in html
    assert "no rule (review fallback)" in html
    assert "Classifier signals" in html


def test_the_explanation_of_an_untriaged_mention():
    assert "Not triaged yet." in triage_explanation_html(MentionFactory())
