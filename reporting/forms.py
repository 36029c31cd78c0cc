from django import forms
from django.utils.translation import gettext_lazy as _

from reporting.services import MAX_COMMENT_LENGTH

SCORES = range(0, 11)


class CommentField(forms.CharField):
    """Line breaks arrive as CRLF from a browser's textarea but count as one
    character in its maxlength: normalised to LF before the length is checked."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n")


class SurveyAnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(score, str(score)) for score in SCORES],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose a score from 0 to 10."),
            "invalid_choice": _("Choose a score from 0 to 10."),
        },
    )
    # Stored as typed (no stripping, line breaks as LF); escaped wherever it is shown.
    comment = CommentField(
        required=False,
        strip=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_COMMENT_LENGTH}),
    )


class PersonEraseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        help_text=_(
            "Why the data is erased, e.g. the request's number. Recorded on every "
            "affected case and account: do not name the person."
        ),
    )
