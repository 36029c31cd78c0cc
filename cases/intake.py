"""Intake: an engaged mention opens a case, or joins the case of its dialogue.

Triage (sources) decides *whether* the team engages; this module decides *where*:
the active case of the same conversation, else of the same author ("look at the
dialogue, not the single post"), else a new case. It runs as the handler of
`MentionEngaged`, inside the triage transaction, so a mention is stored as engaged
only together with its case. The case services write the audit trail.
"""

from __future__ import annotations

import hashlib

from django.db import connection

from cases.models import Case, EscalationStatus
from cases.services import case_add_mention, case_escalate, case_open, case_update
from sources.models import Mention
from sources.triage.rules import PRIORITIES
from webcare.bus import MentionEngaged

SUBJECT_CHARS = 120


def mention_engaged(event: MentionEngaged) -> None:
    mention = Mention.objects.select_related("source", "author").get(
        pk=event.mention_id
    )
    mention_route(
        mention=mention,
        priority=event.priority,
        escalate_to=event.escalate_to,
        escalation_reason=event.escalation_reason,
        actor_label=event.actor_label,
    )


def mention_route(
    *,
    mention: Mention,
    priority: str,
    escalate_to: str = "",
    escalation_reason: str = "",
    actor=None,
    actor_label: str = "",
) -> Case:
    """Open or join the case of the mention's dialogue, raise its priority to
    `priority` and escalate to `escalate_to` as the rules said. Returns the case."""
    _serialize_dialogue(mention)
    if mention.case_id is not None:
        # Already linked by hand before triage got to it: that is its case.
        case = Case.objects.get(pk=mention.case_id)
    else:
        case = _open_case_of_dialogue(mention)
    if case is None:
        author = mention.author
        case = case_open(
            subject=_subject(mention),
            customer=author,
            priority=priority,
            category=mention.category,
            channel=mention.source.kind,
            crm_customer_id=author.crm_customer_id if author else "",
            conversation_key=mention.conversation_key,
            mention=mention,
            actor=actor,
            actor_label=actor_label,
        )
    else:
        if mention.case_id is None:
            case = case_add_mention(
                case=case, mention=mention, actor=actor, actor_label=actor_label
            )
        # A watch-list author joining, or a phishing report in a running dialogue,
        # makes the whole case more urgent; a milder mention never lowers it.
        if case.is_active and PRIORITIES.index(priority) > PRIORITIES.index(
            case.priority
        ):
            case = case_update(
                case=case, priority=priority, actor=actor, actor_label=actor_label
            )
    if escalate_to and case.is_active:
        already = case.escalations.filter(department=escalate_to).exclude(
            status=EscalationStatus.RESOLVED
        )
        if not already.exists():
            case_escalate(
                case=case,
                department=escalate_to,
                reason=escalation_reason,
                actor=actor,
                actor_label=actor_label,
            )
    return case


def _serialize_dialogue(mention: Mention) -> None:
    """Two mentions of one dialogue triaged at once must not open two cases.

    PostgreSQL: transaction-scoped advisory locks on the conversation and the
    author, taken in a fixed order so two workers cannot deadlock. SQLite runs
    one write transaction at a time, so it needs none.
    """
    if connection.vendor != "postgresql":
        return
    keys = []
    if mention.conversation_key:
        keys.append(f"conversation:{mention.conversation_key}")
    if mention.author_id:
        keys.append(f"author:{mention.author_id}")
    numbers = sorted(
        int.from_bytes(
            hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True
        )
        for key in keys
    )
    with connection.cursor() as cursor:
        for number in numbers:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


def _open_case_of_dialogue(mention: Mention) -> Case | None:
    """The active case of the same conversation, else of the same author."""
    active = Case.objects.active().order_by("-created_at", "-id")
    if mention.conversation_key:
        case = active.filter(conversation_key=mention.conversation_key).first()
        if case is not None:
            return case
    if mention.author_id:
        return active.filter(customer_id=mention.author_id).first()
    return None


def _subject(mention: Mention) -> str:
    # Case subjects are plain text, shown escaped like the mention itself.
    words = " ".join(mention.text.split()) or f"Mention on {mention.source.kind}"
    if len(words) > SUBJECT_CHARS:
        words = words[: SUBJECT_CHARS - 1].rstrip() + "…"
    return words
