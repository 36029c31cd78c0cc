"""An erased person in the REST platform's own records: webhook deliveries (a retry
re-sends the stored payload) and stored idempotent answers (a replay returns them).

Subscribed in `ReportingConfig.ready()`; runs in the erasure's transaction, after
the person's rows were rewritten, so the values copied here are the erased ones.
The rows stay (counts, statuses, attempts); only what they said about the person
changes.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from cases.models import Case
from reporting.services.privacy import replace_quotes
from sources.models import Author
from sources.services.erasure import erased_reference
from webcare.api.models import IdempotencyKey, WebhookDelivery
from webcare.bus import PersonErased

# The serialised fields of a case and of its customer that say who or what: the
# erased row's values replace them.
CASE_FIELDS = ("subject", "crm_customer_id", "structural_note", "conversation_key")
AUTHOR_FIELDS = ("platform_id", "handle", "display_name", "crm_customer_id", "email")
# What a reply, note, escalation, commitment or survey of the person's case says.
CHILD_TEXT_FIELDS = ("text", "reason", "resolution_note", "description", "comment")


def person_erased(event: PersonErased) -> None:
    case_ids = [*event.case_ids, *event.other_case_ids]
    if not case_ids and not event.survey_ids and not event.author_ids:
        return
    redactor = _Redactor(event)
    deliveries = WebhookDelivery.objects.filter(
        Q(payload__case__id__in=case_ids)
        | Q(payload__survey__id__in=list(event.survey_ids))
        | Q(payload__case__customer__in=list(event.author_ids))
    ).order_by("pk")
    changed = []
    for delivery in deliveries:
        payload = redactor.redact(delivery.payload)
        if payload != delivery.payload:
            delivery.payload = payload
            changed.append(delivery)
    WebhookDelivery.objects.bulk_update(changed, ["payload"], batch_size=500)
    answers = IdempotencyKey.objects.filter(
        Q(response_body__case__in=case_ids)
        | Q(response_body__id__in=case_ids)
        | Q(response_body__customer__id__in=list(event.author_ids))
    ).order_by("pk")
    changed = []
    for answer in answers:
        body = redactor.redact(answer.response_body)
        if body != answer.response_body:
            answer.response_body = body
            changed.append(answer)
    IdempotencyKey.objects.bulk_update(changed, ["response_body"], batch_size=500)


class _Redactor:
    """Rewrites a stored JSON document: the person's case, customer and the texts
    of their records get the erased values; quotes of them elsewhere a marker."""

    def __init__(self, event: PersonErased):
        self.own = set(event.case_ids)
        self.other = set(event.other_case_ids)
        self.surveys = set(event.survey_ids)
        self.quotes = event.quotes
        self.cases = {
            case["id"]: case
            for case in Case.objects.filter(pk__in=self.own | self.other).values(
                "id", *CASE_FIELDS
            )
        }
        self.authors = {
            author["id"]: author
            for author in Author.objects.filter(pk__in=event.author_ids).values(
                "id", *AUTHOR_FIELDS
            )
        }

    def redact(self, value: Any) -> Any:
        if isinstance(value, str):
            return replace_quotes(value, self.quotes)
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        if not isinstance(value, dict):
            return value
        result = {key: self.redact(item) for key, item in value.items()}
        identity = value.get("id")
        if not isinstance(identity, int):
            identity = None
        if "subject" in value and identity in self.own:
            self._copy(result, self.cases[identity], CASE_FIELDS)
        elif (
            "subject" in value
            and identity in self.other
            and result["subject"] != value["subject"]
        ):
            # It quoted the person: the case's new, neutral subject.
            result["subject"] = self.cases[identity]["subject"]
        customer = value.get("customer")
        if isinstance(customer, dict) and customer.get("id") in self.authors:
            self._copy(result["customer"], self.authors[customer["id"]], AUTHOR_FIELDS)
        case = value.get("case")
        if (isinstance(case, int) and case in self.own) or (
            "score" in value and identity in self.surveys
        ):
            for key in CHILD_TEXT_FIELDS:
                if isinstance(value.get(key), str) and value[key]:
                    result[key] = ""
            if isinstance(value.get("external_id"), str) and "channel" in value:
                result["external_id"] = erased_reference(
                    value["channel"], value["external_id"]
                )
        return result

    @staticmethod
    def _copy(target: dict, erased: dict, fields: tuple[str, ...]) -> None:
        for name in fields:
            if name in target:
                target[name] = erased[name]
