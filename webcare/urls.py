from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "webcare"
admin.site.site_title = "webcare"
admin.site.index_title = "Cases, mentions and sources"
# The case queue needs the width more than a second navigation does.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    # The REST API for the CRM, its OpenAPI schema (schema/) and Swagger page (docs/).
    path("api/v1/", include("webcare.api.urls")),
    path("s/", include("reporting.urls")),
]
