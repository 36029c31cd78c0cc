"""Storing mentions: mentions_store, its batch upsert and StoreResult."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from webcare import bus
from webcare.celery import enqueue_on_commit

from ..connectors import MentionItem
from ..models import Mention, ReachSample, Source
from ..publishers import is_own_post, own_accounts
from .authors import _author_key, _authors_upsert
from .cleaning import _clean_item
from .common import FAILURE_SAMPLE_LIMIT
from .conversations import _conversation_keys
from .erasure import erased_reference
from .reach import _reach_alerts

logger = logging.getLogger(__name__)

EDIT_HISTORY_LIMIT = 10


@dataclass
class StoreResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    # The team's own posts, left out (sources.publishers.own_accounts).
    own: int = 0
    # New mentions that need triage (a post first seen already deleted needs none).
    mention_ids_new: list[int] = field(default_factory=list)
    # Safe, short reasons for the first failed items.
    errors: list[str] = field(default_factory=list)
    # The external ids, as the connector gave them, of the items refused: the
    # poll must not let its cursor pass them (they were not stored).
    refused_ids: list[str] = field(default_factory=list)

    def merge(self, other: StoreResult) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.own += other.own
        self.mention_ids_new.extend(other.mention_ids_new)
        self.refused_ids.extend(other.refused_ids)
        room = FAILURE_SAMPLE_LIMIT - len(self.errors)
        self.errors.extend(other.errors[: max(0, room)])


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
            if isinstance(item, MentionItem) and isinstance(item.external_id, str):
                result.refused_ids.append(item.external_id)
            continue
        if prepared.external_id in cleaned:
            result.unchanged += 1
        cleaned[prepared.external_id] = prepared
    if not cleaned:
        return result
    _drop_own(source, cleaned, result)
    _drop_erased(source, cleaned, result)
    if not cleaned:
        return result
    authors = _authors_upsert(source.kind, cleaned.values(), now)
    with transaction.atomic():
        # Two workers storing the same source (overlapping polls, re-delivered API
        # pushes) take turns here, so "is it new?" has one answer and a new mention
        # is counted, and triaged, exactly once. The unique constraint still guards.
        Source.objects.select_for_update().filter(pk=source.pk).values_list("pk").get()
        # The stored ones, and again (the same query) the erased ones, in any
        # source of the platform: an erasure holds all of them too, and one that
        # committed since the check above has renamed the post, which must not
        # come back as new.
        pseudonyms = _pseudonyms(source, cleaned)
        existing = {}
        for mention in Mention.objects.filter(
            Q(source=source, external_id__in=list(cleaned))
            | Q(source__kind=source.kind, external_id__in=list(pseudonyms))
        ).only(*_EXISTING_FIELDS):
            if mention.external_id in pseudonyms:
                if pseudonyms[mention.external_id] in cleaned:
                    del cleaned[pseudonyms[mention.external_id]]
                    result.unchanged += 1
            else:
                existing[mention.external_id] = mention
        if not cleaned:
            return result
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
        # Each alert's notice is written here, with its mark (the outbox sends it).
        _reach_alerts([m for m in created if not m.is_deleted] + changed, now)
        if result.mention_ids_new:
            _triage_after_commit(list(result.mention_ids_new))
    return result


def _pseudonyms(source: Source, items: dict[str, MentionItem]) -> dict[str, str]:
    """External ids by the pseudonym they would have once their author is erased."""
    pseudonyms = {
        erased_reference(source.kind, external_id): external_id for external_id in items
    }
    return {key: value for key, value in pseudonyms.items() if key != value}


def _drop_own(
    source: Source, cleaned: dict[str, MentionItem], result: StoreResult
) -> None:
    """The team's own posts are never a customer's mention, triaged or a case.
    They are replies published from webcare (linked by their id) or posted on the
    platform by hand; the cases app hears of each, to settle a reply whose
    publishing was left unconfirmed."""
    if not own_accounts(source.kind):
        return
    for external_id, item in list(cleaned.items()):
        if is_own_post(
            source.kind,
            source_url=source.url,
            author_id=item.author_id,
            handle=item.author_handle,
        ):
            del cleaned[external_id]
            result.own += 1
            bus.publish(
                bus.OwnPostSeen(
                    kind=source.kind,
                    external_id=external_id,
                    url=item.url,
                    in_reply_to=item.in_reply_to,
                    text=item.text,
                )
            )


def _drop_erased(
    source: Source, cleaned: dict[str, MentionItem], result: StoreResult
) -> None:
    """Leave out posts whose author had their data erased: served again by the
    platform, they are known by the pseudonym of their id and stored no more (nor
    is their author created again from them). Looked up in every source of the
    platform: another search or feed of it may serve the same post."""
    pseudonyms = _pseudonyms(source, cleaned)
    if not pseudonyms:
        return
    erased = set(
        Mention.objects.filter(
            source__kind=source.kind, external_id__in=list(pseudonyms)
        ).values_list("external_id", flat=True)
    )
    for pseudonym in erased:
        del cleaned[pseudonyms[pseudonym]]
        result.unchanged += 1


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
    # Named by its dotted path, not imported: triage pulls in the cases app,
    # which must not load (or import-cycle) whenever the storing service is
    # imported.
    enqueue_on_commit("sources.triage.tasks.triage_mentions", mention_ids)


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
