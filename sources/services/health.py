"""Source health: silent or failing sources, HealthReport and the team alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from webcare.notices.models import NoticeKind

from ..models import Source
from .common import _notify_team


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
            # State-guarded, so two runs of the check alert once; the notice is
            # written with the mark, so a claimed alert is never lost.
            with transaction.atomic():
                if Source.objects.filter(
                    pk=source.pk, silence_alerted_at__isnull=True
                ).update(silence_alerted_at=now):
                    report.alerted.append(source.pk)
                    _notify_team(
                        kind=NoticeKind.SOURCE_HEALTH,
                        about=f"source:{source.pk}",
                        subject=_("Source needs attention: %(name)s")
                        % {"name": source.name},
                        body=(
                            _("The source %(name)s (%(kind)s) needs attention:")
                            % {"name": source.name, "kind": source.get_kind_display()}
                            + "\n\n"
                            + "\n".join(f"- {problem}" for problem in problems)
                            + "\n\n"
                            + _(
                                "It stays marked unhealthy in the admin until it "
                                "works again."
                            )
                            + "\n"
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
