"""A case's status: opening, joining, waiting, resolving, reopening, closing, merging."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from cases import events
from cases.models import ACTIVE_STATUSES, Case, CaseStatus, CloseReason, Team
from cases.services.common import (
    CaseError,
    InvalidTransition,
    _actor_id,
    _check_permission,
    _compute_targets,
    _default_team,
    _lock,
    _open_escalations_message,
    _refresh_next_due,
    _refresh_reach,
    _refuse_with_open_work,
    _set_status,
    _transition_error,
)
from sources.models import Mention, Priority
from webcare import bus

# --- Opening and joining -----------------------------------------------------------


@transaction.atomic
def case_open(
    *,
    subject: str,
    customer=None,
    priority: str = Priority.NORMAL,
    category: str = "",
    channel: str = "",
    team: Team | None = None,
    crm_customer_id: str = "",
    conversation_key: str = "",
    mention: Mention | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Case:
    """Open a new case, optionally from the mention that started it."""
    _check_permission(actor, "add_case")
    subject = " ".join((subject or "").split())
    if not subject:
        raise CaseError("A case needs a subject.")
    if priority not in Priority.values:
        raise CaseError(f"Unknown priority {priority!r}.")
    if mention is not None:
        mention = Mention.objects.select_for_update().get(pk=mention.pk)
        if mention.case_id is not None:
            raise CaseError(
                f"This mention already belongs to case #{mention.case_id}; add it "
                "there instead."
            )
        customer = customer or mention.author
        channel = channel or mention.source.kind
        conversation_key = conversation_key or mention.conversation_key
        category = category or mention.category
    now = timezone.now()
    case = Case(
        subject=subject[:300],
        customer=customer,
        priority=priority,
        category=category,
        channel=channel,
        team=team or _default_team(),
        crm_customer_id=crm_customer_id
        or (customer.crm_customer_id if customer else ""),
        conversation_key=conversation_key,
        created_at=now,
    )
    _compute_targets(case, now=now, reset_resolution=False)
    _refresh_next_due(case)
    case.save()
    events.case_created_event(case=case, actor=actor, actor_label=actor_label)
    if mention is not None:
        Mention.objects.filter(pk=mention.pk).update(case=case)
        events.case_mention_added_event(
            case=case, mention_id=mention.pk, actor=actor, actor_label=actor_label
        )
        _refresh_reach(case)
        case.save(update_fields=["reach"])
    bus.publish(
        bus.CaseOpened(
            case_id=case.pk, actor_id=_actor_id(actor), actor_label=actor_label
        )
    )
    return case


@transaction.atomic
def case_add_mention(
    *, case: Case, mention: Mention, actor=None, actor_label: str = ""
) -> Case:
    """A mention of the same dialogue joins the case.

    A customer's answer puts a waiting case back in the queue; a mention on a
    resolved case is recorded as a follow-up for the team to look at. A merged
    case passes the mention on to the case it was merged into.
    """
    _check_permission(actor, "change_case")
    case = _lock(case)
    while case.merged_into_id:
        case = Case.objects.select_for_update().get(pk=case.merged_into_id)
    mention = Mention.objects.select_for_update().get(pk=mention.pk)
    if mention.case_id == case.pk:
        return case
    if mention.case_id is not None:
        raise CaseError(
            f"This mention already belongs to case #{mention.case_id}; merge the "
            "cases instead."
        )
    if case.status == CaseStatus.CLOSED:
        raise InvalidTransition(
            f"Case #{case.pk} is closed; open a new case for this mention or reopen "
            "it first."
        )
    now = timezone.now()
    Mention.objects.filter(pk=mention.pk).update(case=case)
    events.case_mention_added_event(
        case=case, mention_id=mention.pk, actor=actor, actor_label=actor_label
    )
    if case.status == CaseStatus.WAITING:
        _set_status(
            case,
            CaseStatus.OPEN,
            now=now,
            actor=actor,
            actor_label=actor_label,
            reason="customer answered",
        )
    elif case.status == CaseStatus.RESOLVED:
        events.case_follow_up_event(
            case=case, mention_id=mention.pk, actor=actor, actor_label=actor_label
        )
    if not case.customer_id and mention.author_id:
        case.customer_id = mention.author_id
    _refresh_reach(case)
    _refresh_next_due(case)
    case.save()
    return case


# --- Changing a case ---------------------------------------------------------------


@transaction.atomic
def case_wait_for_customer(*, case: Case, actor=None, actor_label: str = "") -> Case:
    """The team waits for the customer's answer; the resolution clock stops."""
    _check_permission(actor, "change_case")
    case = _lock(case)
    now = timezone.now()
    _set_status(case, CaseStatus.WAITING, now=now, actor=actor, actor_label=actor_label)
    _refresh_next_due(case)
    case.save()
    return case


# --- Resolving, closing, reopening, merging ----------------------------------------


@transaction.atomic
def case_resolve(*, case: Case, actor=None, actor_label: str = "") -> Case:
    """The customer has been helped. Publishes CaseResolved: reporting schedules the
    NPS survey (applying its exclusions)."""
    _check_permission(actor, "resolve_case")
    case = _lock(case)
    if not case.can_move_to(CaseStatus.RESOLVED):
        raise _transition_error(case, CaseStatus.RESOLVED)
    _refuse_with_open_work(case, "resolved")
    now = timezone.now()
    _set_status(
        case, CaseStatus.RESOLVED, now=now, actor=actor, actor_label=actor_label
    )
    case.resolved_at = now
    _refresh_next_due(case)
    case.save()
    bus.publish(
        bus.CaseResolved(
            case_id=case.pk, actor_id=_actor_id(actor), actor_label=actor_label
        )
    )
    return case


@transaction.atomic
def case_reopen(
    *, case: Case, reason: str = "", actor=None, actor_label: str = ""
) -> Case:
    """A resolved or closed case needs work again: a fresh resolution target from
    now. Publishes CaseReopened: reporting cancels a survey not yet sent."""
    _check_permission(actor, "resolve_case")
    case = _lock(case)
    if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        raise InvalidTransition(
            f"Only a resolved or closed case can be reopened; case #{case.pk} is "
            f"{case.get_status_display().lower()}."
        )
    if case.merged_into_id:
        raise _transition_error(case, CaseStatus.OPEN)
    now = timezone.now()
    _set_status(
        case,
        CaseStatus.OPEN,
        now=now,
        actor=actor,
        actor_label=actor_label,
        reason=(reason or "").strip(),
    )
    case.resolved_at = case.closed_at = None
    case.close_reason = ""
    _compute_targets(case, now=now, reset_resolution=True)
    _refresh_next_due(case)
    case.save()
    bus.publish(
        bus.CaseReopened(
            case_id=case.pk, actor_id=_actor_id(actor), actor_label=actor_label
        )
    )
    return case


@transaction.atomic
def case_close(*, case: Case, reason: str, actor=None, actor_label: str = "") -> Case:
    """Close for good, with a reason. Publishes CaseClosed: spam, abuse and
    non-customers get no survey."""
    _check_permission(actor, "resolve_case")
    if reason not in CloseReason.values:
        raise CaseError(f"Unknown close reason {reason!r}.")
    if reason == CloseReason.DUPLICATE:
        raise CaseError("A duplicate is closed by merging it into the other case.")
    case = _lock(case)
    if not case.can_move_to(CaseStatus.CLOSED):
        raise _transition_error(case, CaseStatus.CLOSED)
    _refuse_with_open_work(case, "closed")
    now = timezone.now()
    _set_status(
        case,
        CaseStatus.CLOSED,
        now=now,
        actor=actor,
        actor_label=actor_label,
        reason=reason,
    )
    case.closed_at = now
    case.close_reason = reason
    _refresh_next_due(case)
    case.save()
    bus.publish(
        bus.CaseClosed(
            case_id=case.pk,
            reason=reason,
            actor_id=_actor_id(actor),
            actor_label=actor_label,
        )
    )
    return case


@transaction.atomic
def case_merge(
    *, duplicate: Case, into: Case, actor=None, actor_label: str = ""
) -> Case:
    """Close `duplicate` into `into`: its mentions, topics and open commitments move;
    its replies, notes and events stay on it as its history. Returns `into`."""
    _check_permission(actor, "merge_case")
    if duplicate.pk == into.pk:
        raise CaseError("A case cannot be merged into itself.")
    # Lock in id order so that two merges of the same pair cannot deadlock.
    first, second = sorted((duplicate.pk, into.pk))
    locked = {
        c.pk: c
        for c in Case.objects.select_for_update()
        .filter(pk__in=(first, second))
        .order_by("pk")
    }
    duplicate, into = locked[duplicate.pk], locked[into.pk]
    if duplicate.status == CaseStatus.CLOSED:
        raise InvalidTransition(
            f"Case #{duplicate.pk} is already closed"
            + (
                f" (merged into #{duplicate.merged_into_id})"
                if duplicate.merged_into_id
                else ""
            )
            + "; reopen it first."
        )
    if into.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"Case #{into.pk} is {into.get_status_display().lower()}; reopen it "
            "before merging a case into it."
        )
    if message := _open_escalations_message(duplicate, "merged"):
        raise CaseError(message)
    now = timezone.now()
    Mention.objects.filter(case=duplicate).update(case=into)
    duplicate.commitments.open().update(case=into)
    into.topics.add(*duplicate.topics.all())
    if duplicate.is_structural and not into.is_structural:
        into.is_structural = True
        into.structural_note = into.structural_note or duplicate.structural_note
    if into.first_response_at is None and duplicate.first_response_at is not None:
        into.first_response_at = duplicate.first_response_at
    _set_status(
        duplicate,
        CaseStatus.CLOSED,
        now=now,
        actor=actor,
        actor_label=actor_label,
        reason=CloseReason.DUPLICATE,
    )
    duplicate.closed_at = now
    duplicate.close_reason = CloseReason.DUPLICATE
    duplicate.merged_into = into
    duplicate.reach = 0
    _refresh_next_due(duplicate)
    duplicate.save()
    for case in (duplicate, into):
        events.case_merged_event(
            case=case,
            duplicate_id=duplicate.pk,
            into_id=into.pk,
            actor=actor,
            actor_label=actor_label,
        )
    _refresh_reach(into)
    _refresh_next_due(into)
    into.save()
    bus.publish(
        bus.CaseMerged(
            case_id=duplicate.pk,
            into_id=into.pk,
            actor_id=_actor_id(actor),
            actor_label=actor_label,
        )
    )
    return into
