"""Every write on a case, in one place for the admin, the API and the tasks.

Each service is atomic, locks the case row, checks the state machine
(`cases.models.CASE_TRANSITIONS`) and the actor's permission, writes a CaseEvent and
enqueues mail and webhooks only after commit.

Actor convention: `actor` is the staff user doing it (permissions are checked);
`actor_label` names an API client ("api:<name>") or a task ("system:<task>"), whose
access the API layer or the scheduler has already decided.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases import events, notifications
from cases.business_hours import (
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
)
from cases.models import (
    ACTIVE_STATUSES,
    Agent,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    EventKind,
    Note,
    Reply,
    Team,
    Topic,
)
from cases.selectors import (
    service_target_for,
    service_targets_by_key,
    target_from,
    team_schedule,
)
from sources.models import REACH_EXPRESSION, Author, Department, Mention, Priority
from webcare import bus
from webcare.celery import enqueue_on_commit
from webcare.errors import ServiceError, ServicePermissionDenied, StateConflict

logger = logging.getLogger(__name__)


class CaseError(ServiceError):
    """A rule stopped the change; the message is meant for the user."""


class InvalidTransition(CaseError, StateConflict):
    pass


class CasePermissionDenied(CaseError, ServicePermissionDenied):
    pass


# --- Helpers -----------------------------------------------------------------------

_STATUS_VERBS = {
    CaseStatus.OPEN: "opened",
    CaseStatus.WAITING: "set to wait for the customer",
    CaseStatus.ESCALATED: "escalated",
    CaseStatus.RESOLVED: "resolved",
    CaseStatus.CLOSED: "closed",
}
_STATUS_HINTS = {
    CaseStatus.NEW: "; assign it or reply first",
    CaseStatus.RESOLVED: "; reopen it first",
    CaseStatus.CLOSED: "; reopen it first",
}
_PERMISSION_WORDS = {
    "add_case": "open cases",
    "change_case": "change cases",
    "assign_case": "assign cases",
    "reply_case": "reply to cases",
    "escalate_case": "escalate cases",
    "resolve_case": "resolve, close or reopen cases",
    "merge_case": "merge cases",
    "add_note": "add notes",
    "change_escalation": "acknowledge or resolve escalations",
    "add_commitment": "make commitments",
    "change_commitment": "keep or cancel commitments",
    "change_agent": "change agents",
}
UPDATABLE_FIELDS = frozenset(
    {
        "priority",
        "category",
        "subject",
        "topics",
        "is_structural",
        "structural_note",
        "crm_customer_id",
        "team",
    }
)
# Within this much business time of a due time a case is "about to breach"
# (a quarter of the target when that is shorter, so urgent cases are not
# flagged the moment they open).
WARNING_LEAD = timedelta(minutes=30)
COMMITMENT_REMINDER_LEAD = timedelta(minutes=30)
# Bounded batches: a rerun picks up the rest.
BATCH_SIZE = 500


def _name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def _check_permission(actor: AbstractBaseUser | None, codename: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(f"cases.{codename}"):
        raise CasePermissionDenied(
            f"{_name(actor)} may not {_PERMISSION_WORDS.get(codename, codename)}."
        )


def _lock(case: Case) -> Case:
    """The case's row, locked until the end of the transaction, as it is now."""
    return Case.objects.select_for_update().get(pk=case.pk)


def _transition_error(case: Case, new: str) -> InvalidTransition:
    if case.status == new:
        return InvalidTransition(
            f"Case #{case.pk} is already {case.get_status_display().lower()}."
        )
    if case.merged_into_id:
        return InvalidTransition(
            f"Case #{case.pk} was merged into case #{case.merged_into_id}; "
            "work on that case."
        )
    article = "An" if case.status in (CaseStatus.OPEN, CaseStatus.ESCALATED) else "A"
    label = case.get_status_display().lower()
    if case.status == CaseStatus.WAITING:
        label = "waiting"
    return InvalidTransition(
        f"{article} {label} case cannot be {_STATUS_VERBS[new]}"
        f"{_STATUS_HINTS.get(case.status, '')}."
    )


def _set_status(
    case: Case,
    new: str,
    *,
    now: datetime,
    actor,
    actor_label: str,
    reason: str = "",
) -> None:
    """Move a locked case along the state machine; the caller saves it."""
    if not case.can_move_to(new) or (case.merged_into_id and new != CaseStatus.CLOSED):
        raise _transition_error(case, new)
    old = case.status
    if old == CaseStatus.WAITING and new in ACTIVE_STATUSES:
        _resume_resolution_clock(case, now=now)
    case.status = new
    events.case_status_changed_event(
        case=case,
        old=old,
        new=new,
        reason=reason,
        actor=actor,
        actor_label=actor_label,
    )


def _resume_resolution_clock(case: Case, *, now: datetime) -> None:
    """The resolution clock stops while waiting on the customer: move the due time.

    The business time that was left when the wait began is left again now.
    """
    if case.resolution_due_at is None or case.resolution_breached_at is not None:
        return
    waiting_since = (
        case.events.filter(kind=EventKind.STATUS_CHANGED, data__to=CaseStatus.WAITING)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    if waiting_since is None or case.resolution_due_at <= waiting_since:
        return
    schedule = team_schedule(case.team)
    left = business_time_between(schedule, waiting_since, case.resolution_due_at)
    case.resolution_due_at = add_business_time(schedule, now, left)
    case.resolution_warned_at = None


def _refresh_next_due(case: Case) -> None:
    """`next_due_at`: the earliest due time still open, which sorts the queue."""
    candidates = []
    if case.status in ACTIVE_STATUSES:
        if case.first_response_at is None and case.first_response_due_at:
            candidates.append(case.first_response_due_at)
        # While waiting on the customer the resolution clock is stopped.
        if case.status != CaseStatus.WAITING and case.resolution_due_at:
            candidates.append(case.resolution_due_at)
        if case.pk:
            promise = (
                case.commitments.open()
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first()
            )
            if promise:
                candidates.append(promise)
    case.next_due_at = min(candidates) if candidates else None


def _compute_targets(case: Case, *, now: datetime, reset_resolution: bool) -> None:
    """Due times from the service target for the case's priority and channel.

    First response counts from when the case was opened; a reopened case gets a
    fresh resolution target from now. A later due time clears the notices so the
    team is told again about the new one.
    """
    target = service_target_for(priority=case.priority, channel=case.channel)
    if target is None:
        case.first_response_due_at = case.resolution_due_at = None
        return
    schedule = team_schedule(case.team)
    if case.first_response_at is None:
        due = add_business_time(schedule, case.created_at, target.first_response)
        if due != case.first_response_due_at:
            case.first_response_due_at = due
            if due > now:
                case.first_response_warned_at = case.first_response_breached_at = None
    start = now if reset_resolution else case.created_at
    due = add_business_time(schedule, start, target.resolution)
    if due != case.resolution_due_at:
        case.resolution_due_at = due
        if due > now:
            case.resolution_warned_at = case.resolution_breached_at = None


def _default_team() -> Team:
    team, _ = Team.objects.get_or_create(
        name=settings.WEBCARE_TEAM_NAME,
        defaults={"email": settings.WEBCARE_TEAM_EMAIL},
    )
    return team


def _actor_id(actor: AbstractBaseUser | None) -> int | None:
    return actor.pk if actor is not None else None


def _refresh_reach(case: Case) -> None:
    total = Mention.objects.filter(case=case).aggregate(
        total=Coalesce(Sum(REACH_EXPRESSION), 0)
    )["total"]
    case.reach = max(total, 0)


def _refuse_with_open_work(case: Case, verb: str) -> None:
    """A case is not finished while a department or a promise still owes something."""
    for message in (
        _open_escalations_message(case, verb),
        _open_commitments_message(case, verb),
    ):
        if message:
            raise CaseError(message)


def _open_escalations_message(case: Case, verb: str) -> str | None:
    open_departments = sorted(
        Department(department).label
        for department in case.escalations.exclude(
            status=EscalationStatus.RESOLVED
        ).values_list("department", flat=True)
    )
    if open_departments:
        return (
            f"Case #{case.pk} has open escalations ({', '.join(open_departments)}); "
            f"they must be resolved before the case is {verb}."
        )
    return None


def _open_commitments_message(case: Case, verb: str) -> str | None:
    promise = case.commitments.open().first()
    if promise:
        return (
            f"Case #{case.pk} has an open commitment ({promise.description}); keep or "
            f"cancel it before the case is {verb}."
        )
    return None


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


# --- Assignment --------------------------------------------------------------------


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
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot be assigned; "
            "reopen it first."
        )
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


# --- Changing a case ---------------------------------------------------------------


def _json_value(value):
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, Iterable) and not isinstance(value, str):
        return sorted(item.pk if hasattr(item, "pk") else item for item in value)
    return value


@transaction.atomic
def case_update(*, case: Case, actor=None, actor_label: str = "", **fields) -> Case:
    """Change what a case is about: priority, category, subject, topics, team,
    the structural-issue flag and note, the CRM customer id."""
    _check_permission(actor, "change_case")
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise CaseError(
            f"These fields cannot be changed here: {', '.join(sorted(unknown))}."
        )
    case = _lock(case)
    now = timezone.now()
    changes: dict[str, list] = {}
    if "topics" in fields:
        topics = list(fields.pop("topics") or [])
        topic_ids = sorted(t.pk if isinstance(t, Topic) else int(t) for t in topics)
        found = set(Topic.objects.filter(pk__in=topic_ids).values_list("pk", flat=True))
        if missing := set(topic_ids) - found:
            raise CaseError(f"Unknown topics: {sorted(missing)}.")
        old_ids = sorted(case.topics.values_list("pk", flat=True))
        if old_ids != topic_ids:
            case.topics.set(topic_ids)
            changes["topics"] = [old_ids, topic_ids]
    if "priority" in fields and fields["priority"] not in Priority.values:
        raise CaseError(f"Unknown priority {fields['priority']!r}.")
    if "subject" in fields:
        fields["subject"] = " ".join((fields["subject"] or "").split())[:300]
        if not fields["subject"]:
            raise CaseError("A case needs a subject.")
    for name, value in fields.items():
        old = getattr(case, name)
        if (old.pk if hasattr(old, "pk") else old) == (
            value.pk if hasattr(value, "pk") else value
        ):
            continue
        setattr(case, name, value)
        if name == "priority":
            events.case_priority_changed_event(
                case=case, old=old, new=value, actor=actor, actor_label=actor_label
            )
        else:
            changes[name] = [_json_value(old), _json_value(value)]
    if changes:
        events.case_updated_event(
            case=case, changes=changes, actor=actor, actor_label=actor_label
        )
    if case.status in ACTIVE_STATUSES and ({"priority", "team"} & set(fields)):
        _compute_targets(case, now=now, reset_resolution=False)
        _refresh_next_due(case)
    case.save()
    return case


# How many active cases of one author a link follows; more is not one customer.
MAX_LINKED_CASES = 100


def author_link_customer(
    *, author: Author, crm_customer_id: str, actor=None, actor_label: str = ""
) -> list[int]:
    """Link a social author to a CRM customer (or unlink with ""); the author's active
    cases that carried the old id (or none) follow, each through case_update so that
    every case's trail shows the change. Returns the ids of the cases changed."""
    with transaction.atomic():
        author = Author.objects.select_for_update().get(pk=author.pk)
        old = author.crm_customer_id
        author.crm_customer_id = crm_customer_id
        author.save(update_fields=["crm_customer_id", "updated_at"])
        cases = list(
            Case.objects.filter(
                customer=author,
                status__in=ACTIVE_STATUSES,
                crm_customer_id__in={old, ""} - {crm_customer_id},
            ).order_by("pk")[:MAX_LINKED_CASES]
        )
        for case in cases:
            case_update(
                case=case,
                crm_customer_id=crm_customer_id,
                actor=actor,
                actor_label=actor_label,
            )
    return [case.pk for case in cases]


@transaction.atomic
def case_reply(
    *,
    case: Case,
    agent,
    text: str,
    channel: str = "",
    in_reply_to: Mention | None = None,
    is_private: bool = False,
    actor=None,
    actor_label: str = "",
) -> Reply:
    """Record the team's answer, signed with the agent's first name.

    The first reply sets the case's first-response time; an unassigned case goes
    to the agent who answered. Posting it on the platform is the channel's job.
    """
    _check_permission(actor, "reply_case")
    if agent is None or not agent.is_active or not agent.has_perm("cases.reply_case"):
        who = _name(agent) if agent is not None else "Nobody"
        raise CasePermissionDenied(f"{who} may not reply to cases.")
    text = (text or "").strip()
    if not text:
        raise CaseError("A reply needs a text.")
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot be replied to; "
            "reopen it first."
        )
    if in_reply_to is not None:
        # The row, not the caller's copy: the mention may have joined the case since.
        in_reply_to = Mention.objects.select_related("source").get(pk=in_reply_to.pk)
        if in_reply_to.case_id != case.pk:
            raise CaseError("The reply must answer a mention of this case.")
    channel = (
        channel or case.channel or (in_reply_to.source.kind if in_reply_to else "")
    )
    if not channel:
        raise CaseError("Say on which channel the reply was sent.")
    now = timezone.now()
    agent_profile = Agent.objects.filter(user=agent).first()
    signature = (
        agent_profile.signature if agent_profile else agent.first_name
    ) or agent.get_username()
    reply = Reply.objects.create(
        case=case,
        agent=agent,
        in_reply_to=in_reply_to,
        channel=channel,
        is_private=is_private,
        text=text,
        signature=signature[:100],
        sent_at=now,
    )
    first = case.first_response_at is None
    if first:
        case.first_response_at = now
    acting = actor if actor is not None else (agent if not actor_label else None)
    if case.status == CaseStatus.NEW:
        _set_status(
            case, CaseStatus.OPEN, now=now, actor=acting, actor_label=actor_label
        )
    events.case_replied_event(
        reply=reply, first_response=first, actor=acting, actor_label=actor_label
    )
    if case.assignee_id is None:
        _assign(case, agent, now=now, actor=acting, actor_label=actor_label)
    _refresh_next_due(case)
    case.save()
    return reply


@transaction.atomic
def case_add_note(*, case: Case, author, text: str, actor_label: str = "") -> Note:
    """An internal note, never shown to the customer; allowed in any status."""
    if author is not None and (
        not author.is_active or not author.has_perm("cases.add_note")
    ):
        raise CasePermissionDenied(f"{_name(author)} may not add notes.")
    text = (text or "").strip()
    if not text:
        raise CaseError("A note needs a text.")
    case = _lock(case)
    note = Note.objects.create(
        case=case, author=author, text=text, created_at=timezone.now()
    )
    events.case_note_added_event(
        case=case, note_id=note.pk, actor=author, actor_label=actor_label
    )
    Case.objects.filter(pk=case.pk).update(updated_at=timezone.now())
    return note


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
    if (
        case.escalations.filter(department=department)
        .exclude(status=EscalationStatus.RESOLVED)
        .exists()
    ):
        raise CaseError(
            f"Case #{case.pk} already has an open escalation to "
            f"{Department(department).label}."
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
    enqueue_on_commit("cases.tasks.send_escalation_notice", escalation.pk)
    return escalation


def _lock_escalation(escalation: Escalation) -> Escalation:
    return (
        Escalation.objects.select_for_update()
        .select_related("case")
        .get(pk=escalation.pk)
    )


@transaction.atomic
def escalation_acknowledge(
    *, escalation: Escalation, actor=None, actor_label: str = "", note: str = ""
) -> Escalation:
    """The department has seen the escalation and takes it on."""
    _check_permission(actor, "change_escalation")
    escalation = _lock_escalation(escalation)
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


# --- Commitments ("afspraak = afspraak") --------------------------------------------


@transaction.atomic
def commitment_make(
    *,
    case: Case,
    owner,
    description: str,
    due_at: datetime,
    actor=None,
    actor_label: str = "",
) -> Commitment:
    """A promise to the customer (call back, follow up) that is tracked until kept."""
    _check_permission(actor, "add_commitment")
    description = " ".join((description or "").split())
    if not description:
        raise CaseError("Say what was promised.")
    if owner is None or not owner.is_active:
        raise CaseError("A commitment needs an active owner.")
    if timezone.is_naive(due_at):
        raise CaseError("The due time needs a time zone.")
    if due_at <= timezone.now():
        raise CaseError("The due time of a commitment must be in the future.")
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot take a commitment; "
            "reopen it first."
        )
    commitment = Commitment.objects.create(
        case=case,
        owner=owner,
        description=description[:500],
        due_at=due_at,
        created_by=actor,
        created_at=timezone.now(),
    )
    events.commitment_event(
        commitment=commitment,
        kind=EventKind.COMMITMENT_MADE,
        actor=actor,
        actor_label=actor_label,
    )
    _refresh_next_due(case)
    case.save(update_fields=["next_due_at", "updated_at"])
    return commitment


def _close_commitment(commitment, new_status, kind, *, actor, actor_label):
    # The case first, then the commitment: the order every other service locks in
    # (a merge locks cases, then their commitments), so the two cannot deadlock.
    # A commitment never changes case, so its case id can be read before locking.
    case_id = Commitment.objects.values_list("case_id", flat=True).get(pk=commitment.pk)
    case = Case.objects.select_for_update().get(pk=case_id)
    commitment = Commitment.objects.select_for_update().get(pk=commitment.pk)
    if commitment.status != CommitmentStatus.OPEN:
        raise InvalidTransition(
            f"This commitment is already {commitment.get_status_display().lower()}."
        )
    commitment.status = new_status
    if new_status == CommitmentStatus.KEPT:
        commitment.kept_at = timezone.now()
    commitment.save()
    commitment.case = case
    events.commitment_event(
        commitment=commitment, kind=kind, actor=actor, actor_label=actor_label
    )
    _refresh_next_due(case)
    case.save(update_fields=["next_due_at", "updated_at"])
    return commitment


@transaction.atomic
def commitment_keep(
    *, commitment: Commitment, actor=None, actor_label: str = ""
) -> Commitment:
    _check_permission(actor, "change_commitment")
    return _close_commitment(
        commitment,
        CommitmentStatus.KEPT,
        EventKind.COMMITMENT_KEPT,
        actor=actor,
        actor_label=actor_label,
    )


@transaction.atomic
def commitment_cancel(
    *, commitment: Commitment, actor=None, actor_label: str = ""
) -> Commitment:
    _check_permission(actor, "change_commitment")
    return _close_commitment(
        commitment,
        CommitmentStatus.CANCELLED,
        EventKind.COMMITMENT_CANCELLED,
        actor=actor,
        actor_label=actor_label,
    )


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


# --- Deadlines: targets and promises (run by the periodic tasks) --------------------


@dataclass
class DeadlineReport:
    """What one run flagged; every item was claimed by this run only."""

    warnings: list[tuple[int, str]] = field(default_factory=list)
    breaches: list[tuple[int, str]] = field(default_factory=list)
    escalation_breaches: list[int] = field(default_factory=list)
    postponed_teams: list[int | None] = field(default_factory=list)


_TARGET_FIELDS = {
    # target: (due field, warned field, breached field, "done" filter)
    "first_response": (
        "first_response_due_at",
        "first_response_warned_at",
        "first_response_breached_at",
        Q(first_response_at__isnull=True),
    ),
    "resolution": (
        "resolution_due_at",
        "resolution_warned_at",
        "resolution_breached_at",
        # Waiting on the customer stops the resolution clock.
        ~Q(status=CaseStatus.WAITING),
    ),
}


def _lead_for(target_obj, target: str) -> timedelta:
    if target_obj is None:
        return WARNING_LEAD
    duration = getattr(target_obj, target)
    return min(WARNING_LEAD, duration / 4)


def case_deadlines_check(
    *, now: datetime | None = None, actor_label: str = "system:check_case_deadlines"
) -> DeadlineReport:
    """Flag cases about to breach and breached, once each, and tell each team.

    Every flag is claimed with a conditional UPDATE (`... WHERE warned_at IS NULL`)
    and counted: a second run, or a second worker at the same moment, finds
    nothing left to claim, so no notice goes out twice. Outside the team's hours
    only urgent cases are flagged; the others wait for the next opening.
    """
    now = now or timezone.now()
    report = DeadlineReport()
    targets = service_targets_by_key()
    # Cases whose team was deleted are checked on the default hours.
    for team in [*Team.objects.all(), None]:
        schedule = team_schedule(team)
        open_now = is_open(schedule, now)
        team_id = team.pk if team else None
        if not open_now:
            report.postponed_teams.append(team_id)
        with transaction.atomic():
            claimed = _check_team_cases(
                team,
                schedule,
                targets,
                now=now,
                open_now=open_now,
                actor_label=actor_label,
            )
            escalations = _check_escalation_acknowledgements(
                team, now=now, open_now=open_now, actor_label=actor_label
            )
            if claimed["warnings"] or claimed["breaches"] or escalations:
                transaction.on_commit(
                    _send_digest(
                        team_id, claimed["warnings"], claimed["breaches"], escalations
                    )
                )
        report.warnings.extend(claimed["warnings"])
        report.breaches.extend(claimed["breaches"])
        report.escalation_breaches.extend(escalations)
    return report


def _send_digest(team_id, warnings, breaches, escalations):
    def send():
        notifications.send_target_digest(
            team_id=team_id,
            warnings=warnings,
            breaches=breaches,
            escalation_ids=escalations,
        )

    return send


def _check_team_cases(
    team: Team | None,
    schedule: Schedule,
    targets,
    *,
    now: datetime,
    open_now: bool,
    actor_label: str,
) -> dict[str, list[tuple[int, str]]]:
    claimed: dict[str, list[tuple[int, str]]] = defaultdict(list)
    base = Case.objects.filter(team=team, status__in=ACTIVE_STATUSES)
    if not open_now:
        base = base.filter(priority=Priority.URGENT)
    horizon = add_business_time(schedule, now, WARNING_LEAD)
    for target, (
        due_field,
        warned_field,
        breached_field,
        pending,
    ) in _TARGET_FIELDS.items():
        candidates = base.filter(pending).filter(
            **{f"{due_field}__isnull": False, f"{breached_field}__isnull": True}
        )
        # Breaches first: a case found past due is not also warned about.
        for case_id, due in (
            candidates.filter(**{f"{due_field}__lte": now})
            .order_by(due_field)
            .values_list("pk", due_field)[:BATCH_SIZE]
        ):
            won = (
                Case.objects.filter(pk=case_id, **{f"{breached_field}__isnull": True})
                .filter(pending)
                .update(
                    **{
                        breached_field: now,
                        warned_field: Coalesce(F(warned_field), now),
                    }
                )
            )
            if won:
                claimed["breaches"].append((case_id, target))
                events.target_breached_event(
                    case=Case(pk=case_id),
                    target=target,
                    due_at=due,
                    actor_label=actor_label,
                )
        for case_id, due, priority, channel in (
            candidates.filter(
                **{
                    f"{due_field}__gt": now,
                    f"{due_field}__lte": horizon,
                    f"{warned_field}__isnull": True,
                }
            )
            .order_by(due_field)
            .values_list("pk", due_field, "priority", "channel")[:BATCH_SIZE]
        ):
            lead = _lead_for(
                target_from(targets, priority=priority, channel=channel), target
            )
            if business_time_between(schedule, now, due) > lead:
                continue
            won = (
                Case.objects.filter(
                    pk=case_id,
                    **{
                        f"{warned_field}__isnull": True,
                        f"{breached_field}__isnull": True,
                    },
                )
                .filter(pending)
                .update(**{warned_field: now})
            )
            if won:
                claimed["warnings"].append((case_id, target))
                events.target_warning_event(
                    case=Case(pk=case_id),
                    target=target,
                    due_at=due,
                    actor_label=actor_label,
                )
    return claimed


def _check_escalation_acknowledgements(
    team: Team | None, *, now: datetime, open_now: bool, actor_label: str
) -> list[int]:
    late = Escalation.objects.filter(
        case__team=team,
        status=EscalationStatus.OPEN,
        acknowledgement_due_at__lte=now,
        acknowledgement_breached_at__isnull=True,
    )
    if not open_now:
        late = late.filter(case__priority=Priority.URGENT)
    claimed = []
    for escalation_id, case_id, due, department in late.order_by(
        "acknowledgement_due_at"
    ).values_list("pk", "case_id", "acknowledgement_due_at", "department")[:BATCH_SIZE]:
        won = Escalation.objects.filter(
            pk=escalation_id,
            status=EscalationStatus.OPEN,
            acknowledgement_breached_at__isnull=True,
        ).update(acknowledgement_breached_at=now)
        if won:
            claimed.append(escalation_id)
            events.target_breached_event(
                case=Case(pk=case_id),
                target="escalation_acknowledgement",
                due_at=due,
                actor_label=actor_label,
                escalation_id=escalation_id,
                department=department,
            )
    return claimed


@dataclass
class ReminderReport:
    reminded: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)


def commitment_reminders_send(
    *,
    now: datetime | None = None,
    actor_label: str = "system:send_commitment_reminders",
) -> ReminderReport:
    """Remind each owner once shortly before a promise is due, and tell the owner
    and the team once when it is overdue. Claimed like the deadline check, so a
    rerun sends nothing twice. The team hears of a non-urgent overdue promise only
    in its opening hours."""
    now = now or timezone.now()
    report = ReminderReport()
    due_soon = Commitment.objects.filter(
        status=CommitmentStatus.OPEN,
        reminder_sent_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + COMMITMENT_REMINDER_LEAD,
    ).order_by("due_at")
    for commitment_id in due_soon.values_list("pk", flat=True)[:BATCH_SIZE]:
        with transaction.atomic():
            won = Commitment.objects.filter(
                pk=commitment_id,
                status=CommitmentStatus.OPEN,
                reminder_sent_at__isnull=True,
            ).update(reminder_sent_at=now)
            if won:
                report.reminded.append(commitment_id)
                transaction.on_commit(_send_reminder(commitment_id))
    overdue = Commitment.objects.filter(
        status=CommitmentStatus.OPEN,
        overdue_notified_at__isnull=True,
        due_at__lte=now,
    ).select_related("case__team")
    schedules: dict[int | None, bool] = {}
    for commitment in overdue.order_by("due_at")[:BATCH_SIZE]:
        team = commitment.case.team
        key = team.pk if team else None
        if key not in schedules:
            schedules[key] = is_open(team_schedule(team), now)
        if not schedules[key] and commitment.case.priority != Priority.URGENT:
            continue
        with transaction.atomic():
            won = Commitment.objects.filter(
                pk=commitment.pk,
                status=CommitmentStatus.OPEN,
                overdue_notified_at__isnull=True,
            ).update(
                overdue_notified_at=now,
                # Too late for a reminder now; the overdue notice says it all.
                reminder_sent_at=Coalesce(F("reminder_sent_at"), now),
            )
            if won:
                report.overdue.append(commitment.pk)
                events.target_breached_event(
                    case=commitment.case,
                    target="commitment",
                    due_at=commitment.due_at,
                    actor_label=actor_label,
                    commitment_id=commitment.pk,
                )
                transaction.on_commit(_send_overdue(commitment.pk))
    return report


def _send_reminder(commitment_id: int):
    return lambda: notifications.send_commitment_reminder(commitment_id=commitment_id)


def _send_overdue(commitment_id: int):
    return lambda: notifications.send_commitment_overdue(commitment_id=commitment_id)
