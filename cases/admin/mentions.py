"""The mention pages with an "Add to case" action, re-registered over sources'."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases import services
from cases.admin.common import _action_form_page, _run_per_object
from cases.forms import AddToCaseForm
from sources import admin as sources_admin
from sources.models import Author, Mention
from sources.services import mention_reattribute


class ReattributeForm(forms.Form):
    author = forms.ModelChoiceField(
        queryset=Author.objects.all(),
        label=gettext_lazy("Author"),
        help_text=gettext_lazy("Who really wrote it (the author's id, or look up)."),
        widget=ForeignKeyRawIdWidget(
            Mention._meta.get_field("author").remote_field, admin.site
        ),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Why, for the audit trail (required)."),
    )


# --- Mentions: joining a case by hand ---------------------------------------------


class MentionAdmin(sources_admin.MentionAdmin):
    """The sources app's mention pages, plus the "Add to case" action (through
    case_add_mention). Registered here because cases builds on sources."""

    actions = (*sources_admin.MentionAdmin.actions, "add_to_case", "reattribute")

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
        case = form.cleaned_data["case"]
        _run_per_object(
            request,
            queryset.order_by("published_at", "pk"),
            _("Added to case #%(case)s") % {"case": case.pk},
            lambda mention: services.case_add_mention(
                case=case, mention=mention, actor=request.user
            ),
        )
        return None

    def has_reattribute_permission(self, request):
        return request.user.has_perm("sources.change_mention")

    @admin.action(
        description=gettext_lazy("Re-attribute to another author…"),
        permissions=("reattribute",),
    )
    def reattribute(self, request, queryset):
        """Correct who wrote the mentions, with a reason, through the service
        (which logs it on the mention and in the case's trail)."""
        form = ReattributeForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return _action_form_page(
                self,
                request,
                queryset,
                form=form,
                title=_("Re-attribute mentions"),
                action="reattribute",
            )
        author = form.cleaned_data["author"]
        _run_per_object(
            request,
            queryset.order_by("pk"),
            _("Re-attributed to %(author)s") % {"author": author},
            lambda mention: mention_reattribute(
                mention=mention,
                author=author,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            ),
        )
        return None


admin.site.unregister(Mention)
admin.site.register(Mention, MentionAdmin)
