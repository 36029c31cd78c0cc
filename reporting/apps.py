from django.apps import AppConfig
from django.core import checks

from reporting.checks import check_mail_backend


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = "Reporting"

    def ready(self):
        # Imported here: these import models, which exist only once apps are ready.
        from reporting import handlers
        from reporting.api import privacy, webhooks
        from webcare import bus

        bus.subscribe(bus.CaseResolved, handlers.schedule_survey)
        bus.subscribe(bus.CaseReopened, handlers.cancel_survey_on_reopen)
        bus.subscribe(bus.CaseClosed, handlers.cancel_survey_on_close)
        bus.subscribe(bus.CaseMerged, handlers.cancel_survey_on_merge)
        bus.subscribe(bus.SurveyAnswered, webhooks.survey_answered)
        bus.subscribe(bus.PersonErased, privacy.person_erased)
        checks.register(check_mail_backend)
