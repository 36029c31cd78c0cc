"""Upserting the authors of mention items, shared by every source of a platform."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from ..connectors import MentionItem
from ..models import Author


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
