"""Log records without secrets or personal data.

`RedactFilter` sits on every handler (settings.LOGGING for Django and Celery,
gunicorn.conf.py for gunicorn's access and error logs). It rewrites a record's
message before any handler formats it: survey tokens in paths, `token=`-style values,
Bearer tokens, API tokens and e-mail addresses become "[redacted]". Only the standard
library here: gunicorn's master imports this before Django is set up.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

# (pattern, replacement), applied in order. The survey pages are mounted at /s/
# (webcare/urls.py; a test keeps this true); whatever follows /s/ is redacted, a
# token-shaped string or not, because a mistyped token is still most of a token.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(/s/)[^/\s?#\"'<>]+"), rf"\g<1>{REDACTED}"),
    # The same path as percent-encoded inside another URL (a redirect's ?next=).
    (re.compile(r"(?i)(%2Fs%2F)[^%\s&\"'<>]+"), rf"\g<1>{REDACTED}"),
    (
        re.compile(
            r"(?i)\b((?:access_|refresh_|api_|auth_)?token|api_?key|key|secret|"
            r"password|passwd|signature|sig|v1)=[^&\s,;()\"'<>]+"
        ),
        rf"\g<1>={REDACTED}",
    ),
    (
        re.compile(
            r"(?i)([\"'](?:access_|refresh_|api_)?(?:token|secret|password|api_?key)"
            r"[\"']\s*:\s*[\"'])[^\"']+"
        ),
        rf"\g<1>{REDACTED}",
    ),
    (
        re.compile(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{16,}"),
        rf"\g<1>\g<2>{REDACTED}",
    ),
    # An API client's token ("wc_" and 43 characters), wherever it appears.
    (re.compile(r"\bwc_[A-Za-z0-9_-]{16,}"), f"wc_{REDACTED}"),
    (
        re.compile(r"[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
        f"{REDACTED}@{REDACTED}",
    ),
)


def redact(text: str) -> str:
    """`text` with survey tokens, credentials and e-mail addresses replaced."""
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """Rewrites a record in place: the message, its traceback and its stack.

    In place, not a copy, so handlers further along (a capture in a test, another
    handler on the root) see the redacted record too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record: the handler reports it as usual
            return True
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            # Formatted here once; the formatter uses exc_text as it is.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
