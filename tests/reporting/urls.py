"""The site's URLs for these tests, with the survey pages mounted as in production."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("s/", include("reporting.urls")),
]
