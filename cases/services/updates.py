"""Changing what a case is about: priority, category, subject, topics, team and more."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from cases import events
from cases.models import ACTIVE_STATUSES, Case, Topic
from cases.services.assignment import _check_take_over
from cases.services.common import (
    UPDATABLE_FIELDS,
    CaseError,
    _check_permission,
    _compute_targets,
    _lock,
    _refresh_next_due,
)
from sources.models import Priority

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
    if "team" in fields and _json_value(fields["team"]) != case.team_id:
        # A colleague's case changes team only with the right to move it: otherwise
        # the lead of any team could move it into their team and then take it.
        _check_take_over(case, actor)
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
