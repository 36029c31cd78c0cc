import asyncio
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.core.cache import cache


@pytest.fixture(autouse=True)
def survey_urls(settings):
    # The lead mounts reporting.urls under /s/ in webcare/urls.py; this does the same.
    settings.ROOT_URLCONF = "tests.reporting.urls"
    settings.SITE_URL = "https://webcare.example.com"


@pytest.fixture(autouse=True)
def clear_throttles():
    cache.clear()
    yield
    cache.clear()


class RecordingHandler:
    """An SMTP server's handler that keeps what it received, or refuses on request."""

    def __init__(self):
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.data_reply = "250 OK"
        self.rcpt_reply = "250 OK"
        self.delay = 0.0  # seconds before accepting a message: a slow server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.rcpt_reply.startswith("250"):
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        if not self.data_reply.startswith("250"):
            return self.data_reply
        self.messages.append(message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class EphemeralPortController(Controller):
    """aiosmtpd's Controller on port 0: it learns the port the OS chose."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1; Django's SMTP backend sends to it."""
    handler = RecordingHandler()
    controller = EphemeralPortController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    stopped = []

    def stop():
        # As if the mail server were down: connections are refused.
        controller.stop()
        stopped.append(True)

    handler.stop = stop
    yield handler
    if not stopped:
        controller.stop()


def body_of(message: Message) -> str:
    """The plain-text part of a received message, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset())
    raise AssertionError("no text/plain part")
