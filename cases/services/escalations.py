"""Escalating to a department, which acknowledges and resolves the escalation."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access, events, notifications
from cases.business_hours import add_business_time
from cases.models import Case, CaseStatus, Escalation, EscalationStatus
from cases.selectors import service_target_for, team_schedule
from cases.services.common import (
    CaseError,
    CasePermissionDenied,
    InvalidTransition,
    _actor_id,
    _check_permission,
    _lock,
    _name,
    _refresh_next_due,
    _set_status,
)
from sources.models import Department
from webcare import bus

# --- Escalations -------------------------------------------------------------------


@transaction.atomic
def case_escalate(
    *, case: Case, department: str, reason: str, actor=None, actor_label: str = ""
) -> Escalation:
    """Hand (part of) the case to a department, which is told by mail and the CRM
    by webhook. The department's acknowledgement has its own target."""
    _check_permission(actor, "escalate_case")
    if department not in Department.values:
        raise CaseError(f"Unknown department {department!r}.")
    reason = (reason or "").strip()
    if not reason:
        raise CaseError("Say why the case is escalated.")
    case = _lock(case)
    open_escalations = case.escalations.filter(department=department).exclude(
        status=EscalationStatus.RESOLVED
    )
    if open_escalations.exists():
        label = Department(department).label
        if actor is None and actor_label.startswith("api:"):
            visible = department not in access.restricted_departments()
        else:
            visible = access.escalations_visible_to(actor, open_escalations).exists()
        if not visible:
            # Someone who may not see a restricted escalation learns nothing of it.
            raise CaseError(
                _(
                    "Case #%(case)s cannot be escalated to %(department)s now; "
                    "ask the department."
                )
                % {"case": case.pk, "department": label}
            )
        raise CaseError(
            _("Case #%(case)s already has an open escalation to %(department)s.")
            % {"case": case.pk, "department": label}
        )
    now = timezone.now()
    if case.status != CaseStatus.ESCALATED:
        _set_status(
            case, CaseStatus.ESCALATED, now=now, actor=actor, actor_label=actor_label
        )
    target = service_target_for(priority=case.priority, channel=case.channel)
    escalation = Escalation.objects.create(
        case=case,
        department=department,
        reason=reason,
        requested_by=actor,
        requested_at=now,
        acknowledgement_due_at=add_business_time(
            team_schedule(case.team), now, target.escalation_acknowledgement
        )
        if target
        else None,
    )
    events.case_escalated_event(
        escalation=escalation, actor=actor, actor_label=actor_label
    )
    _refresh_next_due(case)
    case.save()
    bus.publish(
        bus.CaseEscalated(
            case_id=case.pk,
            escalation_id=escalation.pk,
            actor_id=_actor_id(actor),
            actor_label=actor_label,
        )
    )
    # The department's notice, in this transaction: the outbox sends it after commit.
    notifications.escalation_notify(escalation_id=escalation.pk)
    return escalation


def _lock_escalation(escalation: Escalation) -> Escalation:
    return (
        Escalation.objects.select_for_update()
        .select_related("case")
        .get(pk=escalation.pk)
    )


def _check_department(escalation: Escalation, actor, actor_label: str) -> None:
    """Only the department's members and managers acknowledge and resolve; API
    clients not in a restricted department (cases/access.py)."""
    if access.may_handle_escalation(actor, escalation, actor_label=actor_label):
        return
    department = escalation.get_department_display()
    if actor is None:
        raise CasePermissionDenied(
            _("API clients may not handle escalations to %(department)s.")
            % {"department": department}
        )
    raise CasePermissionDenied(
        _(
            "%(name)s may not handle escalations to %(department)s: only the "
            "department's members and managers may."
        )
        % {"name": _name(actor), "department": department}
    )


@transaction.atomic
def escalation_acknowledge(
    *, escalation: Escalation, actor=None, actor_label: str = "", note: str = ""
) -> Escalation:
    """The department has seen the escalation and takes it on."""
    _check_permission(actor, "change_escalation")
    escalation = _lock_escalation(escalation)
    _check_department(escalation, actor, actor_label)
    if escalation.status != EscalationStatus.OPEN:
        raise InvalidTransition(
            f"This escalation is already {escalation.get_status_display().lower()}."
        )
    escalation.status = EscalationStatus.ACKNOWLEDGED
    escalation.acknowledged_at = timezone.now()
    escalation.acknowledged_by = actor
    escalation.save()
    events.escalation_acknowledged_event(
        escalation=escalation,
        note=(note or "").strip(),
        actor=actor,
        actor_label=actor_label,
    )
    return escalation


@transaction.atomic
def escalation_resolve(
    *, escalation: Escalation, note: str, actor=None, actor_label: str = ""
) -> Escalation:
    """The department is done, with a note for the team. When no escalation of the
    case is left open, the case returns to the team's queue."""
    _check_permission(actor, "change_escalation")
    note = (note or "").strip()
    if not note:
        raise CaseError("Say how the escalation was resolved.")
    escalation = _lock_escalation(escalation)
    _check_department(escalation, actor, actor_label)
    case = _lock(escalation.case)
    if escalation.status == EscalationStatus.RESOLVED:
        raise InvalidTransition("This escalation is already resolved.")
    now = timezone.now()
    if escalation.acknowledged_at is None:
        escalation.acknowledged_at = now
        escalation.acknowledged_by = actor
    escalation.status = EscalationStatus.RESOLVED
    escalation.resolved_at = now
    escalation.resolved_by = actor
    escalation.resolution_note = note
    escalation.save()
    escalation.case = case
    events.escalation_resolved_event(
        escalation=escalation, actor=actor, actor_label=actor_label
    )
    still_open = case.escalations.exclude(status=EscalationStatus.RESOLVED).exists()
    if case.status == CaseStatus.ESCALATED and not still_open:
        _set_status(
            case,
            CaseStatus.OPEN,
            now=now,
            actor=actor,
            actor_label=actor_label,
            reason="escalations resolved",
        )
        _refresh_next_due(case)
        case.save()
    return escalation
