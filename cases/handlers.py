"""Handlers of the domain events other apps publish about case work (webcare.bus),
besides intake (`MentionEngaged`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from cases import events
from cases.services import publishing
from webcare.bus import MentionReattributed, OwnPostSeen


def mention_reattributed(event: MentionReattributed) -> None:
    """The case's trail says who re-attributed one of its mentions, and why."""
    if event.case_id is None:
        return  # sources keeps the record of a mention outside a case
    actor = (
        get_user_model().objects.filter(pk=event.actor_id).first()
        if event.actor_id is not None
        else None
    )
    events.mention_reattributed_event(
        case=event.case_id,
        mention_id=event.mention_id,
        old_author_id=event.old_author_id,
        new_author_id=event.new_author_id,
        reason=event.reason,
        actor=actor,
        actor_label=event.actor_label,
    )


def own_post_seen(event: OwnPostSeen) -> None:
    """A poll met one of the team's posts: it may settle an unconfirmed reply."""
    publishing.reply_seen_on_platform(
        kind=event.kind,
        external_id=event.external_id,
        url=event.url,
        in_reply_to=event.in_reply_to,
        text=event.text,
    )
