from django import forms
from django.utils.translation import gettext_lazy as _

from reporting.services import MAX_COMMENT_LENGTH

SCORES = range(0, 11)


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
    # Stored exactly as typed (no stripping); it is escaped wherever it is shown.
    comment = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_COMMENT_LENGTH}),
    )
