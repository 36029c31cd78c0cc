"""Mail to the team, departments and owners. Plain text only: case subjects and
mentions are written by strangers, so nothing here is ever rendered as HTML.

Each function takes ids and is called after commit (by a task or `on_commit`),
once per claim made by a service; it never decides *whether* to notify.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from cases.models import Case, Commitment, Escalation, Team

logger = logging.getLogger(__name__)

TARGET_LABELS = {
    "first_response": "first response",
    "resolution": "resolution",
    "escalation_acknowledgement": "escalation acknowledgement",
    "commitment": "commitment",
}


def one_line(text: str, limit: int = 80) -> str:
    """Text safe for a mail header: no line breaks (header injection), bounded."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def case_link(case_id: int) -> str:
    return f"{settings.SITE_URL}/admin/cases/case/{case_id}/change/"


def local(moment) -> str:
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%a %d %b %Y %H:%M %Z")


def _send(subject: str, body: str, recipients: list[str]) -> int:
    recipients = [address for address in recipients if address]
    if not recipients:
        logger.warning("No recipient for %r; not sent", subject)
        return 0
    return send_mail(
        one_line(subject, 150),
        body,
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )


def team_address(team: Team | None) -> str:
    return (team.email if team else "") or settings.WEBCARE_TEAM_EMAIL


def send_escalation_notice(*, escalation_id: int) -> int:
    """Tell the department's mailbox that a case was escalated to it."""
    escalation = (
        Escalation.objects.select_related("case", "requested_by")
        .filter(pk=escalation_id)
        .first()
    )
    if escalation is None:
        return 0
    case = escalation.case
    address = settings.WEBCARE_DEPARTMENT_EMAILS.get(escalation.department, "")
    first_mention = case.mentions.order_by("published_at", "id").first()
    lines = [
        f"Case #{case.pk} was escalated to {escalation.get_department_display()}.",
        "",
        f"Subject:  {one_line(case.subject, 300)}",
        f"Priority: {case.get_priority_display()}",
        f"Channel:  {case.get_channel_display() or '-'}",
        f"By:       {escalation.requested_by or 'the webcare team'}",
        f"Please acknowledge by: {local(escalation.acknowledgement_due_at)}",
        "",
        "Reason:",
        escalation.reason,
    ]
    if first_mention is not None:
        lines += [
            "",
            "What the customer wrote (quoted as posted):",
            *(f"> {line}" for line in first_mention.text[:2000].splitlines()),
            first_mention.url or "",
        ]
    lines += ["", f"Open the case: {case_link(case.pk)}"]
    return _send(
        f"[webcare] Escalation to {escalation.get_department_display()}: case "
        f"#{case.pk} {one_line(case.subject, 60)}",
        "\n".join(lines),
        [address],
    )


def send_target_digest(
    *,
    team_id: int | None,
    warnings: list[tuple[int, str]],
    breaches: list[tuple[int, str]],
    escalation_ids: list[int],
) -> int:
    """One mail to the team with what this run flagged."""
    team = Team.objects.filter(pk=team_id).first() if team_id else None
    case_ids = {case_id for case_id, _ in warnings + breaches}
    cases = Case.objects.select_related("assignee").in_bulk(case_ids)
    escalations = Escalation.objects.select_related("case").in_bulk(escalation_ids)

    def describe(case_id: int, target: str, verb: str) -> str:
        case = cases.get(case_id)
        if case is None:
            return f"- case #{case_id}: {TARGET_LABELS[target]} {verb}"
        due = getattr(case, f"{target}_due_at")
        who = case.assignee.get_username() if case.assignee else "unassigned"
        return (
            f"- #{case.pk} [{case.get_priority_display()}] "
            f"{one_line(case.subject, 70)}: {TARGET_LABELS[target]} {verb} "
            f"(due {local(due)}; {who})\n  {case_link(case.pk)}"
        )

    sections = []
    if breaches:
        sections.append(
            "Breached:\n"
            + "\n".join(
                describe(case_id, target, "breached") for case_id, target in breaches
            )
        )
    if warnings:
        sections.append(
            "About to breach:\n"
            + "\n".join(
                describe(case_id, target, "due soon") for case_id, target in warnings
            )
        )
    if escalation_ids:
        sections.append(
            "Escalations not acknowledged in time:\n"
            + "\n".join(
                f"- {escalation.get_department_display()} for case "
                f"#{escalation.case_id} {one_line(escalation.case.subject, 60)} "
                f"(due {local(escalation.acknowledgement_due_at)})\n"
                f"  {case_link(escalation.case_id)}"
                for escalation in escalations.values()
            )
        )
    if not sections:
        return 0
    counts = []
    if breaches:
        counts.append(f"{len(breaches)} breached")
    if warnings:
        counts.append(f"{len(warnings)} about to breach")
    if escalation_ids:
        counts.append(f"{len(escalation_ids)} escalations late")
    return _send(
        f"[webcare] Targets: {', '.join(counts)}",
        "\n\n".join(sections) + "\n",
        [team_address(team)],
    )


def _commitment(commitment_id: int) -> Commitment | None:
    return (
        Commitment.objects.select_related("case__team", "owner")
        .filter(pk=commitment_id)
        .first()
    )


def send_commitment_reminder(*, commitment_id: int) -> int:
    """Remind the owner that a promise to a customer is due soon."""
    commitment = _commitment(commitment_id)
    if commitment is None:
        return 0
    case = commitment.case
    return _send(
        f"[webcare] Reminder: {one_line(commitment.description, 60)} "
        f"(due {timezone.localtime(commitment.due_at):%H:%M})",
        "\n".join(
            [
                "You promised a customer (afspraak = afspraak):",
                f"  {commitment.description}",
                f"Due: {local(commitment.due_at)}",
                f"Case #{case.pk}: {one_line(case.subject, 300)}",
                case_link(case.pk),
            ]
        ),
        [commitment.owner.email],
    )


def send_commitment_overdue(*, commitment_id: int) -> int:
    """Tell the owner and the team that a promise is overdue."""
    commitment = _commitment(commitment_id)
    if commitment is None:
        return 0
    case = commitment.case
    return _send(
        f"[webcare] Overdue commitment on case #{case.pk}: "
        f"{one_line(commitment.description, 60)}",
        "\n".join(
            [
                "A promise to a customer is overdue (afspraak = afspraak):",
                f"  {commitment.description}",
                f"Was due: {local(commitment.due_at)}",
                f"Owner: {commitment.owner.get_full_name() or commitment.owner}",
                f"Case #{case.pk}: {one_line(case.subject, 300)}",
                case_link(case.pk),
            ]
        ),
        [commitment.owner.email, team_address(case.team)],
    )
