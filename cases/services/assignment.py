"""Giving cases to agents, by hand or automatically, and the agents' availability."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access, events
from cases.models import ACTIVE_STATUSES, Agent, Case, CaseEvent, CaseStatus, EventKind
from cases.services.common import (
    CaseError,
    CasePermissionDenied,
    InvalidTransition,
    _actor_id,
    _check_permission,
    _default_team,
    _lock,
    _name,
    _set_status,
)
from webcare import bus

# --- Assignment --------------------------------------------------------------------


def _check_take_over(case: Case, actor) -> None:
    """A colleague's case is taken or moved only by who may (cases/access.py)."""
    if access.may_take_over(actor, case):
        return
    raise CasePermissionDenied(
        _(
            "%(name)s may not take or move case #%(case)s: it is assigned to "
            "%(assignee)s. Ask them, the team lead or a manager."
        )
        % {"name": _name(actor), "case": case.pk, "assignee": _name(case.assignee)}
    )


def _assign(case: Case, assignee, *, now, actor, actor_label, automatic=False) -> Case:
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot be assigned; "
            "reopen it first."
        )
    if assignee is not None and (
        not assignee.is_active or not assignee.has_perm("cases.reply_case")
    ):
        raise CaseError(
            f"{_name(assignee)} cannot be assigned cases: only active team members "
            "who may reply can."
        )
    new_id = assignee.pk if assignee is not None else None
    if case.assignee_id == new_id:
        return case
    _check_take_over(case, actor)
    old_id = case.assignee_id
    case.assignee = assignee
    if assignee is not None and case.status == CaseStatus.NEW:
        _set_status(
            case, CaseStatus.OPEN, now=now, actor=actor, actor_label=actor_label
        )
    events.case_assigned_event(
        case=case,
        old_id=old_id,
        automatic=automatic,
        actor=actor,
        actor_label=actor_label,
    )
    case.save()
    if assignee is not None:
        bus.publish(
            bus.CaseAssigned(
                case_id=case.pk, actor_id=_actor_id(actor), actor_label=actor_label
            )
        )
    return case


@transaction.atomic
def case_assign(*, case: Case, assignee, actor=None, actor_label: str = "") -> Case:
    """Give the case to a team member ("assign to me": assignee=actor), or to nobody."""
    _check_permission(actor, "assign_case")
    case = _lock(case)
    return _assign(
        case, assignee, now=timezone.now(), actor=actor, actor_label=actor_label
    )


@transaction.atomic
def case_assign_automatically(*, case: Case, actor=None, actor_label: str = "") -> Case:
    """Assign to the available agent of the case's team with the fewest active cases.

    Ties go to the agent who has waited longest since an automatic assignment
    (then by id), so equal loads take turns.
    """
    _check_permission(actor, "assign_case")
    seen_assignee_id = case.assignee_id
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot be assigned; "
            "reopen it first."
        )
    if case.assignee_id != seen_assignee_id:
        # Assigned by someone else while we waited for the lock (a double click,
        # two staff at once): that answers this request too. Assigning again would
        # move the case on to the next agent.
        return case
    # Refused as such, before "nobody is available" could hide the refusal.
    _check_take_over(case, actor)
    team = case.team or _default_team()
    # Lock the team's agents so that two assignments at once see each other's load.
    list(Agent.objects.select_for_update().filter(team=team).values_list("pk"))
    candidates = (
        Agent.objects.filter(team=team, is_available=True, user__is_active=True)
        .exclude(user=case.assignee_id)
        .select_related("user")
        .annotate(
            load=Count(
                "user__assigned_cases",
                filter=Q(user__assigned_cases__status__in=ACTIVE_STATUSES),
            )
        )
        .order_by("load", "pk")
    )
    candidates = [
        agent for agent in candidates if agent.user.has_perm("cases.reply_case")
    ]
    if not candidates:
        raise CaseError(
            f"No available agent in team {team}; assign case #{case.pk} by hand."
        )
    lowest = candidates[0].load
    tied = [agent for agent in candidates if agent.load == lowest]
    if len(tied) > 1:
        last_given = _last_automatic_assignment([agent.user_id for agent in tied])
        tied.sort(
            key=lambda agent: (
                last_given.get(agent.user_id) is not None,
                last_given.get(agent.user_id) or timezone.now(),
                agent.pk,
            )
        )
    if case.team_id is None:
        case.team = team
    return _assign(
        case,
        tied[0].user,
        now=timezone.now(),
        actor=actor,
        actor_label=actor_label,
        automatic=True,
    )


def _last_automatic_assignment(user_ids: list[int]) -> dict[int, datetime]:
    """When each user last got a case automatically (within a week)."""
    rows = (
        CaseEvent.objects.filter(
            kind=EventKind.ASSIGNED,
            data__automatic=True,
            data__to__in=user_ids,
            created_at__gte=timezone.now() - timedelta(days=7),
        )
        .values("data__to")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    return {int(row["data__to"]): row["last"] for row in rows}


# --- Agents ------------------------------------------------------------------------


@transaction.atomic
def agent_set_availability(
    *, agent: Agent, is_available: bool, actor=None, actor_label: str = ""
) -> Agent:
    """Mark an agent available or away; agents may do so for themselves."""
    if (
        actor is not None
        and actor.pk != agent.user_id
        and (not actor.is_active or not actor.has_perm("cases.change_agent"))
    ):
        raise CasePermissionDenied(
            f"{_name(actor)} may not change another agent's availability."
        )
    Agent.objects.filter(pk=agent.pk).update(is_available=is_available)
    agent.is_available = is_available
    return agent
