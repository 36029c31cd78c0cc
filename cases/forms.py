"""Forms of the staff interface; the rules themselves live in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from cases.business_hours import ScheduleError
from cases.models import (
    ACTIVE_STATUSES,
    Case,
    Commitment,
    Escalation,
    Note,
    Reply,
    Team,
)
from cases.selectors import team_schedule
from sources.models import Department


class TeamAdminForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name", "email", "opening_hours")

    def clean_opening_hours(self):
        value = self.cleaned_data["opening_hours"] or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'Opening hours must be an object, e.g. {"blocks": {"mon": '
                '["08:00-12:30", "13:15-17:30"]}}.'
            )
        try:
            team_schedule(Team(opening_hours=value))
        except ScheduleError as error:
            raise forms.ValidationError(str(error)) from error
        return value


class CaseAdminForm(forms.ModelForm):
    class Meta:
        model = Case
        fields = (
            "subject",
            "priority",
            "category",
            "channel",
            "assignee",
            "team",
            "customer",
            "crm_customer_id",
            "topics",
            "is_structural",
            "structural_note",
        )

    def clean(self):
        cleaned = super().clean()
        # Checked here so the page shows it; the service checks it again.
        if (
            self.instance.pk
            and "assignee" in self.changed_data
            and self.instance.status not in ACTIVE_STATUSES
        ):
            # The instance already carries the new values; the status is not editable.
            self.add_error(
                "assignee",
                f"A {self.instance.get_status_display().lower()} case cannot be "
                "assigned; reopen it first.",
            )
        assignee = cleaned.get("assignee")
        if (
            "assignee" in self.changed_data
            and assignee is not None
            and not assignee.has_perm("cases.reply_case")
        ):
            # An Agent profile is not enough; the service would refuse after saving.
            name = assignee.get_full_name() or assignee.get_username()
            self.add_error(
                "assignee",
                f"{name} cannot be assigned cases: only team members who may reply "
                "can.",
            )
        return cleaned


def staff_who_may_reply():
    """Active team members (with an Agent profile) for assignee and owner choices."""
    return (
        get_user_model()
        .objects.filter(is_active=True, agent__isnull=False)
        .order_by("first_name", "username")
    )


class _ActiveCaseInlineForm(forms.ModelForm):
    """An inline row that adds something to the case through a service."""

    def _chosen_case(self, cleaned):
        # The inline's parent, or the case chosen on the commitment's own add page.
        return cleaned.get("case") or getattr(self.instance, "case", None)

    def clean(self):
        cleaned = super().clean()
        case = self._chosen_case(cleaned)
        if (
            self.has_changed()
            and case is not None
            and case.status not in ACTIVE_STATUSES
        ):
            raise forms.ValidationError(
                f"A {case.get_status_display().lower()} case takes no new "
                f"{self._meta.model._meta.verbose_name_plural}; reopen it first."
            )
        return cleaned


class NewReplyForm(_ActiveCaseInlineForm):
    class Meta:
        model = Reply
        fields = ("text", "channel", "is_private")
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].required = False
        self.fields["channel"].help_text = "Empty: the case's channel."

    def clean(self):
        cleaned = super().clean()
        case = self._chosen_case(cleaned)
        # Shown on the form, so the typed reply is not lost to a message after saving.
        if (
            self.has_changed()
            and case is not None
            and not case.channel
            and not cleaned.get("channel")
        ):
            self.add_error(
                "channel", "This case has no channel: say where the reply was sent."
            )
        return cleaned


class NewNoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ("text",)
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}


class NewCommitmentForm(_ActiveCaseInlineForm):
    class Meta:
        model = Commitment
        fields = ("description", "owner", "due_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "owner" in self.fields:  # absent on the read-only page
            self.fields["owner"].queryset = staff_who_may_reply()

    def clean_due_at(self):
        # Checked here so the page shows it; the service checks it again.
        due_at = self.cleaned_data["due_at"]
        if due_at is not None and due_at <= timezone.now():
            raise forms.ValidationError(
                "The due time of a commitment must be in the future."
            )
        return due_at


class NewEscalationForm(_ActiveCaseInlineForm):
    class Meta:
        model = Escalation
        fields = ("department", "reason")
        widgets = {"reason": forms.Textarea(attrs={"rows": 2})}


class EscalateActionForm(forms.Form):
    department = forms.ChoiceField(choices=Department.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}))


class ResolveEscalationActionForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the department did; the webcare team reads this.",
    )


class AddToCaseForm(forms.Form):
    case = forms.IntegerField(
        label="Case number", min_value=1, help_text="The case's number, e.g. 42."
    )

    def clean_case(self):
        number = self.cleaned_data["case"]
        case = Case.objects.filter(pk=number).first()
        if case is None:
            raise forms.ValidationError(f"There is no case #{number}.")
        return case
