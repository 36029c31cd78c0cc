"""Shared by the cases admin pages: badges, due badges and bulk-action helpers."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Case as When_
from django.db.models import When
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html

from sources.models import Priority
from webcare.errors import ServiceError

DUE_SOON = timedelta(hours=1)
# As in Case.objects.for_queue(): urgent first.
PRIORITY_RANK = When_(
    When(priority=Priority.URGENT, then=0),
    When(priority=Priority.HIGH, then=1),
    When(priority=Priority.NORMAL, then=2),
    default=3,
)
BADGE_COLOURS = {
    "breached": "#ba2121",
    "soon": "#c86400",
    "ok": "#2e7d32",
    "done": "#6b6b6b",
    "urgent": "#ba2121",
    "high": "#c86400",
    "normal": "#417690",
    "low": "#6b6b6b",
}


def badge(kind: str, text: str, title: str = ""):
    return format_html(
        '<span title="{}" style="display:inline-block;padding:1px 6px;'
        'border-radius:8px;color:#fff;background:{};white-space:nowrap">{}</span>',
        title,
        BADGE_COLOURS[kind],
        text,
    )


def due_badge(due, *, done=False, now=None):
    """Green, orange within an hour, red when past; grey once met."""
    if due is None:
        return "-"
    now = now or timezone.now()
    local = timezone.localtime(due)
    text = local.strftime("%d-%m %H:%M")
    if done:
        return badge("done", text, "met")
    if due < now:
        return badge("breached", text, "breached")
    if due - now < DUE_SOON:
        return badge("soon", text, "due within an hour")
    return badge("ok", text, "due")


def report_outcome(request, done: list[str], errors: list[str], verb: str) -> None:
    """One message for what a bulk action did, one per object it could not do."""
    if done:
        messages.success(request, f"{verb}: {', '.join(done)}.")
    for error in errors:
        messages.error(request, error)


def _run_per_object(request, queryset, verb, call):
    """Call a service per selected object; one failure does not stop the others."""
    done, errors = [], []
    for obj in queryset:
        try:
            call(obj)
        except ServiceError as error:
            errors.append(f"#{obj.pk}: {error}")
        else:
            done.append(f"#{obj.pk}")
    report_outcome(request, done, errors, verb)


def _action_form_page(modeladmin, request, queryset, *, form, title, action):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    return render(request, "admin/cases/action_form.html", context)
