"""The mention pages with an "Add to case" action, re-registered over sources'."""

from __future__ import annotations

from django.contrib import admin, messages

from cases import services
from cases.admin.common import _action_form_page
from cases.forms import AddToCaseForm
from cases.services import CaseError
from sources import admin as sources_admin
from sources.models import Mention

# --- Mentions: joining a case by hand ---------------------------------------------


class MentionAdmin(sources_admin.MentionAdmin):
    """The sources app's mention pages, plus the "Add to case" action (through
    case_add_mention). Registered here because cases builds on sources."""

    actions = (*sources_admin.MentionAdmin.actions, "add_to_case")

    def has_add_to_case_permission(self, request):
        return request.user.has_perm("cases.change_case")

    @admin.action(description="Add to case…", permissions=("add_to_case",))
    def add_to_case(self, request, queryset):
        form = AddToCaseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _action_form_page(
                self,
                request,
                queryset,
                form=form,
                title="Add to case",
                action="add_to_case",
            )
        added, errors = [], []
        for mention in queryset.order_by("published_at", "pk"):
            try:
                joined = services.case_add_mention(
                    case=form.cleaned_data["case"], mention=mention, actor=request.user
                )
            except CaseError as error:
                errors.append(f"Mention #{mention.pk}: {error}")
            else:
                added.append(f"#{mention.pk} to case #{joined.pk}")
        if added:
            self.message_user(request, "Added " + ", ".join(added) + ".")
        for error in errors:
            self.message_user(request, error, messages.ERROR)
        return None


admin.site.unregister(Mention)
admin.site.register(Mention, MentionAdmin)
