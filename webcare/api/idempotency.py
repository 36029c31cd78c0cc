"""`Idempotency-Key` for POSTs that create: a retried request is answered, not redone.

The key is claimed (committed) before the work starts, so a concurrent duplicate sees
it and gets 409. The work and the stored answer commit together: if the process dies
half-way nothing was done and, after STALE, the key may be claimed again. Only
successful answers are kept; after an error the client may retry with the same key.

A secret is shown once and never kept: an endpoint whose answer carries one (a
webhook's signing secret) names its field in `secret_fields`; the stored answer,
and so every replay, has null there. The client finds what it created, not the key.
"""

import hashlib
import json
import re
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from webcare.api.auth import request_client
from webcare.api.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")
# A claim whose request never finished (the process died) may be taken over after this.
STALE = timedelta(minutes=5)
# A stored answer is replayed for a day, as payment APIs do; then the key is free.
TTL = timedelta(hours=24)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="A unique key per logical request (e.g. a UUID). Retrying the same "
    "request with the same key returns the first answer and does the work once. "
    "The same key with a different body is refused (422); while the first request "
    "is still running, 409.",
)


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed."
    default_code = "idempotency_in_progress"


class IdempotencyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for a different request."
    default_code = "idempotency_key_reused"


def fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):
        data = dict(data.lists())
    canonical = json.dumps(
        [request.method, request.path, data], sort_keys=True, cls=JSONEncoder
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, client, key: str, request_fingerprint: str) -> IdempotencyKey | Response:
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                client=client, key=key, request_fingerprint=request_fingerprint
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(client=client, key=key).first()
    now = timezone.now()
    if existing is not None and (
        existing.created_at < now - TTL
        or (existing.response_status is None and existing.created_at < now - STALE)
    ):
        # Take over an expired or abandoned key; the condition on created_at makes
        # sure only one of several concurrent retries wins.
        taken = (
            IdempotencyKey.objects.filter(
                pk=existing.pk, created_at=existing.created_at
            )
            .filter(Q(response_status__isnull=True) | Q(created_at__lt=now - TTL))
            .update(
                created_at=now,
                request_fingerprint=request_fingerprint,
                response_status=None,
                response_body=None,
            )
        )
        if taken:
            existing.refresh_from_db()
            return existing
        # Another retry took it over; its claim may be gone already (it failed).
        existing = IdempotencyKey.objects.filter(pk=existing.pk).first()
    if existing is None:
        raise IdempotencyConflict()
    if existing.request_fingerprint != request_fingerprint:
        raise IdempotencyMismatch()
    if existing.response_status is None:
        raise IdempotencyConflict()
    return Response(
        existing.response_body,
        status=existing.response_status,
        headers={"Idempotent-Replayed": "true"},
    )


def without_secrets(body, secret_fields: tuple[str, ...]):
    """The answer as it is stored: each secret field (top level) set to null."""
    if not secret_fields or not isinstance(body, dict):
        return body
    return {key: None if key in secret_fields else value for key, value in body.items()}


def idempotent(view_method=None, *, secret_fields: tuple[str, ...] = ()):
    """Decorate a ViewSet method (create or a POST action) to honour Idempotency-Key;
    `@idempotent` or `@idempotent(secret_fields=("secret",))`.

    Keys are per API client; staff sessions use the browsable API and send none."""
    if view_method is None:
        return lambda method: idempotent(method, secret_fields=tuple(secret_fields))

    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        client = request_client(request)
        if key is None or client is None:
            return view_method(self, request, *args, **kwargs)
        if not KEY_PATTERN.match(key):
            raise ValidationError(
                {HEADER: ["Use 1 to 200 printable ASCII characters, no spaces."]}
            )
        claimed = _claim(
            client=client, key=key, request_fingerprint=fingerprint(request)
        )
        if isinstance(claimed, Response):
            return claimed
        try:
            with transaction.atomic():
                response = view_method(self, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    raise _NotStored(response)
                body = json.loads(
                    json.dumps(
                        without_secrets(response.data, secret_fields), cls=JSONEncoder
                    )
                )
                IdempotencyKey.objects.filter(pk=claimed.pk).update(
                    response_status=response.status_code, response_body=body
                )
        except _NotStored as not_stored:
            claimed.delete()
            return not_stored.response
        except BaseException:
            claimed.delete()
            raise
        return response

    return wrapper


class _NotStored(Exception):
    """Leaves the atomic block (rolling back) for an answer that is not kept."""

    def __init__(self, response):
        self.response = response
