"""Staff see every notice, and what was not delivered; failed ones can be sent again."""

from django.contrib import admin
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from webcare.admin_mixins import ReadOnlyAdminMixin
from webcare.notices.models import Notice, NoticeStatus
from webcare.notices.services import notice_resend


class DeliveredFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivered"

    def lookups(self, request, model_admin):
        return [("no", _("Not delivered")), ("yes", _("Delivered"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.exclude(status=NoticeStatus.SENT)
        if self.value() == "yes":
            return queryset.filter(status=NoticeStatus.SENT)
        return queryset


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "subject",
        "recipient_list",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = [DeliveredFilter, "status", "kind"]
    search_fields = ["subject", "about", "last_error"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "kind",
        "about",
        "recipients",
        "subject",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "sent_at",
        "created_at",
    ]
    actions = ["send_again"]

    @admin.display(description=_("recipients"))
    def recipient_list(self, notice: Notice) -> str:
        return ", ".join(notice.recipients)

    @admin.action(
        description=_("Send the selected failed notices again now"),
        permissions=["view"],
    )
    def send_again(self, request, queryset):
        with transaction.atomic():
            queued = sum(
                notice_resend(notice=notice)
                for notice in queryset.filter(status=NoticeStatus.FAILED)
            )
        self.message_user(
            request,
            ngettext(
                "Queued %(count)d notice again.",
                "Queued %(count)d notices again.",
                queued,
            )
            % {"count": queued},
        )
