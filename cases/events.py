"""One small function per audit event: the case's trail of what happened, by whom.

Services call these inside their transaction, so an event exists exactly when the
change it describes was committed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from cases.models import Case, CaseEvent, Commitment, Escalation, EventKind, Reply


def case_event(
    *,
    case: Case | int,
    kind: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    **data: Any,
) -> CaseEvent:
    """One audit row; the typed functions below, and other apps, go through it."""
    return CaseEvent.objects.create(
        case_id=case if isinstance(case, int) else case.pk,
        kind=kind,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label,
        data=data,
        # Explicit, not the field default: the trail and the services share one clock.
        created_at=timezone.now(),
    )


def case_created_event(*, case: Case, actor=None, actor_label="") -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.CREATED,
        actor=actor,
        actor_label=actor_label,
        priority=case.priority,
        channel=case.channel,
        team_id=case.team_id,
    )


def case_status_changed_event(
    *, case: Case, old: str, new: str, reason: str = "", actor=None, actor_label=""
) -> CaseEvent:
    data = {"from": old, "to": new}
    if reason:
        data["reason"] = reason
    return case_event(
        case=case,
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        actor_label=actor_label,
        **data,
    )


def case_assigned_event(
    *,
    case: Case,
    old_id: int | None,
    automatic: bool = False,
    actor=None,
    actor_label="",
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.ASSIGNED,
        actor=actor,
        actor_label=actor_label,
        **{"from": old_id, "to": case.assignee_id, "automatic": automatic},
    )


def case_mention_added_event(
    *, case: Case, mention_id: int, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.MENTION_ADDED,
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
    )


def case_follow_up_event(
    *, case: Case, mention_id: int, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.FOLLOW_UP,
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
    )


def case_replied_event(
    *, reply: Reply, first_response: bool, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=reply.case,
        kind=EventKind.REPLIED,
        actor=actor,
        actor_label=actor_label,
        reply_id=reply.pk,
        agent_id=reply.agent_id,
        channel=reply.channel,
        is_private=reply.is_private,
        signature=reply.signature,
        first_response=first_response,
    )


def case_note_added_event(
    *, case: Case, note_id: int, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.NOTE_ADDED,
        actor=actor,
        actor_label=actor_label,
        note_id=note_id,
    )


def case_escalated_event(
    *, escalation: Escalation, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=escalation.case,
        kind=EventKind.ESCALATED,
        actor=actor,
        actor_label=actor_label,
        escalation_id=escalation.pk,
        department=escalation.department,
        reason=escalation.reason,
    )


def escalation_acknowledged_event(
    *, escalation: Escalation, note: str = "", actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=escalation.case,
        kind=EventKind.ESCALATION_ACKNOWLEDGED,
        actor=actor,
        actor_label=actor_label,
        escalation_id=escalation.pk,
        department=escalation.department,
        note=note,
    )


def escalation_resolved_event(
    *, escalation: Escalation, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=escalation.case,
        kind=EventKind.ESCALATION_RESOLVED,
        actor=actor,
        actor_label=actor_label,
        escalation_id=escalation.pk,
        department=escalation.department,
        note=escalation.resolution_note,
    )


def commitment_event(
    *, commitment: Commitment, kind: str, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=commitment.case,
        kind=kind,
        actor=actor,
        actor_label=actor_label,
        commitment_id=commitment.pk,
        description=commitment.description,
        due_at=commitment.due_at.isoformat(),
        owner_id=commitment.owner_id,
    )


def case_updated_event(
    *, case: Case, changes: dict[str, list], actor=None, actor_label=""
) -> CaseEvent:
    """`changes` maps a field to [old, new] (JSON-friendly values)."""
    return case_event(
        case=case,
        kind=EventKind.UPDATED,
        actor=actor,
        actor_label=actor_label,
        changes=changes,
    )


def case_priority_changed_event(
    *, case: Case, old: str, new: str, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.PRIORITY_CHANGED,
        actor=actor,
        actor_label=actor_label,
        **{"from": old, "to": new},
    )


def case_merged_event(
    *, case: Case, duplicate_id: int, into_id: int, actor=None, actor_label=""
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.MERGED,
        actor=actor,
        actor_label=actor_label,
        duplicate_id=duplicate_id,
        into_id=into_id,
    )


def target_warning_event(
    *, case: Case, target: str, due_at, actor_label="", **data: Any
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.TARGET_WARNING,
        actor=None,
        actor_label=actor_label,
        target=target,
        due_at=due_at.isoformat(),
        **data,
    )


def target_breached_event(
    *, case: Case, target: str, due_at, actor_label="", **data: Any
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.TARGET_BREACHED,
        actor=None,
        actor_label=actor_label,
        target=target,
        due_at=due_at.isoformat(),
        **data,
    )


def mention_reattributed_event(
    *,
    case: Case | int,
    mention_id: int,
    old_author_id: int | None,
    new_author_id: int,
    reason: str,
    actor=None,
    actor_label="",
) -> CaseEvent:
    return case_event(
        case=case,
        kind=EventKind.MENTION_REATTRIBUTED,
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        **{"from": old_author_id, "to": new_author_id},
        reason=reason,
    )
