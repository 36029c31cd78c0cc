from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self):
        # Imported here: these import models, which exist only once apps are ready.
        from cases import handlers, intake
        from cases.api import webhooks
        from webcare import bus

        bus.subscribe(bus.MentionEngaged, intake.mention_engaged)
        bus.subscribe(bus.MentionReattributed, handlers.mention_reattributed)
        bus.subscribe(bus.OwnPostSeen, handlers.own_post_seen)
        bus.subscribe(bus.CaseOpened, webhooks.case_opened)
        bus.subscribe(bus.CaseAssigned, webhooks.case_assigned)
        bus.subscribe(bus.CaseEscalated, webhooks.case_escalated)
        bus.subscribe(bus.CaseResolved, webhooks.case_resolved)
        bus.subscribe(bus.ReplyPublished, webhooks.reply_published)
        bus.subscribe(bus.ReplyPublishFailed, webhooks.reply_publish_failed)
