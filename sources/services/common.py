"""Shared by storing, polling and health: failure sample limit, team notices."""

import re

from django.conf import settings

from webcare.notices.services import notice_queue

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
FAILURE_SAMPLE_LIMIT = 20


def _notify_team(*, kind: str, about: str, subject: str, body: str) -> None:
    """Write a notice to the team; call it inside the transaction of the claim
    (the health mark, the reach mark). The outbox sends it after commit and
    retries it, so a mail server that is down never undoes stored mentions and
    never loses the alert."""
    notice_queue(
        kind=kind,
        about=about,
        subject=_CONTROL.sub(" ", subject)[:200],
        body=body,
        recipients=[settings.WEBCARE_TEAM_EMAIL],
    )
