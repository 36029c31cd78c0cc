"""The admin site: Django's, with every registered model admin hardened against
hostile query values (see `webcare.admin_mixins.HostileQueryAdminMixin`).

Registered through `AdminConfig` in INSTALLED_APPS, Django's documented way to
replace the default site, so the apps keep using `admin.site` and `@admin.register`,
and admins of third-party apps (auth, axes) get the same protection.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig

from webcare.admin_mixins import HostileQueryAdminMixin


class AdminSite(admin.AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, HostileQueryAdminMixin):
            admin_class = type(
                admin_class.__name__,
                (HostileQueryAdminMixin, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)


class AdminConfig(DjangoAdminConfig):
    default_site = "webcare.admin_site.AdminSite"
