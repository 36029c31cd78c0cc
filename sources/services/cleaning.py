"""Cleaning hostile mention items into what the database takes; counter caps."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from webcare.middleware import UNSTORABLE

from ..connectors import MentionItem
from ..models import Source

# PositiveIntegerField holds at most this on every backend.
MAX_COUNTER = 2_147_483_647
# No platform nests a post deeper than this; a record nested ~900 deep (hostile)
# passed the store and then broke every page that printed it (recursion limit).
RAW_MAX_DEPTH = 50
TOO_DEEP = f"[nested deeper than {RAW_MAX_DEPTH} levels: removed]"
# What PostgreSQL refuses in text and jsonb: NUL, and lone UTF-16 surrogates.


def _clean_item(item: MentionItem, source: Source) -> MentionItem | str:
    """A storable copy of the item, or the reason it cannot be stored."""
    if not isinstance(item, MentionItem):
        return f"not a mention item ({type(item).__name__})"
    external_id = _storable(str(item.external_id or "")).strip()
    if not external_id:
        return "item without an external id"
    if len(external_id) > 200:
        return f"external id longer than 200 characters ({external_id[:40]!r}...)"
    notes: dict[str, Any] = {}
    text = _storable(str(item.text or ""))
    if text != (item.text or ""):
        notes["unstorable_characters_removed"] = True
    max_text = int(settings.WEBCARE_MENTION_MAX_TEXT)
    if len(text) > max_text:
        notes["text_truncated_from"] = len(text)
        text = text[:max_text]
    raw, raw_note = _storable_raw(item.raw)
    # "_webcare" holds our own notes and the edit history: a sender's copy of it
    # would forge that history (or break the next edit), so it is never kept.
    raw = {key: value for key, value in raw.items() if key != "_webcare"}
    if raw_note:
        notes["raw"] = raw_note
    if notes:
        raw = {**raw, "_webcare": notes}
    key_room = 300 - len(source.kind) - 1
    return replace(
        item,
        external_id=external_id,
        text=text,
        url=_safe_url(item.url),
        author_id=_storable(str(item.author_id or "")).strip()[:200],
        author_handle=_storable(str(item.author_handle or ""))
        .strip()
        .lstrip("@")[:200],
        author_name=_storable(str(item.author_name or "")).strip()[:300],
        author_followers=(
            None if item.author_followers is None else _counter(item.author_followers)
        ),
        published_at=_aware(item.published_at),
        edited_at=_aware(item.edited_at),
        deleted=bool(item.deleted),
        language=_storable(str(item.language or "")).strip()[:8],
        in_reply_to=_storable(str(item.in_reply_to or "")).strip()[:200],
        conversation_key=_storable(str(item.conversation_key or "")).strip()[:key_room],
        likes=_counter(item.likes),
        reposts=_counter(item.reposts),
        replies=_counter(item.replies),
        raw=raw,
    )


def _storable(text: str) -> str:
    return UNSTORABLE.sub("", text) if UNSTORABLE.search(text) else text


def _storable_raw(raw: Any) -> tuple[dict, str]:
    """The platform's original record, as JSON the database takes, and a note."""
    if not isinstance(raw, dict):
        raw = {"value": raw} if raw not in (None, "") else {}
    too_deep = _json_depth(raw) > RAW_MAX_DEPTH
    try:
        dumped = "" if too_deep else json.dumps(raw, ensure_ascii=False)
        # The fast path: nothing to clean (no NUL, no lone surrogate).
        clean = not too_deep
        clean = clean and "\\u0000" not in dumped and not UNSTORABLE.search(dumped)
    except (TypeError, ValueError):
        dumped, clean = "", False
    note = ""
    if not clean:
        # Also cuts what is nested too deeply: the rest of the record is kept.
        raw = _storable_json(raw)
        dumped = json.dumps(raw, ensure_ascii=False)
        note = f"cut: nested deeper than {RAW_MAX_DEPTH} levels" if too_deep else ""
        note = note or "cleaned"
    if len(dumped) > int(settings.WEBCARE_MENTION_MAX_RAW):
        return {}, f"dropped: {len(dumped)} characters"
    return raw, note


def raw_json_text(stored: str, *, limit: int) -> str:
    """A raw record (its JSON text as stored) indented for people, at most `limit`
    characters. Parts nested too deeply (stored before ingest bounded the depth)
    are shown as removed; a text too deep for Python to read is shown as it is."""
    try:
        raw = json.loads(stored)
    except RecursionError:
        return f"{TOO_DEEP}\n{stored}"[:limit]
    if _json_depth(raw) > RAW_MAX_DEPTH:
        raw = _storable_json(raw)
    return json.dumps(raw, indent=2, ensure_ascii=False)[:limit]


def _json_depth(value: Any) -> int:
    """How deeply a JSON value nests, counted up to RAW_MAX_DEPTH + 1 (iterative:
    a value deeper than Python's recursion limit is measured like any other)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list | tuple):
            if depth + 1 > RAW_MAX_DEPTH:
                return depth + 1
            deepest = max(deepest, depth + 1)
            stack.extend((item, depth + 1) for item in value)
    return deepest


def _storable_json(value: Any, depth: int = 0) -> Any:
    if depth >= RAW_MAX_DEPTH and isinstance(value, dict | list | tuple):
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            _storable(str(key)): _storable_json(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_storable_json(item, depth + 1) for item in value]
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, datetime):
        return value.isoformat()
    return _storable(str(value))


def _safe_url(url: Any) -> str:
    # Only web links: a "javascript:" URL in a hostile post must never become a link.
    value = _storable(str(url or "")).strip()
    if len(value) > 1000 or not value.lower().startswith(("https://", "http://")):
        return ""
    return value


def _counter(value: Any) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError, OverflowError):
        return 0
    return min(max(number, 0), MAX_COUNTER)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value
