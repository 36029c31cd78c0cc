"""Staff logins: what a person locked out by django-axes sees.

Axes counts failed admin logins per username and client address (settings: AXES_*);
past the limit even the right password is refused until the cool-off has passed.
"""

import math

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the admin's own page, 429 with Retry-After."""
    cool_off = settings.AXES_COOLOFF_TIME.total_seconds()
    context = {
        **admin.site.each_context(request),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": max(1, math.ceil(cool_off / 60)),
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = str(max(1, math.ceil(cool_off)))
    return response
