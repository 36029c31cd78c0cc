"""Reach alerts: mentions whose reach grew fast, marked once and mailed to the team."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import Greatest
from django.utils.translation import gettext as _

from webcare.notices.models import NoticeKind

from ..models import Mention, ReachSample
from .common import _notify_team


def _reach_alerts(mentions: list[Mention], now: datetime) -> list[tuple[int, int, int]]:
    """Mentions whose reach grew fast; each is marked so it alerts only once, and
    its notice to the team is written with the mark (call it inside the storing
    transaction), so the outbox sends it even if the mail server is down now.

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
            _notify_reach(mention, reach=mention.reach, growth=growth)
    return alerts


def _notify_reach(mention: Mention, *, reach: int, growth: int) -> None:
    minutes = int(settings.WEBCARE_REACH_ALERT_WINDOW_MINUTES)
    # As stored a moment ago in this transaction, with its source and author.
    mention = Mention.objects.select_related("source", "author").get(pk=mention.pk)
    source, author = mention.source, mention.author
    _notify_team(
        kind=NoticeKind.REACH_ALERT,
        about=f"mention:{mention.pk}",
        subject=_("Mention spreading fast on %(source)s") % {"source": source.name},
        body=(
            _(
                "A mention on %(source)s is spreading fast: reach %(reach)s, "
                "up %(growth)s within %(minutes)s minutes."
            )
            % {
                "source": source.name,
                "reach": reach,
                "growth": growth,
                "minutes": minutes,
            }
            + "\n\n"
            + _("Author: %(author)s")
            % {"author": str(author) if author else _("unknown author")}
            + "\n"
            + _("Link: %(url)s") % {"url": mention.url or _("(none)")}
            + "\n"
            + _("Published: %(when)s") % {"when": mention.published_at or _("unknown")}
            + "\n\n"
            + f"{mention.text[:1000]}\n"
        ),
    )
