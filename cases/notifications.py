"""Notices to the team, departments and owners, through the one outbox.

Each function is called inside the transaction of the claim a service made (a
breach flag, a reminder claim): it writes the notice (webcare.notices), which is
sent after commit and retried until delivered. It never decides *whether* to
notify. Plain text only: case subjects and mentions are written by strangers, so
nothing here is ever rendered as HTML.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, Commitment, Escalation, Team
from webcare.notices.models import Notice, NoticeKind
from webcare.notices.services import notice_queue, one_line


def _target_label(target: str) -> str:
    return {
        "first_response": _("first response"),
        "resolution": _("resolution"),
        "escalation_acknowledgement": _("escalation acknowledgement"),
        "commitment": _("commitment"),
    }[target]


def case_link(case_id: int) -> str:
    return f"{settings.SITE_URL}/admin/cases/case/{case_id}/change/"


def local(moment) -> str:
    if moment is None:
        return "-"
    return timezone.localtime(moment).strftime("%a %d %b %Y %H:%M %Z")


def team_address(team: Team | None) -> str:
    return (team.email if team else "") or settings.WEBCARE_TEAM_EMAIL


def escalation_notify(*, escalation_id: int) -> Notice | None:
    """Tell the department's mailbox that a case was escalated to it."""
    escalation = (
        Escalation.objects.select_related("case", "requested_by")
        .filter(pk=escalation_id)
        .first()
    )
    if escalation is None:
        return None
    case = escalation.case
    department = escalation.get_department_display()
    address = settings.WEBCARE_DEPARTMENT_EMAILS.get(escalation.department, "")
    first_mention = case.mentions.order_by("published_at", "id").first()
    lines = [
        _("Case #%(case)s was escalated to %(department)s.")
        % {"case": case.pk, "department": department},
        "",
        _("Subject:  %(subject)s") % {"subject": one_line(case.subject, 300)},
        _("Priority: %(priority)s") % {"priority": case.get_priority_display()},
        _("Channel:  %(channel)s") % {"channel": case.get_channel_display() or "-"},
        _("By:       %(who)s")
        % {"who": escalation.requested_by or _("the webcare team")},
        _("Please acknowledge by: %(due)s")
        % {"due": local(escalation.acknowledgement_due_at)},
        "",
        _("Reason:"),
        escalation.reason,
    ]
    if first_mention is not None:
        lines += [
            "",
            _("What the customer wrote (quoted as posted):"),
            *(f"> {line}" for line in first_mention.text[:2000].splitlines()),
            first_mention.url or "",
        ]
    lines += ["", _("Open the case: %(link)s") % {"link": case_link(case.pk)}]
    return notice_queue(
        kind=NoticeKind.ESCALATION,
        about=f"escalation:{escalation.pk}",
        subject=_("[webcare] Escalation to %(department)s: case #%(case)s %(subject)s")
        % {
            "department": department,
            "case": case.pk,
            "subject": one_line(case.subject, 60),
        },
        body="\n".join(lines),
        recipients=[address],
    )


@transaction.atomic
def escalation_notify_once(*, escalation_id: int) -> Notice | None:
    """The escalation's notice, recorded once however often its task runs.

    For the task the escalation service queues after commit; the escalation row is
    locked briefly (no network) so two deliveries of that task record one notice.
    """
    if not Escalation.objects.select_for_update().filter(pk=escalation_id).exists():
        return None
    recorded = Notice.objects.filter(
        kind=NoticeKind.ESCALATION, about=f"escalation:{escalation_id}"
    ).first()
    return recorded or escalation_notify(escalation_id=escalation_id)


def target_digest_notify(
    *,
    team_id: int | None,
    warnings: list[tuple[int, str]],
    breaches: list[tuple[int, str]],
    escalation_ids: list[int],
) -> Notice | None:
    """One notice to the team with what this run flagged."""
    team = Team.objects.filter(pk=team_id).first() if team_id else None
    case_ids = {case_id for case_id, _target in warnings + breaches}
    cases = Case.objects.select_related("assignee").in_bulk(case_ids)
    escalations = Escalation.objects.select_related("case").in_bulk(escalation_ids)

    def describe(case_id: int, target: str, verb: str) -> str:
        case = cases.get(case_id)
        if case is None:
            return f"- case #{case_id}: {_target_label(target)} {verb}"
        due = getattr(case, f"{target}_due_at")
        who = case.assignee.get_username() if case.assignee else _("unassigned")
        return (
            f"- #{case.pk} [{case.get_priority_display()}] "
            f"{one_line(case.subject, 70)}: {_target_label(target)} {verb} "
            f"({_('due')} {local(due)}; {who})\n  {case_link(case.pk)}"
        )

    sections = []
    if breaches:
        sections.append(
            _("Breached:")
            + "\n"
            + "\n".join(
                describe(case_id, target, _("breached")) for case_id, target in breaches
            )
        )
    if warnings:
        sections.append(
            _("About to breach:")
            + "\n"
            + "\n".join(
                describe(case_id, target, _("due soon")) for case_id, target in warnings
            )
        )
    if escalation_ids:
        sections.append(
            _("Escalations not acknowledged in time:")
            + "\n"
            + "\n".join(
                f"- {escalation.get_department_display()} "
                + _("for case #%(case)s %(subject)s (due %(due)s)")
                % {
                    "case": escalation.case_id,
                    "subject": one_line(escalation.case.subject, 60),
                    "due": local(escalation.acknowledgement_due_at),
                }
                + f"\n  {case_link(escalation.case_id)}"
                for escalation in escalations.values()
            )
        )
    if not sections:
        return None
    counts = []
    if breaches:
        counts.append(_("%(count)d breached") % {"count": len(breaches)})
    if warnings:
        counts.append(_("%(count)d about to breach") % {"count": len(warnings)})
    if escalation_ids:
        counts.append(_("%(count)d escalations late") % {"count": len(escalation_ids)})
    return notice_queue(
        kind=NoticeKind.TARGET_DIGEST,
        about=f"team:{team_id or '-'}",
        subject=_("[webcare] Targets: %(counts)s") % {"counts": ", ".join(counts)},
        body="\n\n".join(sections) + "\n",
        recipients=[team_address(team)],
    )


def _commitment(commitment_id: int) -> Commitment | None:
    return (
        Commitment.objects.select_related("case__team", "owner")
        .filter(pk=commitment_id)
        .first()
    )


def commitment_reminder_notify(*, commitment_id: int) -> Notice | None:
    """Remind the owner that a promise to a customer is due soon."""
    commitment = _commitment(commitment_id)
    if commitment is None:
        return None
    case = commitment.case
    return notice_queue(
        kind=NoticeKind.COMMITMENT_REMINDER,
        about=f"commitment:{commitment.pk}",
        subject=_("[webcare] Reminder: %(promise)s (due %(time)s)")
        % {
            "promise": one_line(commitment.description, 60),
            "time": f"{timezone.localtime(commitment.due_at):%H:%M}",
        },
        body="\n".join(
            [
                _("You promised a customer (afspraak = afspraak):"),
                f"  {commitment.description}",
                _("Due: %(due)s") % {"due": local(commitment.due_at)},
                _("Case #%(case)s: %(subject)s")
                % {"case": case.pk, "subject": one_line(case.subject, 300)},
                case_link(case.pk),
            ]
        ),
        recipients=[commitment.owner.email],
    )


def commitment_overdue_notify(*, commitment_id: int) -> Notice | None:
    """Tell the owner and the team that a promise is overdue."""
    commitment = _commitment(commitment_id)
    if commitment is None:
        return None
    case = commitment.case
    return notice_queue(
        kind=NoticeKind.COMMITMENT_OVERDUE,
        about=f"commitment:{commitment.pk}",
        subject=_("[webcare] Overdue commitment on case #%(case)s: %(promise)s")
        % {"case": case.pk, "promise": one_line(commitment.description, 60)},
        body="\n".join(
            [
                _("A promise to a customer is overdue (afspraak = afspraak):"),
                f"  {commitment.description}",
                _("Was due: %(due)s") % {"due": local(commitment.due_at)},
                _("Owner: %(owner)s")
                % {"owner": commitment.owner.get_full_name() or commitment.owner},
                _("Case #%(case)s: %(subject)s")
                % {"case": case.pk, "subject": one_line(case.subject, 300)},
                case_link(case.pk),
            ]
        ),
        recipients=[commitment.owner.email, team_address(case.team)],
    )
