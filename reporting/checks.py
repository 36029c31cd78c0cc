"""System checks of reporting's configuration (registered in ReportingConfig.ready)."""

from django.conf import settings
from django.core import checks

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def check_mail_backend(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """With DEBUG off, survey mails must be delivered, never printed or dropped.

    settings.py refuses to start already (gunicorn and Celery run no checks); this
    also catches a settings module or override that bypasses that refusal.
    """
    if settings.DEBUG:
        return []
    undelivering = getattr(settings, "WEBCARE_UNDELIVERING_EMAIL_BACKENDS", ())
    if settings.EMAIL_BACKEND in undelivering:
        return [
            checks.Error(
                f"EMAIL_BACKEND {settings.EMAIL_BACKEND} delivers no mail, and "
                "survey mails carry a customer's address and personal link.",
                hint="Set EMAIL_HOST (SMTP) or a delivering EMAIL_BACKEND.",
                id="reporting.E001",
            )
        ]
    if settings.EMAIL_BACKEND == SMTP_BACKEND and not settings.EMAIL_HOST:
        return [
            checks.Error(
                "EMAIL_HOST is not set: survey mails and staff notices cannot be sent.",
                hint="Set EMAIL_HOST to the SMTP server.",
                id="reporting.E002",
            )
        ]
    return []
