"""Who may see and act on which record: escalations by department, cases by owner.

The role (a group's model permissions) says what kind of thing a person may do; the
rules here say on which records. Services check them before they write, and the
admin and the API read through `escalations_visible_to`, so both show and refuse the
same. Actors follow the services' convention: a staff user is a person; `None` is
the system (a task, whose access the scheduler decided); an API client is not a
person (no primary key) and its scope decides, except that the escalations of a
restricted department are never shown to it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from cases.models import (
    Agent,
    Case,
    CaseEvent,
    DepartmentMembership,
    Escalation,
    EventKind,
)


def restricted_departments() -> frozenset[str]:
    """Departments whose escalations only the people involved may see (security)."""
    return frozenset(settings.WEBCARE_RESTRICTED_DEPARTMENTS)


def is_person(user) -> bool:
    """A staff user, as opposed to the system (None) or an API client (no pk)."""
    return user is not None and getattr(user, "pk", None) is not None


def departments_of(user) -> frozenset[str]:
    """The departments a person works for: their role's defaults and memberships.

    Kept on the user object for the rest of the request, like Django's permission
    cache, so a page of escalations asks once.
    """
    if not is_person(user) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_webcare_departments", None)
    if cached is not None:
        return cached
    by_role = settings.WEBCARE_ROLE_DEPARTMENTS
    departments = {
        department
        for group in user.groups.values_list("name", flat=True)
        for department in by_role.get(group, ())
    }
    departments.update(
        DepartmentMembership.objects.filter(user=user).values_list(
            "department", flat=True
        )
    )
    user._webcare_departments = frozenset(departments)
    return user._webcare_departments


def handles_every_department(user) -> bool:
    """Managers (and superusers): every department's escalations."""
    return (
        is_person(user)
        and user.is_active
        and user.has_perm("cases.handle_any_department")
    )


def escalations_visible_to(
    user, queryset: QuerySet[Escalation] | None = None
) -> QuerySet[Escalation]:
    """The escalations `user` may see, as a filter on `queryset`.

    A restricted department's escalations: its members, managers, who requested
    the escalation and the case's assignee. Other departments': anyone who may view
    escalations. API clients: every department but the restricted ones.
    """
    queryset = Escalation.objects.all() if queryset is None else queryset
    if user is None:
        return queryset
    restricted = restricted_departments()
    if not is_person(user):
        return queryset.exclude(department__in=restricted)
    if not user.is_active or not user.has_perm("cases.view_escalation"):
        return queryset.none()
    if handles_every_department(user) or not restricted:
        return queryset
    involved = (
        Q(department__in=departments_of(user))
        | Q(requested_by=user.pk)
        | Q(case__assignee=user.pk)
    )
    return queryset.filter(~Q(department__in=restricted) | involved)


# Trail entries that carry an escalation's department, reason and notes.
ESCALATION_EVENT_KINDS = (
    EventKind.ESCALATED,
    EventKind.ESCALATION_ACKNOWLEDGED,
    EventKind.ESCALATION_RESOLVED,
)


def events_visible_to(
    user, queryset: QuerySet[CaseEvent] | None = None
) -> QuerySet[CaseEvent]:
    """The audit trail `user` may see: the entries of a restricted department's
    escalation follow the escalation's own rule (`escalations_visible_to`)."""
    queryset = CaseEvent.objects.all() if queryset is None else queryset
    if user is None:
        return queryset
    hidden_departments = set(restricted_departments())
    if is_person(user):
        if handles_every_department(user):
            return queryset
        hidden_departments -= departments_of(user)
    if not hidden_departments:
        return queryset
    hidden = Q(
        kind__in=ESCALATION_EVENT_KINDS,
        data__department__in=sorted(hidden_departments),
    )
    if is_person(user):
        requested = Escalation.objects.filter(
            pk=Cast(
                KeyTextTransform("escalation_id", OuterRef("data")), IntegerField()
            ),
            requested_by=user.pk,
        )
        hidden &= ~Q(case__assignee=user.pk) & ~Exists(requested)
    return queryset.exclude(hidden)


def may_handle_escalation(
    user, escalation: Escalation, *, actor_label: str = ""
) -> bool:
    """Acknowledge or resolve: the department's members and managers.

    The system may (`None`); an API client (`None` with an "api:" label, or a user
    without a pk) may, except in a restricted department.
    """
    if user is None and not actor_label.startswith("api:"):
        return True
    if not is_person(user):
        return escalation.department not in restricted_departments()
    if not user.is_active or not user.has_perm("cases.change_escalation"):
        return False
    return handles_every_department(user) or (
        escalation.department in departments_of(user)
    )


def is_team_lead_of(user, case: Case) -> bool:
    return (
        is_person(user)
        and case.team_id is not None
        and Agent.objects.filter(
            user=user.pk, team=case.team_id, is_team_lead=True
        ).exists()
    )


def is_away(user_id: int) -> bool:
    """The assignee cannot work on the case now: marked away, or inactive."""
    row = (
        Agent.objects.filter(user=user_id)
        .values("is_available", "user__is_active")
        .first()
    )
    if row is None:
        # Not an agent: away unless an active user (a manager may hold a case).
        return not get_user_model().objects.filter(pk=user_id, is_active=True).exists()
    return not row["is_available"] or not row["user__is_active"]


def may_take_over(user, case: Case) -> bool:
    """Whether `user` may give away or take a case assigned to someone else.

    One's own case and an unassigned case: anyone who may assign. A colleague's:
    who may reassign (managers), the team lead of the case's team, or anyone
    while the assignee is away or inactive (WEBCARE_TAKE_OVER_FROM_AWAY).
    """
    if not is_person(user) or case.assignee_id in (None, user.pk):
        return True
    if user.has_perm("cases.reassign_case") or is_team_lead_of(user, case):
        return True
    return settings.WEBCARE_TAKE_OVER_FROM_AWAY and is_away(case.assignee_id)
