"""The OpenAPI document of /api/v1/, generated from the routes (never written by hand).

`openapi.yaml` at the repository root is this document, committed; a test fails
when it is not current. Regenerate with:

    .venv/bin/python manage.py shell -c "from webcare.api.schema import write; write()"
"""

from pathlib import Path

from django.conf import settings
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from webcare.api.auth import ScopePermission
from webcare.api.router import router

SCHEMA_FILE = Path(settings.BASE_DIR) / "openapi.yaml"

# The schema describes the routes under their public prefix, whatever else the
# project mounts, so the committed openapi.yaml changes only when the API does.
SCHEMA_PATTERNS = [path("api/v1/", include(router.urls))]


class SchemaView(SpectacularAPIView):
    permission_classes = [ScopePermission]
    patterns = SCHEMA_PATTERNS


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our own static files, its start script a separate request
    (no inline script: the Content-Security-Policy allows none)."""

    permission_classes = [ScopePermission]


class SchemaWarnings(Exception):
    pass


def generate() -> bytes:
    """The schema as YAML; raises on an invalid schema or any generator warning."""
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=SCHEMA_PATTERNS).get_schema(
        request=None, public=True
    )
    if GENERATOR_STATS:
        problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
        raise SchemaWarnings("\n".join(problems))
    validate_schema(schema)
    return OpenApiYamlRenderer().render(schema, renderer_context={})


def write() -> Path:
    SCHEMA_FILE.write_bytes(generate())
    return SCHEMA_FILE
