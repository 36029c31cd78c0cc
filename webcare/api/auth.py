"""Who may use the REST API: API clients by token and scope, staff by session.

A CRM authenticates with `Authorization: Bearer <token>` (or `Token <token>`). Only the
SHA-256 of a token is stored; the lookup is by that hash, so comparing secrets never
happens in Python and the time taken says nothing about how much of a token matched.

Failed token authentications are counted per client address: past
WEBCARE_API_AUTH_FAILURES the address is answered 429 for the rest of the period,
before any token is looked up, so a guesser can make neither progress nor the
database work. The address is locked, not a token: a wrong token cannot be told
apart from a guessed one, and a CRM elsewhere goes on working.
"""

import math
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.throttling import SimpleRateThrottle

from webcare.api.models import ApiClient, ApiScope, hash_token
from webcare.net import throttle_key

TOKEN_PREFIX_LENGTH = 8
# A token is "wc_" and 43 URL-safe characters (32 random bytes); anything else is not
# looked up at all.
TOKEN_PATTERN = re.compile(r"^wc_[A-Za-z0-9_-]{43}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEYWORDS = (b"bearer", b"token")
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def new_token() -> str:
    return "wc_" + secrets.token_urlsafe(32)


def api_client_create(*, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """Create a client; the plain token is returned once and never stored."""
    unknown = set(scopes) - set(ApiScope.values)
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(sorted(unknown))}")
    token = new_token()
    client = ApiClient.objects.create(
        name=name,
        scopes=sorted(set(scopes)),
        token_prefix=token[:TOKEN_PREFIX_LENGTH],
        token_hash=hash_token(token),
    )
    return client, token


def api_client_revoke(*, client: ApiClient) -> ApiClient:
    ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), is_active=False
    )
    client.refresh_from_db()
    return client


@dataclass(frozen=True)
class ApiClientUser:
    """What `request.user` is for a client: authenticated, never staff, no model perms.

    Services receive `actor=None, actor_label=user.actor_label`; the scope decides.
    """

    client: ApiClient

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    is_active = True
    pk = None
    id = None

    @property
    def username(self) -> str:
        return self.actor_label

    @property
    def actor_label(self) -> str:
        return f"api:{self.client.name}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self):
        return self.actor_label


def auth_failure_rate() -> tuple[int, int]:
    """WEBCARE_API_AUTH_FAILURES ("20/min") as (failures, seconds); read per call."""
    count, period = settings.WEBCARE_API_AUTH_FAILURES.split("/")
    return int(count), PERIODS[period[0]]


class AuthFailureLock:
    """Failed token authentications of one client address, in the throttles' cache.

    A fixed window counted with the cache's atomic incr (Redis INCR), so concurrent
    guesses are all counted; reaching the limit locks the address for one period
    from then, so Retry-After tells the truth.
    """

    prefix = "api-auth-failures"

    def __init__(self, request):
        self.address = throttle_key(request) or "unknown"
        self.limit, self.period = auth_failure_rate()

    def _key(self, name: str) -> str:
        return f"{self.prefix}:{name}:{self.address}"

    def wait(self) -> int | None:
        """Seconds the address is still locked, or None."""
        until = cache.get(self._key("locked"))
        if until is None:
            return None
        return max(1, math.ceil(until - time.time()))

    def record_failure(self) -> None:
        now = time.time()
        window = int(now // self.period)
        key = self._key(f"count:{window}")
        cache.add(key, 0, timeout=self.period * 2)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=self.period * 2)
            failures = 1
        if failures >= self.limit:
            cache.set(self._key("locked"), now + self.period, timeout=self.period)


class AuthenticationThrottled(exceptions.Throttled):
    default_detail = "Too many failed authentications from this address."
    default_code = "authentication_throttled"


class ApiClientAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        lock = AuthFailureLock(request)
        # Before anything else, even a valid token: the address is locked.
        wait = lock.wait()
        if wait is not None:
            raise AuthenticationThrottled(wait=wait)
        try:
            return self._authenticate(header)
        except exceptions.AuthenticationFailed:
            lock.record_failure()
            raise

    def _authenticate(self, header: list[bytes]):
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected 'Bearer <token>'."
            )
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not TOKEN_PATTERN.match(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        client = ApiClient.objects.filter(
            token_hash=hash_token(token), is_active=True, revoked_at__isnull=True
        ).first()
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        self._touch(client)
        return ApiClientUser(client), client

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="webcare"'

    @staticmethod
    def _touch(client: ApiClient) -> None:
        # At most one write a minute per client: a busy CRM must not turn every read
        # into an UPDATE. The condition also keeps concurrent requests from racing.
        now = timezone.now()
        if client.last_used_at and now - client.last_used_at < LAST_USED_RESOLUTION:
            return
        ApiClient.objects.filter(pk=client.pk).filter(
            Q(last_used_at__isnull=True)
            | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        client.last_used_at = now


def request_client(request) -> ApiClient | None:
    return request.auth if isinstance(request.auth, ApiClient) else None


def actor_for(request) -> dict:
    """The actor keywords every service takes, for the user or client of a request."""
    client = request_client(request)
    if client is not None:
        return {"actor": None, "actor_label": f"api:{client.name}"}
    return {"actor": request.user, "actor_label": ""}


class ScopePermission(BasePermission):
    """API clients need the scope of the action; staff sessions are checked by role.

    A view says which scope each action needs in `required_scopes` (action name to
    scope); otherwise reads need `read` and writes need `write`. Staff reads need the
    view permission of the view's model (webhooks and their deliveries: managers
    only), plus what `staff_permissions` lists for the action; a view without a
    model lists it there. Staff writes are checked by the services (role
    permissions) or, for writes that are not a case service, by `staff_permissions`.
    """

    message = "This API client lacks the scope for this operation."

    def has_permission(self, request, view) -> bool:
        scope = required_scope(request, view)
        client = request_client(request)
        if client is not None:
            if not client.has_scope(scope):
                self.message = f"This API client lacks the '{scope}' scope."
                return False
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            return False
        needed = tuple(
            getattr(view, "staff_permissions", {}).get(
                getattr(view, "action", None), ()
            )
        )
        if request.method in SAFE_METHODS:
            needed += model_view_permission(view)
        return user.has_perms(needed)


def model_view_permission(view) -> tuple[str, ...]:
    """`<app>.view_<model>` of the view's queryset; () for a view without a model
    (the schema, the docs, and reports, which name their permissions themselves)."""
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return ()
    meta = queryset.model._meta
    return (f"{meta.app_label}.view_{meta.model_name}",)


def required_scope(request, view) -> str:
    scopes = getattr(view, "required_scopes", {})
    action = getattr(view, "action", None)
    if action in scopes:
        return scopes[action]
    return ApiScope.READ if request.method in SAFE_METHODS else ApiScope.WRITE


class ApiClientRateThrottle(SimpleRateThrottle):
    """One bucket per API client (and one per staff user), rate `api_client`."""

    scope = "api_client"

    def get_cache_key(self, request, view):
        client = request_client(request)
        if client is not None:
            ident = f"client-{client.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = throttle_key(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "webcare.api.auth.ApiClientAuthentication"
    name = "apiClientToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The token printed by `manage.py create_api_client`. "
            "`Authorization: Token <token>` is accepted too.",
        }
