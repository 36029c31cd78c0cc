"""What an erased person leaves behind in the sources app: pseudonyms, no text.

The erasure itself spans every app and lives in `reporting.services.privacy`; the
pieces here are what storing mentions must know too: an erased post's external id
is kept only as a hash, so a poll that serves the post again recognises it (and
stores nothing) without the platform's id for it being kept.
"""

from __future__ import annotations

import hashlib
import secrets

ERASED_PREFIX = "erased:"
ERASED_AUTHOR_PREFIX = "erased-"


def erased_reference(kind: str, value: str) -> str:
    """The pseudonym of a platform id (a post, a conversation): one-way, stable.

    Not keyed: a post served again must map to the same value, whatever becomes
    of SECRET_KEY. Whoever already knows the id can confirm it was stored once;
    nobody can get the id, the post or its author back from the pseudonym.
    """
    if not value or value.startswith(ERASED_PREFIX):
        return value
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:40]
    return f"{ERASED_PREFIX}{digest}"


def erased_author_id(platform_id: str) -> str:
    """An erased account's platform id: random, so it is unique per platform even
    when the same person is erased again under a new account row, and nobody who
    knows the handle can confirm the account was stored."""
    if platform_id.startswith(ERASED_AUTHOR_PREFIX):
        return platform_id
    return f"{ERASED_AUTHOR_PREFIX}{secrets.token_hex(8)}"
