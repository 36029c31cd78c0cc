"""Linking a social author to a CRM customer; the author's active cases follow."""

from __future__ import annotations

from django.db import transaction

from cases.models import ACTIVE_STATUSES, Case
from cases.services.updates import case_update
from sources.models import Author

# How many active cases of one author a link follows; more is not one customer.
MAX_LINKED_CASES = 100


def author_link_customer(
    *, author: Author, crm_customer_id: str, actor=None, actor_label: str = ""
) -> list[int]:
    """Link a social author to a CRM customer (or unlink with ""); the author's active
    cases that carried the old id (or none) follow, each through case_update so that
    every case's trail shows the change. Returns the ids of the cases changed."""
    with transaction.atomic():
        author = Author.objects.select_for_update().get(pk=author.pk)
        old = author.crm_customer_id
        author.crm_customer_id = crm_customer_id
        author.save(update_fields=["crm_customer_id", "updated_at"])
        cases = list(
            Case.objects.filter(
                customer=author,
                status__in=ACTIVE_STATUSES,
                crm_customer_id__in={old, ""} - {crm_customer_id},
            ).order_by("pk")[:MAX_LINKED_CASES]
        )
        for case in cases:
            case_update(
                case=case,
                crm_customer_id=crm_customer_id,
                actor=actor,
                actor_label=actor_label,
            )
    return [case.pk for case in cases]
