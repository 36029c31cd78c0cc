"""Forms of the staff interface; the rules themselves live in services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy

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
from cases.personal_data import public_reply_refusal
from cases.selectors import conversation_change_message, team_schedule
from sources.models import Department, Mention
from sources.publishers import can_publish


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


def _post_label(mention) -> str:
    who = f"@{mention.author.handle}" if mention.author_id else "?"
    return f"{who}: {Truncator(mention.text).chars(80)}"


class NewReplyForm(_ActiveCaseInlineForm):
    # Where the conversation stood when the page was drawn (cases.selectors); a
    # reply written before a new post or a colleague's reply is refused.
    conversation_seen = forms.CharField(widget=forms.HiddenInput, required=False)

    publish = forms.BooleanField(
        label=gettext_lazy("Publish on the platform"),
        required=False,
        help_text=gettext_lazy(
            "Send it from the team's account, in reply to the post chosen above "
            "(privately as a direct message). Off: it was sent elsewhere."
        ),
    )
    posted_url = forms.URLField(
        label=gettext_lazy("Posted by hand at"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy(
            "Feeds and blogs: post it yourself, then give the link to it here."
        ),
    )

    class Meta:
        model = Reply
        fields = ("in_reply_to", "text", "channel", "is_private")
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}

    def __init__(
        self,
        *args,
        conversation_position: str = "",
        case=None,
        answerable=(),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.conversation_position = conversation_position
        self.fields["conversation_seen"].initial = conversation_position
        self.fields["channel"].required = False
        self.fields["channel"].help_text = "Empty: the case's channel."
        # Only this case's posts, never a select of every mention. `answerable` is
        # read once per page (CaseAdmin.get_formset_kwargs), newest first.
        answered = self.fields["in_reply_to"]
        answered.queryset = (
            Mention.objects.filter(case=case)
            if case is not None
            else Mention.objects.none()
        )
        answered.label = gettext_lazy("In answer to")
        answered.choices = [("", "---------")] + [
            (mention.pk, _post_label(mention)) for mention in answerable
        ]
        if answerable:
            answered.initial = answerable[0].pk
        if case is not None:
            self.fields["publish"].initial = can_publish(case.channel)

    def has_changed(self):
        # The hidden position alone is not a reply.
        return bool(set(self.changed_data) - {"conversation_seen"})

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
        if (
            self.has_changed()
            and not cleaned.get("is_private")
            and (refusal := public_reply_refusal(cleaned.get("text", "")))
        ):
            self.add_error("text", refusal)
        seen = cleaned.get("conversation_seen")
        if (
            self.has_changed()
            and seen
            and self.conversation_position
            and seen != self.conversation_position
        ):
            # Said on the form, with the typed text kept; the page now shows the new
            # messages and carries the new position, so sending again goes through.
            self.add_error(
                None,
                conversation_change_message(self._chosen_case(cleaned), seen),
            )
            self.data = self.data.copy()
            self.data[self.add_prefix("conversation_seen")] = self.conversation_position
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


class MarkPublishedForm(forms.Form):
    url = forms.URLField(
        label=gettext_lazy("Link on the platform"),
        max_length=500,
        assume_scheme="https",
        help_text=gettext_lazy("Where the reply is, as you found it."),
    )
