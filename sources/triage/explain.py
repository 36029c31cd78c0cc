"""Why a mention was triaged the way it was, as HTML for the staff pages.

Everything shown comes from the stored triage (the mention's fields and
triage_signals), so the page shows what was decided then, not what today's
rules would say. Mention text and anything derived from it are hostile: every
value goes through format_html / format_html_join, which escape it.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sources.models import Mention


def _signal_rows(signals: list) -> SafeString:
    rows = [
        (str(signal.get("name", "")), str(signal.get("category", "")), _number(signal))
        for signal in signals
        if isinstance(signal, dict)
    ]
    if not rows:
        return format_html("<p>{}</p>", "No signals fired.")
    return format_html(
        "<table><thead><tr><th>signal</th><th>for</th><th>weight</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
    )


def _number(signal: dict) -> str:
    value = signal.get("weight")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:+.2f}"
    return ""


def _lines(lines: list) -> SafeString:
    return format_html(
        "<ol>{}</ol>",
        format_html_join("", "<li>{}</li>", ((str(line),) for line in lines)),
    )


def triage_explanation_html(mention: Mention) -> SafeString:
    """The category, confidence, signals, deciding rule, outcome and reason."""
    if not mention.triaged_at:
        reason = mention.triage_reason or "Not triaged yet."
        return format_html("<p>{}</p>", reason)
    stored = mention.triage_signals if isinstance(mention.triage_signals, dict) else {}
    classification = stored.get("classification") or {}
    decision = stored.get("decision") or {}
    facts = stored.get("facts") or {}
    review = stored.get("review") or {}
    confidence = (
        f"{mention.confidence:.2f}" if mention.confidence is not None else "unknown"
    )
    rule = decision.get("rule_name") or "no rule (review fallback)"
    summary = format_html(
        "<dl>"
        "<dt>Category</dt><dd>{} (confidence {}, language {})</dd>"
        "<dt>Rule</dt><dd>{}</dd>"
        "<dt>Outcome</dt><dd>{}{}</dd>"
        "<dt>Reason</dt><dd>{}</dd>"
        "<dt>Facts</dt><dd>source {}, reach {}, author flags {}</dd>"
        "<dt>Triaged at</dt><dd>{}</dd>"
        "</dl>",
        mention.get_category_display() or mention.category or "-",
        confidence,
        classification.get("language") or mention.language or "unknown",
        rule,
        decision.get("outcome") or mention.outcome or "-",
        format_html(", priority {}", decision["priority"])
        if decision.get("priority")
        and decision.get("outcome") in ("engage", "escalate")
        else "",
        decision.get("reason") or mention.triage_reason or "-",
        facts.get("source_kind", "-"),
        facts.get("reach", "-"),
        ", ".join(str(flag) for flag in facts.get("author_flags") or []) or "none",
        mention.triaged_at.isoformat(timespec="seconds"),
    )
    parts = [
        summary,
        format_html("<h4>{}</h4>", "How the rules were tried"),
        _lines(decision.get("explanation") or []),
        format_html("<h4>{}</h4>", "Classifier signals"),
        _signal_rows(classification.get("signals") or []),
    ]
    if review:
        parts.append(
            format_html(
                "<h4>{}</h4><p>{} by {} at {}{}</p>",
                "Review",
                review.get("outcome", "-"),
                review.get("by", "-"),
                review.get("at", "-"),
                format_html(": {}", review["note"]) if review.get("note") else "",
            )
        )
    return format_html_join("", "{}", ((part,) for part in parts))
