from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ApiConfig(AppConfig):
    name = "webcare.api"
    label = "api"
    verbose_name = "API"

    def ready(self):
        # Each app's `api` package registers its endpoints with the one router.
        autodiscover_modules("api")
