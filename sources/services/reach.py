"""Reach alerts: mentions whose reach grew fast, marked once and mailed to the team."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, OuterRef, Subquery, Value
from django.db.models.functions import Greatest

from ..models import Mention, ReachSample, Source
from .common import _mail_team


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
