"""Storing mentions and polling sources: every write of the sources app with a rule.

Exactly once: a mention is unique per (source, external_id), and every write here
is an idempotent upsert, so a retried task, a re-delivered page or two overlapping
polls store each mention once. Posts are hostile text: they are cleaned of what
the database refuses (NUL bytes, lone surrogates), capped, and never trusted.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import DateTimeField, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from webcare.celery import enqueue_on_commit

from .connectors import (
    Connector,
    ConnectorError,
    MentionItem,
    RetryPolicy,
    TransientError,
    build_client,
    connector_for,
)
from .connectors.base import NOT_SECRET
from .models import Author, Mention, ReachSample, Source

logger = logging.getLogger(__name__)

# PositiveIntegerField holds at most this on every backend.
MAX_COUNTER = 2_147_483_647
# What PostgreSQL refuses in text and jsonb: NUL, and lone UTF-16 surrogates.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
EDIT_HISTORY_LIMIT = 10
FAILURE_SAMPLE_LIMIT = 20


@dataclass
class StoreResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    # New mentions that need triage (a post first seen already deleted needs none).
    mention_ids_new: list[int] = field(default_factory=list)
    # Safe, short reasons for the first failed items.
    errors: list[str] = field(default_factory=list)

    def merge(self, other: StoreResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.mention_ids_new.extend(other.mention_ids_new)
        room = FAILURE_SAMPLE_LIMIT - len(self.errors)
        self.errors.extend(other.errors[: max(0, room)])


@dataclass
class PollResult:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    failed: int = 0
    not_modified: bool = False
    error: str = ""
    # False when the source was inactive, missing or being polled by another worker.
    claimed: bool = True
    # Set for a transient failure (rate limit, timeout, 5xx): worth retrying.
    transient: bool = False
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- storing ---------------------------------------------------------------------


def mentions_store(*, source: Source, items: Iterable[MentionItem]) -> StoreResult:
    """Upsert items as mentions of `source`, in bounded batches; idempotent.

    New items become mentions (threaded into a conversation); known ones are
    updated when edited, deleted or when their reach changed; bad items are
    logged and counted, the rest kept. Each batch commits on its own, so a
    crash loses at most the batch under way, which a retry stores again; its
    new mentions are queued for triage once it has committed.
    """
    batch_size = max(1, int(settings.WEBCARE_STORE_BATCH_SIZE))
    result = StoreResult()
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, batch_size)):
        result.merge(_store_batch(source, batch))
    return result


def _store_batch(source: Source, batch: list[MentionItem]) -> StoreResult:
    result = StoreResult()
    now = timezone.now()
    # Later copies of one external id (overlapping pages) win; the rest count once.
    cleaned: dict[str, MentionItem] = {}
    for item in batch:
        prepared = _clean_item(item, source)
        if isinstance(prepared, str):
            result.failed += 1
            if len(result.errors) < FAILURE_SAMPLE_LIMIT:
                result.errors.append(prepared)
            logger.warning("source %s: item skipped: %s", source.pk, prepared)
            continue
        if prepared.external_id in cleaned:
            result.unchanged += 1
        cleaned[prepared.external_id] = prepared
    if not cleaned:
        return result
    authors = _authors_upsert(source.kind, cleaned.values(), now)
    alerts: list[tuple[int, int, int]] = []
    with transaction.atomic():
        # Two workers storing the same source (overlapping polls, re-delivered API
        # pushes) take turns here, so "is it new?" has one answer and a new mention
        # is counted, and triaged, exactly once. The unique constraint still guards.
        Source.objects.select_for_update().filter(pk=source.pk).values_list("pk").get()
        existing = {
            mention.external_id: mention
            for mention in Mention.objects.filter(
                source=source, external_id__in=list(cleaned)
            ).only(*_EXISTING_FIELDS)
        }
        keys = _conversation_keys(source, cleaned, existing)
        created = _mentions_create(
            source, cleaned, existing, authors, keys, now, result
        )
        changed = _mentions_update(cleaned, existing, authors, keys, now, result)
        samples = [
            ReachSample(mention_id=mention.pk, reach=mention.reach, sampled_at=now)
            for mention in created
            if mention.reach > 0
        ] + [
            ReachSample(mention_id=mention.pk, reach=mention.reach, sampled_at=now)
            for mention in changed
        ]
        ReachSample.objects.bulk_create(samples)
        if created:
            Source.objects.filter(pk=source.pk).update(
                last_item_at=now, silence_alerted_at=None
            )
        alerts = _reach_alerts([m for m in created if not m.is_deleted] + changed, now)
        if result.mention_ids_new:
            _triage_after_commit(list(result.mention_ids_new))
    for mention_id, reach, growth in alerts:
        _send_reach_alert(source, mention_id, reach, growth)
    return result


_EXISTING_FIELDS = (
    "id",
    "external_id",
    "author_id",
    "text",
    "url",
    "language",
    "published_at",
    "first_seen_at",
    "edited_at",
    "is_deleted",
    "deleted_at",
    "in_reply_to",
    "conversation_key",
    "likes",
    "reposts",
    "replies",
    "reach_alerted_at",
    "raw",
)


def _triage_after_commit(mention_ids: list[int]) -> None:
    # Imported here: triage pulls in the cases app, which must not load (or
    # import-cycle) whenever the storing service is imported.
    from .triage.tasks import triage_mentions

    enqueue_on_commit(triage_mentions, mention_ids)


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
    return _UNSTORABLE.sub("", text) if _UNSTORABLE.search(text) else text


def _storable_raw(raw: Any) -> tuple[dict, str]:
    """The platform's original record, as JSON the database takes, and a note."""
    if not isinstance(raw, dict):
        raw = {"value": raw} if raw not in (None, "") else {}
    try:
        dumped = json.dumps(raw, ensure_ascii=False)
        # The fast path: nothing to clean (no NUL, no lone surrogate).
        clean = "\\u0000" not in dumped and not _UNSTORABLE.search(dumped)
    except (TypeError, ValueError):
        dumped, clean = "", False
    note = ""
    if not clean:
        raw = _storable_json(raw)
        dumped = json.dumps(raw, ensure_ascii=False)
        note = "cleaned"
    if len(dumped) > int(settings.WEBCARE_MENTION_MAX_RAW):
        return {}, f"dropped: {len(dumped)} characters"
    return raw, note


def _storable_json(value: Any, depth: int = 0) -> Any:
    if depth > 50:
        return None
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


def _author_key(item: MentionItem) -> str:
    return item.author_id or item.author_handle


def _authors_upsert(
    platform: str, items: Iterable[MentionItem], now: datetime
) -> dict[str, int]:
    """Author ids by platform id; creates the unknown, refreshes the known.

    In its own short transaction: authors are shared by every source of a
    platform, and an author without a mention yet is harmless. Rows go in in
    one sorted order so that two workers cannot deadlock on them.
    """
    latest: dict[str, MentionItem] = {}
    for item in items:
        key = _author_key(item)
        if key:
            latest[key] = item
    if not latest:
        return {}
    with transaction.atomic():
        known = {
            author.platform_id: author
            for author in Author.objects.filter(
                platform=platform, platform_id__in=list(latest)
            ).only("id", "platform_id", "handle", "display_name", "follower_count")
        }
        missing = sorted(key for key in latest if key not in known)
        if missing:
            Author.objects.bulk_create(
                [
                    Author(
                        platform=platform,
                        platform_id=key,
                        handle=latest[key].author_handle,
                        display_name=latest[key].author_name,
                        follower_count=latest[key].author_followers,
                    )
                    for key in missing
                ],
                ignore_conflicts=True,
            )
            # Ids of ours and of rows a concurrent worker inserted first.
            known.update(
                (author.platform_id, author)
                for author in Author.objects.filter(
                    platform=platform, platform_id__in=missing
                ).only("id", "platform_id", "handle", "display_name", "follower_count")
            )
        changed = []
        for key, author in known.items():
            if key in missing:
                continue
            item = latest[key]
            dirty = False
            for attribute, value in (
                ("handle", item.author_handle),
                ("display_name", item.author_name),
                ("follower_count", item.author_followers),
            ):
                if value not in (None, "") and getattr(author, attribute) != value:
                    setattr(author, attribute, value)
                    dirty = True
            if dirty:
                author.updated_at = now
                changed.append(author)
        if changed:
            Author.objects.bulk_update(
                sorted(changed, key=lambda author: author.pk),
                ["handle", "display_name", "follower_count", "updated_at"],
            )
    return {key: author.pk for key, author in known.items()}


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


def _mentions_create(
    source: Source,
    items: dict[str, MentionItem],
    existing: dict[str, Mention],
    authors: dict[str, int],
    keys: dict[str, str],
    now: datetime,
    result: StoreResult,
) -> list[Mention]:
    rows = [
        Mention(
            source=source,
            external_id=item.external_id,
            url=item.url,
            author_id=authors.get(_author_key(item)),
            text=item.text,
            language=item.language,
            published_at=item.published_at,
            first_seen_at=now,
            edited_at=item.edited_at,
            # A post first seen already deleted is kept, marked: the team may
            # have to show it existed.
            is_deleted=item.deleted,
            deleted_at=now if item.deleted else None,
            in_reply_to=item.in_reply_to,
            conversation_key=keys[item.external_id],
            likes=item.likes,
            reposts=item.reposts,
            replies=item.replies,
            raw=item.raw,
        )
        for item in items.values()
        if item.external_id not in existing
    ]
    if not rows:
        return []
    Mention.objects.bulk_create(rows)
    if any(row.pk is None for row in rows):
        # A backend that does not return ids from a bulk insert.
        ids = dict(
            Mention.objects.filter(
                source=source, external_id__in=[row.external_id for row in rows]
            ).values_list("external_id", "pk")
        )
        for row in rows:
            row.pk = ids[row.external_id]
    result.new += len(rows)
    result.mention_ids_new.extend(row.pk for row in rows if not row.is_deleted)
    return rows


def _mentions_update(
    items: dict[str, MentionItem],
    existing: dict[str, Mention],
    authors: dict[str, int],
    keys: dict[str, str],
    now: datetime,
    result: StoreResult,
) -> list[Mention]:
    """Apply edits, deletions and new counters; returns those whose reach changed."""
    updated: list[Mention] = []
    reach_changed: list[Mention] = []
    fields: set[str] = set()
    for external_id, mention in existing.items():
        item = items[external_id]
        changes = _changes(mention, item, authors, keys[external_id], now)
        if not changes:
            result.unchanged += 1
            continue
        old_reach = mention.reach
        for name, value in changes.items():
            setattr(mention, name, value)
        fields.update(changes)
        updated.append(mention)
        if mention.reach != old_reach:
            reach_changed.append(mention)
    if updated:
        for mention in updated:
            mention.updated_at = now
        Mention.objects.bulk_update(
            sorted(updated, key=lambda mention: mention.pk),
            sorted(fields | {"updated_at"}),
        )
        result.updated += len(updated)
    return reach_changed


def _changes(
    mention: Mention,
    item: MentionItem,
    authors: dict[str, int],
    key: str,
    now: datetime,
) -> dict[str, Any]:
    """What an item changes on a stored mention; first_seen_at never changes."""
    changes: dict[str, Any] = {}
    if mention.is_deleted:
        # Deletion is final: a stale copy of the post does not bring it back.
        return changes
    if item.deleted:
        return {"is_deleted": True, "deleted_at": now}
    if item.text != mention.text and _is_newer_version(mention, item):
        notes = mention.raw.get("_webcare") if isinstance(mention.raw, dict) else None
        history = notes.get("edits") if isinstance(notes, dict) else None
        history = list(history) if isinstance(history, list) else []
        history.append({"text": mention.text, "replaced_at": now.isoformat()})
        raw = dict(item.raw)
        raw["_webcare"] = {
            **(raw.get("_webcare") or {}),
            "edits": history[-EDIT_HISTORY_LIMIT:],
        }
        changes.update(text=item.text, raw=raw)
        if item.edited_at is not None:
            changes["edited_at"] = item.edited_at
    elif item.edited_at and (
        mention.edited_at is None or item.edited_at > mention.edited_at
    ):
        changes["edited_at"] = item.edited_at
    for name in ("likes", "reposts", "replies"):
        value = getattr(item, name)
        if value != getattr(mention, name):
            changes[name] = value
    author_id = authors.get(_author_key(item))
    if author_id and mention.author_id is None:
        changes["author_id"] = author_id
    for name in ("url", "language", "in_reply_to"):
        value = getattr(item, name)
        if value and not getattr(mention, name):
            changes[name] = value
    if item.published_at and mention.published_at is None:
        changes["published_at"] = item.published_at
    if key and not mention.conversation_key:
        changes["conversation_key"] = key
    return changes


def _is_newer_version(mention: Mention, item: MentionItem) -> bool:
    # A re-delivered older copy must not undo an edit: once an edit time is
    # known, only a later one replaces the text.
    if mention.edited_at is None:
        return True
    return item.edited_at is not None and item.edited_at > mention.edited_at


def _reach_alerts(mentions: list[Mention], now: datetime) -> list[tuple[int, int, int]]:
    """Mentions whose reach grew fast; each is marked so it alerts only once.

    Growth is the reach now minus the reach at the start of the window (or at
    first sight, if later); a post published inside the window grew from 0.
    """
    threshold = int(settings.WEBCARE_REACH_ALERT_GROWTH)
    if threshold <= 0:
        return []
    window_start = now - timedelta(
        minutes=int(settings.WEBCARE_REACH_ALERT_WINDOW_MINUTES)
    )
    candidates = {
        mention.pk: mention
        for mention in mentions
        if mention.reach_alerted_at is None and mention.reach >= threshold
    }
    if not candidates:
        return []
    boundary = Greatest(
        Value(window_start, output_field=DateTimeField()), OuterRef("first_seen_at")
    )
    reach_then = Subquery(
        ReachSample.objects.filter(mention=OuterRef("pk"), sampled_at__lte=boundary)
        .order_by("-sampled_at", "-pk")
        .values("reach")[:1]
    )
    alerts = []
    rows = Mention.objects.filter(pk__in=list(candidates)).annotate(
        reach_then=reach_then
    )
    for pk, published_at, then in rows.values_list("pk", "published_at", "reach_then"):
        mention = candidates[pk]
        recent = published_at is not None and published_at >= window_start
        growth = mention.reach - (0 if recent else then or 0)
        if growth < threshold:
            continue
        # State-guarded: of two workers, one marks the mention and alerts.
        if Mention.objects.filter(pk=pk, reach_alerted_at__isnull=True).update(
            reach_alerted_at=now
        ):
            alerts.append((pk, mention.reach, growth))
    return alerts


def _send_reach_alert(source: Source, mention_id: int, reach: int, growth: int) -> None:
    minutes = int(settings.WEBCARE_REACH_ALERT_WINDOW_MINUTES)

    def send() -> None:
        mention = Mention.objects.select_related("author").filter(pk=mention_id).first()
        if mention is None:
            return
        author = str(mention.author) if mention.author else "unknown author"
        _mail_team(
            subject=f"Mention spreading fast on {source.name}",
            body=(
                f"A mention on {source.name} is spreading fast: reach {reach}, "
                f"up {growth} within {minutes} minutes.\n\n"
                f"Author: {author}\n"
                f"Link: {mention.url or '(none)'}\n"
                f"Published: {mention.published_at or 'unknown'}\n\n"
                f"{mention.text[:1000]}\n"
            ),
        )

    transaction.on_commit(send)


def _mail_team(*, subject: str, body: str) -> None:
    # Mail is I/O: sent after commit, and a mail server hiccup must not undo
    # the stored mentions.
    try:
        send_mail(
            subject=_CONTROL.sub(" ", subject)[:200],
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[settings.WEBCARE_TEAM_EMAIL],
        )
    except Exception:
        logger.exception("could not mail the team: %s", subject)


# -- polling ---------------------------------------------------------------------


class _LeaseLost(Exception):
    """Another worker took the source over (our lease ran out)."""


def source_reserve_due(*, now: datetime | None = None) -> list[int]:
    """Ids of due sources, each reserved so a slow queue does not get it twice.

    The reservation moves next_poll_at one lease ahead with a conditional
    UPDATE; a poll that never runs (lost message) is retried after that.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    reserved = []
    for source_id in Source.objects.due(now).values_list("pk", flat=True):
        if (
            Source.objects.due(now)
            .filter(pk=source_id)
            .update(next_poll_at=now + lease)
        ):
            reserved.append(source_id)
    return reserved


def source_poll(*, source_id: int) -> PollResult:
    """Fetch what a source published since its cursor, store it, record health.

    The source is claimed with a lease first (a conditional UPDATE of
    locked_until), so two workers never poll one source at once. Each page is
    stored before its cursor is saved: a crash re-fetches, never skips. Errors
    are recorded on the source, never raised: one broken source stops nothing.
    """
    started = timezone.now()
    lease_until = started + timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    claimed = (
        Source.objects.filter(pk=source_id, is_active=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=started))
        .update(locked_until=lease_until)
    )
    if not claimed:
        return PollResult(
            claimed=False, error="inactive, missing, or being polled by another worker"
        )
    source = Source.objects.get(pk=source_id)
    credentials = dict(settings.WEBCARE_CONNECTOR_CREDENTIALS.get(source.kind) or {})
    result = PollResult()
    try:
        _poll_pages(source, credentials, lease_until, result)
    except _LeaseLost:
        logger.warning("source %s: lease lost during the poll", source_id)
        result.error = "lease lost: another worker took the source over"
        return result
    except TransientError as error:
        result.error = _safe_message(str(error), credentials)
        result.transient = True
        result.retry_after = error.retry_after
    except ConnectorError as error:
        result.error = _safe_message(str(error), credentials)
    except Exception as error:
        # Includes Celery's soft time limit: the lease is still released below.
        # The traceback is logged redacted: credentials never reach the logs.
        trace = "".join(traceback.format_exception(error))
        logger.error(
            "source %s: poll failed\n%s", source_id, _redact(trace, credentials)
        )
        detail = _safe_message(str(error), credentials)[:200]
        result.error = f"internal error ({type(error).__name__}): {detail}"
    if result.error:
        logger.warning("source %s: poll failed: %s", source_id, result.error)
    _health_record(source, lease_until, result)
    return result


def _poll_pages(
    source: Source, credentials: dict, lease_until: datetime, result: PollResult
) -> None:
    connector_class = connector_for(source.kind)
    retry = RetryPolicy(attempts=max(1, int(settings.WEBCARE_POLL_HTTP_ATTEMPTS)))
    # The environment's credentials go only to their kind's API host, never
    # to whatever host Source.url names (see Connector.credentials_for).
    allowed, withheld_note = connector_class.credentials_for(
        url=source.url, credentials=credentials
    )
    try:
        with build_client() as client:
            _fetch_and_store(
                source,
                connector_class(
                    query=source.query,
                    url=source.url,
                    cursor=source.cursor,
                    credentials=allowed,
                    client=client,
                    keywords=source.keyword_list,
                    max_pages=int(settings.WEBCARE_POLL_MAX_PAGES),
                    retry=retry,
                ),
                lease_until,
                result,
            )
    except ConnectorError as error:
        # A private forum answering 403 to an anonymous poll: say why it was.
        if withheld_note:
            error.args = (f"{error} ({withheld_note})",)
        raise


def _fetch_and_store(
    source: Source, connector: Connector, lease_until: datetime, result: PollResult
) -> None:
    pages_seen = 0
    all_not_modified = True
    for page in connector.fetch():
        pages_seen += 1
        all_not_modified = all_not_modified and page.not_modified
        stored = mentions_store(source=source, items=page.items)
        result.fetched += len(page.items)
        result.new += stored.new
        result.updated += stored.updated
        result.failed += stored.failed + len(page.parse_failures)
        for failure in page.parse_failures[:FAILURE_SAMPLE_LIMIT]:
            logger.warning("source %s: %s", source.pk, failure)
        # Only now that the page's items are stored may the cursor pass them.
        saved = Source.objects.filter(pk=source.pk, locked_until=lease_until).update(
            cursor=page.cursor,
            parse_failures=F("parse_failures") + len(page.parse_failures),
        )
        if not saved:
            raise _LeaseLost
    result.not_modified = pages_seen > 0 and all_not_modified


def _health_record(source: Source, lease_until: datetime, result: PollResult) -> None:
    now = timezone.now()
    interval = source.poll_interval
    fields: dict[str, Any] = {"locked_until": None, "last_polled_at": now}
    if result.error:
        failures = source.consecutive_failures + 1
        backoff = min(
            interval * (2 ** min(failures, 20)),
            timedelta(seconds=int(settings.WEBCARE_POLL_MAX_BACKOFF_SECONDS)),
        )
        backoff = max(backoff, interval)
        if result.retry_after:
            backoff = max(backoff, timedelta(seconds=min(result.retry_after, 86400)))
        fields.update(
            consecutive_failures=failures,
            last_error=result.error[:1000],
            next_poll_at=now + backoff,
        )
    else:
        fields.update(
            consecutive_failures=0,
            last_error="",
            last_success_at=now,
            next_poll_at=now + interval,
        )
    # Guarded by our lease: a worker that lost it must not overwrite the new owner.
    Source.objects.filter(pk=source.pk, locked_until=lease_until).update(**fields)


def _redact(text: str, credentials: dict) -> str:
    for key, value in credentials.items():
        # The API base URL is no secret, and a message naming it must stay readable.
        if key not in NOT_SECRET and value and len(str(value)) >= 4:
            text = text.replace(str(value), "[redacted]")
    return text


def _safe_message(message: str, credentials: dict) -> str:
    message = _redact(message, credentials)
    return _CONTROL.sub(" ", message).strip()[:1000] or "unknown error"


# -- health ----------------------------------------------------------------------


@dataclass
class HealthReport:
    alerted: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)


def source_check_health(*, now: datetime | None = None) -> HealthReport:
    """Alert the team, once, about sources that went silent or keep failing.

    Silent: no new mention for longer than the source's expected_silence
    (counted from its creation when it never had one). Failing: at least
    WEBCARE_SOURCE_FAILURE_ALERT_AFTER polls in a row failed (e.g. expired
    credentials). The alert mark is cleared when the source is fine again.
    """
    now = now or timezone.now()
    failure_limit = max(1, int(settings.WEBCARE_SOURCE_FAILURE_ALERT_AFTER))
    report = HealthReport()
    for source in Source.objects.filter(is_active=True).order_by("pk"):
        problems = _source_problems(source, now, failure_limit)
        if problems and source.silence_alerted_at is None:
            # State-guarded, so two runs of the check alert once.
            if Source.objects.filter(
                pk=source.pk, silence_alerted_at__isnull=True
            ).update(silence_alerted_at=now):
                report.alerted.append(source.pk)
                _mail_team(
                    subject=f"Source needs attention: {source.name}",
                    body=(
                        f"The source {source.name} ({source.get_kind_display()}) "
                        "needs attention:\n\n"
                        + "\n".join(f"- {problem}" for problem in problems)
                        + "\n\nIt stays marked unhealthy in the admin until it "
                        "works again.\n"
                    ),
                )
        elif (
            not problems
            and source.silence_alerted_at is not None
            and Source.objects.filter(
                pk=source.pk, silence_alerted_at=source.silence_alerted_at
            ).update(silence_alerted_at=None)
        ):
            report.cleared.append(source.pk)
    return report


def _source_problems(source: Source, now: datetime, failure_limit: int) -> list[str]:
    problems = []
    last = source.last_item_at or source.created_at
    if now - last > source.expected_silence:
        since = (
            f"since {source.last_item_at:%Y-%m-%d %H:%M} UTC"
            if source.last_item_at
            else "since it was added"
        )
        problems.append(
            f"no new mention {since}; expected at least one every "
            f"{_duration(source.expected_silence)}."
        )
    if source.consecutive_failures >= failure_limit:
        problems.append(
            f"the last {source.consecutive_failures} polls failed; last error: "
            f"{source.last_error or 'unknown'}"
        )
    return problems


def _duration(value: timedelta) -> str:
    hours = value.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"
