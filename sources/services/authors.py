"""Authors: upserting those of mention items (shared by every source of a
platform), and correcting who wrote a mention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from webcare import bus
from webcare.errors import ServiceError, ServicePermissionDenied

from ..connectors import MentionItem
from ..models import Author, Mention


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


@transaction.atomic
def mention_reattribute(
    *, mention: Mention, author: Author, reason: str, actor: AbstractBaseUser
) -> Mention:
    """Correct who wrote a mention (a connector or a merge of accounts got it
    wrong), with the reason, on the record.

    A person who may change mentions does it. The mention's history (the admin's
    log) keeps who, when, from whom to whom and why; when the mention belongs to a
    case, the case's trail says so too (cases handles `MentionReattributed`). A
    save, not an update of the row, so the sync position moves and the CRM sees it.
    """
    if (
        actor is None
        or not actor.is_active
        or not actor.has_perm("sources.change_mention")
    ):
        name = (actor.get_full_name() or actor.get_username()) if actor else ""
        raise ServicePermissionDenied(
            _("%(name)s may not re-attribute mentions.") % {"name": name or _("Nobody")}
        )
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the mention is re-attributed."))
    mention = (
        Mention.objects.select_for_update(of=("self",))
        .select_related("author")
        .get(pk=mention.pk)
    )
    old = mention.author
    if old is not None and old.pk == author.pk:
        raise ServiceError(
            _("Mention #%(mention)s is already attributed to %(author)s.")
            % {"mention": mention.pk, "author": author}
        )
    if old is not None and old.platform != author.platform:
        raise ServiceError(
            _("%(author)s is on another platform than the mention's author.")
            % {"author": author}
        )
    mention.author = author
    mention.save(update_fields=["author", "updated_at"])
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[mention],
        action_flag=CHANGE,
        change_message=_(
            "Re-attributed from %(old)s (#%(old_id)s) to %(new)s (#%(new_id)s): "
            "%(reason)s"
        )
        % {
            "old": old if old is not None else "-",
            "old_id": old.pk if old is not None else "-",
            "new": author,
            "new_id": author.pk,
            "reason": reason,
        },
        single_object=True,
    )
    bus.publish(
        bus.MentionReattributed(
            mention_id=mention.pk,
            case_id=mention.case_id,
            old_author_id=old.pk if old is not None else None,
            new_author_id=author.pk,
            reason=reason,
            actor_id=actor.pk,
        )
    )
    return mention
