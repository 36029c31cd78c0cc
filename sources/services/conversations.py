"""Threading mention items into conversations (a reply joins its parent's)."""

from __future__ import annotations

from ..connectors import MentionItem
from ..models import Mention, Source


def _conversation_keys(
    source: Source,
    items: dict[str, MentionItem],
    existing: dict[str, Mention],
) -> dict[str, str]:
    """The conversation of each item: its own key, its parent's, or itself.

    "Look at the dialogue, not the post": a reply joins the conversation of the
    post it answers, whether that was stored earlier or sits in this batch.
    """
    kind = source.kind
    parents_to_find = {
        item.in_reply_to
        for item in items.values()
        if not item.conversation_key
        and item.in_reply_to
        and item.in_reply_to not in items
    }
    stored: dict[str, str] = {}
    if parents_to_find:
        same_kind = Source.objects.filter(kind=kind).values("pk")
        stored = dict(
            Mention.objects.filter(
                source__in=same_kind, external_id__in=list(parents_to_find)
            )
            .exclude(conversation_key="")
            .values_list("external_id", "conversation_key")
        )
    keys: dict[str, str] = {}

    def key_of(external_id: str, seen: frozenset[str]) -> str:
        if external_id in keys:
            return keys[external_id]
        item = items[external_id]
        mention = existing.get(external_id)
        if mention is not None and mention.conversation_key:
            key = mention.conversation_key
        elif item.conversation_key:
            key = f"{kind}:{item.conversation_key}"
        elif item.in_reply_to in items and item.in_reply_to not in seen:
            key = key_of(item.in_reply_to, seen | {external_id})
        elif item.in_reply_to in stored:
            key = stored[item.in_reply_to]
        else:
            key = f"{kind}:{external_id}"
        keys[external_id] = key
        return key

    for external_id in items:
        key_of(external_id, frozenset({external_id}))
    return keys
