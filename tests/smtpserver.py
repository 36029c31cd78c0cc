"""A real SMTP server on 127.0.0.1 for the tests: it records what it receives, can
refuse, be slow, and be taken down and brought back.

Its port is chosen once and kept, so Django's SMTP backend (pointed at it by
`configure`) finds nothing listening while it is down: the connection is refused, as
when the company's mail server is out.
"""

import asyncio
import socket
import threading
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer:
    """aiosmtpd on a fixed loopback port; also its own handler."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[Message] = []
        self.recipients: list[list[str]] = []
        self.data_reply = "250 OK"
        self.rcpt_reply = "250 OK"
        self.delay = 0.0  # seconds before accepting a message: a slow server
        # Set when a message's data arrives: the mail is on its way (for races).
        self.receiving = threading.Event()
        self._controller: Controller | None = None

    # -- the SMTP handler ------------------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.rcpt_reply.startswith("250"):
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        await asyncio.sleep(self.delay)
        if not self.data_reply.startswith("250"):
            return self.data_reply
        message = message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"

    # -- for the tests ---------------------------------------------------------------

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        """As if the mail server were down: connections are refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def configure(self, settings) -> None:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5


def body_of(message: Message) -> str:
    """The plain-text part of a received message, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(
                part.get_content_charset() or "utf-8"
            )
    raise AssertionError("no text/plain part")
