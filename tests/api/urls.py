"""The project's routes as the lead wires them, for tests that run before that."""

from django.contrib import admin
from django.urls import include, path

import cases.api_admin  # noqa: F401  (registered by cases/admin.py once the lead wires it)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("cases.urls")),
    path("s/", include("reporting.urls")),
]
