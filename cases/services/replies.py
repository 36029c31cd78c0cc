"""The team's replies to the customer and its internal notes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import events
from cases.models import ACTIVE_STATUSES, Agent, Case, CaseStatus, Note, Reply
from cases.services.assignment import _assign
from cases.services.common import (
    CaseError,
    CasePermissionDenied,
    InvalidTransition,
    _check_permission,
    _lock,
    _name,
    _refresh_next_due,
    _set_status,
)
from sources.models import Mention


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

    A person records only their own replies: the agent is the actor. API clients
    and tasks (no actor) name the agent who sent it. The first reply sets the
    case's first-response time; an unassigned case goes to the agent who
    answered. Posting it on the platform is the channel's job.
    """
    _check_permission(actor, "reply_case")
    if actor is not None and agent is not None and agent.pk != actor.pk:
        raise CasePermissionDenied(
            _(
                "%(name)s may not record a reply signed by %(agent)s: a reply is "
                "signed by who records it."
            )
            % {"name": _name(actor), "agent": _name(agent)}
        )
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
