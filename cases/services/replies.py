"""The team's replies to the customer and its internal notes."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import events
from cases.models import (
    ACTIVE_STATUSES,
    Agent,
    Answering,
    Case,
    CaseStatus,
    Note,
    PublishStatus,
    Reply,
)
from cases.personal_data import public_reply_refusal
from cases.selectors import (
    answering_now,
    conversation_change_message,
    conversation_position,
)
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
from sources import publishers
from sources.connectors.base import url_origin
from sources.models import Mention, SourceKind
from webcare.celery import enqueue_on_commit
from webcare.errors import StateConflict


class ConversationChanged(CaseError, StateConflict):
    """The conversation moved on (a customer's post, a colleague's reply) after the
    reply was written: it is not recorded, so two agents never answer one post."""

    def __init__(self, message: str, position: str):
        super().__init__(message)
        self.position = position


@transaction.atomic
def case_reply(
    *,
    case: Case,
    agent,
    text: str,
    channel: str = "",
    in_reply_to: Mention | None = None,
    is_private: bool = False,
    conversation_seen: str | None = None,
    publish: bool = False,
    posted_url: str = "",
    actor=None,
    actor_label: str = "",
) -> Reply:
    """Record the team's answer, signed with the agent's first name.

    A person records only their own replies: the agent is the actor. API clients
    and tasks (no actor) name the agent who sent it. The first reply sets the
    case's first-response time; an unassigned case goes to the agent who
    answered. Posting it on the platform is the channel's job.

    `conversation_seen` is the conversation position (cases.selectors) the reply
    was written at; if the conversation has moved on since, it is refused.

    `publish` queues it for publishing on the platform after commit
    (cases/services/publishing.py); `posted_url` records a reply the agent posted
    by hand (feeds and blogs have no write API). Neither: recorded as sent
    elsewhere.
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
    if not is_private and (refusal := public_reply_refusal(text)):
        raise CaseError(refusal)
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot be replied to; "
            "reopen it first."
        )
    # Under the case's lock: of two agents who saw the same conversation, the
    # second finds the first one's reply here and is refused.
    if conversation_seen is not None:
        current = conversation_position(case)
        if conversation_seen != current:
            raise ConversationChanged(
                conversation_change_message(case, conversation_seen), current
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
    publish_status = _publish_status(
        publish=publish,
        posted_url=posted_url,
        channel=channel,
        in_reply_to=in_reply_to,
        is_private=is_private,
        case=case,
    )
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
        publish_status=publish_status,
        publish_due_at=now if publish_status == PublishStatus.QUEUED else None,
        external_url=posted_url,
    )
    if publish_status == PublishStatus.QUEUED:
        enqueue_on_commit("cases.tasks.publish_reply", reply.pk)
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
    Answering.objects.filter(case=case, agent=agent).delete()
    return reply


def _publish_status(
    *, publish, posted_url, channel, in_reply_to, is_private, case
) -> str:
    if publish and posted_url:
        raise CaseError(
            _("Publish it, or give the link where it was posted: not both.")
        )
    if posted_url:
        if url_origin(posted_url) is None or len(posted_url) > 500:
            raise CaseError(_("Give the link as an http(s) address."))
        return PublishStatus.BY_HAND
    if not publish:
        return PublishStatus.RECORDED
    if not publishers.can_publish(channel):
        raise CaseError(
            _(
                "Replies cannot be published on %(channel)s from webcare (not "
                "supported or not configured): post it by hand and give its link."
            )
            % {
                "channel": SourceKind(channel).label
                if channel in SourceKind.values
                else channel
            }
        )
    if not is_private and in_reply_to is None:
        raise CaseError(_("Say which post the reply answers, to publish it there."))
    if is_private:
        # To the case's customer, never a bystander whose post joined the case;
        # and only on the platform where that account lives.
        recipient = case.customer if case.customer_id else None
        if recipient is None and in_reply_to is not None:
            recipient = in_reply_to.author
        if recipient is None or not recipient.handle:
            raise CaseError(_("A private reply needs the customer to send it to."))
        if recipient.platform != channel:
            raise CaseError(
                _(
                    "The customer's account is not on %(channel)s: a private reply "
                    "there would reach someone else. Answer where they wrote."
                )
                % {"channel": channel}
            )
    return PublishStatus.QUEUED


@transaction.atomic
def case_start_answering(*, case: Case, agent) -> list[Answering]:
    """The agent is writing a reply (her composer says so while she types); returns
    the colleagues answering the same case, for her to see."""
    _check_permission(agent, "reply_case")
    if agent is None:
        raise CasePermissionDenied(_("Only a person answers a case."))
    case = Case.objects.get(pk=case.pk)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            _("A %(status)s case is not answered; reopen it first.")
            % {"status": case.get_status_display().lower()}
        )
    now = timezone.now()
    row, created = Answering.objects.get_or_create(
        case=case, agent=agent, defaults={"started_at": now, "seen_at": now}
    )
    if not created:
        # Not a synced model (the CRM never sees it): a plain update is right.
        changes = {"seen_at": now}
        if row.seen_at < now - settings.WEBCARE_ANSWERING_TIMEOUT:
            changes["started_at"] = now  # she left and came back: a new start
        Answering.objects.filter(pk=row.pk).update(**changes)
    return list(answering_now(case, besides=agent))


def case_stop_answering(*, case: Case, agent) -> None:
    """She closed the composer without sending."""
    Answering.objects.filter(case=case, agent=agent).delete()


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
