"""The public survey pages: no login, one query to show, friendly on every error.

The customer's language comes from the survey (or ?lang=nl|en); a bad, unknown,
expired or used link gets a page with the matching status code, never a 500.
"""

import hashlib
import math
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from reporting.forms import SCORES, SurveyAnswerForm
from reporting.models import Survey, SurveyStatus
from reporting.services import (
    SUPPORTED_LANGUAGES,
    SurveyClosed,
    survey_answer,
    survey_can_correct,
    survey_is_expired,
    survey_opt_out,
)
from webcare.net import throttle_key

# Tokens are URL-safe base64; anything else was tampered with and needs no query.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32,64}")


class SurveyThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle on the cache, for plain Django views."""

    def __init__(self, scope: str, token: str = ""):
        self.scope = scope
        self.token = token
        super().__init__()

    def get_rate(self):
        # Read at request time, so a changed REST_FRAMEWORK setting applies.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        # Hash the token: it is untrusted input (any bytes) and must not sit in the cache.
        ident = (
            hashlib.sha256(self.token.encode(errors="replace")).hexdigest()
            if self.scope == "survey_token"
            else throttle_key(request)
        )
        return self.cache_format % {"scope": self.scope, "ident": ident}


def _headers(response: HttpResponse) -> HttpResponse:
    # A personal page: never cached, never indexed, the token never sent to another
    # site. Not "no-referrer": browsers then send "Origin: null" and CSRF fails.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Content-Language"] = translation.get_language()
    return response


def _language(request: HttpRequest, survey: Survey | None) -> str:
    chosen = request.GET.get("lang", "")
    if chosen in SUPPORTED_LANGUAGES:
        return chosen
    if survey is not None and survey.language in SUPPORTED_LANGUAGES:
        return survey.language
    requested = (getattr(request, "LANGUAGE_CODE", "") or "")[:2]
    return requested if requested in SUPPORTED_LANGUAGES else "nl"


def _message(
    request: HttpRequest, reason: str, *, status: int, retry_after: float | None = None
) -> HttpResponse:
    response = render(
        request, "reporting/survey_message.html", {"reason": reason}, status=status
    )
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return _headers(response)


def _staff_refused(request: HttpRequest) -> HttpResponse | None:
    """A staff session never sees or answers a customer's survey: an answer would
    be recorded as the customer's (an agent rating herself). Before the token is
    looked up, so nothing about the survey is read or written."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return _message(request, "staff", status=403)
    return None


def _throttled(request: HttpRequest, token: str) -> HttpResponse | None:
    for throttle in (
        SurveyThrottle("survey_ip"),
        SurveyThrottle("survey_token", token),
    ):
        if not throttle.allow_request(request, None):
            return _message(
                request, "throttled", status=429, retry_after=throttle.wait()
            )
    return None


def _find(
    request: HttpRequest, token: str
) -> tuple[Survey | None, HttpResponse | None]:
    """The survey of a token, or the page to show instead."""
    refused = _staff_refused(request) or _throttled(request, token)
    if refused is not None:
        return None, refused
    survey = None
    if TOKEN_PATTERN.fullmatch(token):
        survey = Survey.objects.filter(token=token).first()
    if survey is None:
        return None, _message(request, "unknown", status=404)
    return survey, None


def _closed(request: HttpRequest, survey: Survey) -> HttpResponse | None:
    if survey.status == SurveyStatus.CANCELLED:
        return _message(request, "cancelled", status=410)
    if survey_is_expired(survey=survey):
        return _message(request, "expired", status=410)
    return None


def _with_lang(url: str, request: HttpRequest) -> str:
    chosen = request.GET.get("lang", "")
    return f"{url}?lang={chosen}" if chosen in SUPPORTED_LANGUAGES else url


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    with translation.override(_language(request, None)):
        survey, refused = _find(request, token)
        if refused is not None:
            return refused
    with translation.override(_language(request, survey)):
        thanks_url = _with_lang(
            reverse("reporting:survey_thanks", kwargs={"token": token}), request
        )
        answered = survey.status == SurveyStatus.ANSWERED
        if answered and not survey_can_correct(survey=survey):
            # Used: the answer is final; a second submit lands here too.
            return redirect(thanks_url)
        closed = _closed(request, survey)
        if closed is not None:
            return closed

        status = 200
        if request.method == "POST":
            form = SurveyAnswerForm(request.POST)
            if form.is_valid():
                try:
                    survey_answer(
                        survey=survey,
                        score=form.cleaned_data["score"],
                        comment=form.cleaned_data["comment"],
                    )
                except SurveyClosed as error:
                    return _message(request, error.status, status=410)
                # Answered, corrected, unchanged or final: the thank-you page.
                return redirect(thanks_url, permanent=False)
            status = 400
        else:
            initial = {"score": survey.score, "comment": survey.comment}
            form = SurveyAnswerForm(initial=initial if answered else None)
        selected = form["score"].value()
        response = render(
            request,
            "reporting/survey_form.html",
            {
                "survey": survey,
                "form": form,
                "scores": SCORES,
                "selected": str(selected) if selected not in (None, "") else "",
                "correcting": answered,
                "correct_until": (
                    survey.responded_at + settings.WEBCARE_SURVEY_CORRECTION_WINDOW
                    if answered
                    else None
                ),
                "other_language": "en" if translation.get_language() == "nl" else "nl",
            },
            status=status,
        )
        return _headers(response)


@never_cache
@require_http_methods(["GET"])
def survey_thanks(request: HttpRequest, token: str) -> HttpResponse:
    with translation.override(_language(request, None)):
        survey, refused = _find(request, token)
        if refused is not None:
            return refused
    with translation.override(_language(request, survey)):
        if survey.status != SurveyStatus.ANSWERED:
            closed = _closed(request, survey)
            if closed is not None:
                return closed
            return redirect(
                _with_lang(
                    reverse("reporting:survey", kwargs={"token": token}), request
                )
            )
        response = render(
            request,
            "reporting/survey_thanks.html",
            {
                "survey": survey,
                "can_correct": survey_can_correct(survey=survey),
                "survey_url": _with_lang(
                    reverse("reporting:survey", kwargs={"token": token}), request
                ),
            },
        )
        return _headers(response)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def survey_opt_out_page(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm first: mail scanners follow links, and a GET must change nothing."""
    with translation.override(_language(request, None)):
        survey, refused = _find(request, token)
        if refused is not None:
            return refused
    with translation.override(_language(request, survey)):
        done = False
        if request.method == "POST":
            survey_opt_out(survey=survey)
            done = True
        else:
            done = survey.recipient.survey_opt_out_at is not None
        response = render(
            request,
            "reporting/survey_opt_out.html",
            {"survey": survey, "done": done},
        )
        return _headers(response)
