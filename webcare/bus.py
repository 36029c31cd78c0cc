"""Domain events: how a lower app sets off work in a higher one without importing it.

The apps depend one way: reporting -> cases -> sources -> webcare. When a lower app's
change must set off work higher up (a resolved case schedules a survey), the lower
app publishes one of the events below and the higher app subscribes to it in its
`AppConfig.ready()`. This module lists every event, who publishes it and who
handles it; a test keeps the lists equal to the subscriptions.

Handlers run at once, inside the publisher's transaction, in subscription order
(that is INSTALLED_APPS order). So what a handler writes commits or rolls back with
the change that set it off: a committed change never loses its follow-up, a
rolled-back one never leaves one behind, and locks are taken in the publisher's
order (the case before its survey). A handler must not do network I/O: it records
what is to be done and enqueues a task after commit (`enqueue_on_commit`). An
exception in a handler fails the publishing service, as any of its own writes would.

Events carry ids and plain values, never model instances, so they read the same to
a handler in any app and could be put on a queue unchanged.

This is not a Django signal on a model save: an event is named for what happened
in the domain and published by the one service that makes it happen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    # Dotted names of the handlers, in the order they run: the documentation of
    # who subscribes, checked against the subscriptions by the tests.
    handled_by: ClassVar[tuple[str, ...]] = ()


# --- Published by sources ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MentionEngaged(Event):
    """Triage or a spokesperson's review decided to engage with a mention (or to
    escalate it). Published by sources.triage inside the triage transaction, after
    the decision is stored on the mention."""

    handled_by = ("cases.intake.mention_engaged",)

    mention_id: int
    # The priority the rules give it; a running case is raised to it, never lowered.
    priority: str
    # The department to escalate the case to ("" for none), and why.
    escalate_to: str = ""
    escalation_reason: str = ""
    actor_label: str = ""


@dataclass(frozen=True, kw_only=True)
class MentionReattributed(Event):
    """Staff corrected who wrote a mention (sources.services.mention_reattribute).
    Published in that transaction; the case's trail records it."""

    handled_by = ("cases.handlers.mention_reattributed",)

    mention_id: int
    case_id: int | None
    old_author_id: int | None
    new_author_id: int
    reason: str
    actor_id: int | None = None
    actor_label: str = ""


# --- Published by cases ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseChanged(Event):
    """What every case event carries: the case, and who acted."""

    case_id: int
    actor_id: int | None = None
    actor_label: str = ""


@dataclass(frozen=True, kw_only=True)
class CaseOpened(CaseChanged):
    """A case was opened (by triage, an agent, or the CRM)."""

    handled_by = ("cases.api.webhooks.case_opened",)


@dataclass(frozen=True, kw_only=True)
class CaseAssigned(CaseChanged):
    """A case got an assignee, or another one."""

    handled_by = ("cases.api.webhooks.case_assigned",)


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(CaseChanged):
    """A case was escalated to a department."""

    handled_by = ("cases.api.webhooks.case_escalated",)

    escalation_id: int


@dataclass(frozen=True, kw_only=True)
class OwnPostSeen(Event):
    """A poll met one of the team's own posts (sources left it out of the store)."""

    handled_by = ("cases.handlers.own_post_seen",)

    kind: str
    external_id: str
    url: str = ""
    in_reply_to: str = ""
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class ReplyPublished(CaseChanged):
    """A reply is on the platform (cases/services/publishing.py)."""

    handled_by = ("cases.api.webhooks.reply_published",)

    reply_id: int


@dataclass(frozen=True, kw_only=True)
class ReplyPublishFailed(CaseChanged):
    """A reply could not be published; the agent must act."""

    handled_by = ("cases.api.webhooks.reply_publish_failed",)

    reply_id: int


@dataclass(frozen=True, kw_only=True)
class CaseResolved(CaseChanged):
    """The customer has been helped: the case is resolved."""

    handled_by = (
        "cases.api.webhooks.case_resolved",
        "reporting.handlers.schedule_survey",
    )


@dataclass(frozen=True, kw_only=True)
class CaseReopened(CaseChanged):
    """A resolved or closed case needs work again."""

    handled_by = ("reporting.handlers.cancel_survey_on_reopen",)


@dataclass(frozen=True, kw_only=True)
class CaseClosed(CaseChanged):
    """A case was closed for good, with a reason (CloseReason)."""

    handled_by = ("reporting.handlers.cancel_survey_on_close",)

    reason: str


@dataclass(frozen=True, kw_only=True)
class CaseMerged(CaseChanged):
    """`case_id` was closed as a duplicate of `into_id`; its work moved there."""

    handled_by = ("reporting.handlers.cancel_survey_on_merge",)

    into_id: int


# --- Published by reporting --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SurveyAnswered(Event):
    """A customer answered their survey (a later correction is not published)."""

    handled_by = ("reporting.api.webhooks.survey_answered",)

    survey_id: int


@dataclass(frozen=True, kw_only=True)
class PersonErased(Event):
    """A person's data was erased (reporting.services.privacy.person_erase), in
    that transaction. The REST platform's records of it (webhook payloads, stored
    idempotent answers) are rewritten by the api package that knows their shapes.

    `quotes` are the person's words as copied into other customers' records, for
    the handler to find and blank: the one event that carries text, because after
    the erasure it exists nowhere else. It is never queued or stored.
    """

    handled_by = ("reporting.api.privacy.person_erased",)

    author_ids: tuple[int, ...]
    # The person's own cases (all their text goes) and other customers' cases
    # holding one of their posts (only the quotes go).
    case_ids: tuple[int, ...]
    other_case_ids: tuple[int, ...] = ()
    survey_ids: tuple[int, ...] = ()
    quotes: tuple[str, ...] = ()


# --- The bus -----------------------------------------------------------------------

Handler = Callable[[Event], None]
_handlers: defaultdict[type[Event], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[Event], handler: Handler) -> None:
    """Run `handler(event)` for every `event_type` published; once, however often
    an app's ready() runs."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(event: Event) -> None:
    """Run the event's handlers now, in the caller's transaction."""
    for handler in _handlers[type(event)]:
        handler(event)


def subscribers(event_type: type[Event]) -> list[Handler]:
    return list(_handlers[event_type])
