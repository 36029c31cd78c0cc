"""Shared by storing, polling and health: failure sample limit, team mail."""

import logging
import re

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
FAILURE_SAMPLE_LIMIT = 20


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
