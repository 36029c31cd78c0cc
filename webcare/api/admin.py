"""Staff admin for the CRM's access: API clients, webhooks, deliveries, the audit log.

A client's token is shown once, in the message after it is created; only its hash is
stored, so it can never be shown again (revoke and create a new client instead).
"""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from webcare.admin_mixins import ReadOnlyAdminMixin, SaveChangedFieldsMixin
from webcare.api.auth import TOKEN_PREFIX_LENGTH, api_client_revoke, new_token
from webcare.api.models import (
    ApiAuditEntry,
    ApiClient,
    ApiScope,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    hash_token,
)
from webcare.api.webhooks import delivery_retry, webhook_secret_new, webhook_url_problem


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiClient
        fields = ["name", "scopes", "is_active"]


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = [
        "name",
        "token_prefix",
        "scope_list",
        "is_active",
        "last_used_at",
        "revoked_at",
        "created_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "token_prefix"]
    readonly_fields = ["token_prefix", "last_used_at", "revoked_at", "created_at"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, client: ApiClient) -> str:
        return ", ".join(client.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token = new_token()
        obj.token_prefix = token[:TOKEN_PREFIX_LENGTH]
        obj.token_hash = hash_token(token)
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            f"The token of {obj.name} is {token} — copy it now: it is stored only "
            "as a hash and will not be shown again.",
        )

    @admin.action(description="Revoke the selected API clients")
    def revoke(self, request, queryset):
        for client in queryset:
            api_client_revoke(client=client)
        self.message_user(request, f"Revoked {queryset.count()} API client(s).")


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Webhook
        fields = ["client", "url", "events", "is_active"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        problem = webhook_url_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(Webhook)
class WebhookAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    form = WebhookForm
    list_display = ["client", "url", "event_list", "is_active", "created_at"]
    list_filter = ["is_active", "client"]
    list_select_related = ["client"]
    autocomplete_fields = ["client"]
    search_fields = ["url", "client__name"]

    @admin.display(description="events")
    def event_list(self, webhook: Webhook) -> str:
        return ", ".join(webhook.events)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.secret = webhook_secret_new()
        super().save_model(request, obj, form, change)
        if not change:
            messages.warning(
                request,
                f"The signing secret of this webhook is {obj.secret} — give it to "
                "the CRM now; it is not shown again.",
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "webhook",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
        "next_attempt_at",
    ]
    list_filter = ["status", "event"]
    list_select_related = ["webhook__client"]
    search_fields = ["webhook__url", "last_error"]
    date_hierarchy = "created_at"
    actions = ["retry"]

    @admin.action(
        description="Retry the selected failed deliveries",
        permissions=["view"],
    )
    def retry(self, request, queryset):
        failed = list(queryset.filter(status=DeliveryStatus.FAILED))
        with transaction.atomic():
            for delivery in failed:
                delivery_retry(delivery=delivery)
        self.message_user(request, f"Queued {len(failed)} delivery(ies) again.")


@admin.register(ApiAuditEntry)
class ApiAuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "client_name",
        "method",
        "path",
        "operation",
        "object_id",
        "status_code",
    ]
    list_filter = ["client_name", "method", "status_code"]
    search_fields = ["client_name", "path", "object_id", "idempotency_key"]
    date_hierarchy = "created_at"
