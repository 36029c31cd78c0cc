"""/api/v1/: every app's endpoints from the one router, the schema and its docs page.

The project mounts it with `path("api/v1/", include("webcare.api.urls"))`.
"""

from django.urls import path

from webcare.api.router import router
from webcare.api.schema import DocsView, SchemaView

urlpatterns = [
    *router.urls,
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
