from django.contrib import admin
from django.urls import path

admin.site.site_header = "webcare"
admin.site.site_title = "webcare"
admin.site.index_title = "Cases, mentions and sources"

urlpatterns = [
    path("admin/", admin.site.urls),
]
