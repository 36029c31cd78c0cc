"""Show how a text would be triaged today, without storing anything.

python manage.py triage --text "..." [--source-kind K] [--author-flags a,b]
                        [--reach N] [--language nl] [--json]
"""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sources.models import Author, SourceKind
from sources.triage.classifier import classify
from sources.triage.rules import MentionFacts, decide
from sources.triage.services import (
    TriageError,
    decision_as_dict,
    pattern_timeout,
    rule_specs,
)


class Command(BaseCommand):
    help = "Explain how a text would be triaged by today's rules (stores nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--text", required=True)
        parser.add_argument(
            "--source-kind", default=SourceKind.MANUAL, choices=SourceKind.values
        )
        parser.add_argument(
            "--author-flags",
            default="",
            help=f"Comma-separated, of: {', '.join(Author.WATCH_FLAGS)}.",
        )
        parser.add_argument("--reach", type=int, default=0)
        parser.add_argument(
            "--language", default="", help="Default: the classifier's guess."
        )
        parser.add_argument("--json", action="store_true", help="Machine-readable.")

    def handle(self, *args, **options):
        flags = frozenset(
            flag.strip() for flag in options["author_flags"].split(",") if flag.strip()
        )
        unknown = flags - set(Author.WATCH_FLAGS)
        if unknown:
            raise CommandError(f"Unknown author flags: {', '.join(sorted(unknown))}")
        if options["reach"] < 0:
            raise CommandError("--reach cannot be negative")
        try:
            rules = rule_specs()
        except TriageError as error:
            raise CommandError(str(error)) from None
        classification = classify(options["text"])
        facts = MentionFacts(
            text=options["text"],
            category=classification.category,
            confidence=classification.confidence,
            source_kind=options["source_kind"],
            author_flags=flags,
            reach=options["reach"],
            language=options["language"] or classification.language,
        )
        decision = decide(
            rules,
            facts,
            min_confidence=settings.WEBCARE_TRIAGE_MIN_CONFIDENCE,
            pattern_timeout=pattern_timeout(),
        )
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "classification": classification.as_dict(),
                        "decision": decision_as_dict(decision),
                    },
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        write = self.stdout.write
        write(
            f"category:   {classification.category} "
            f"(confidence {classification.confidence:.2f}, "
            f"language {facts.language or 'unknown'})"
        )
        write("signals:")
        for signal in classification.signals:
            write(f"  {signal.weight:+.2f} {signal.name} -> {signal.category}")
        if not classification.signals:
            write("  (none fired)")
        write(f"rule:       {decision.rule_name or '(none: review fallback)'}")
        write(f"outcome:    {decision.outcome} (priority {decision.priority})")
        if decision.also_escalate_to or decision.department:
            write(f"escalate:   {decision.department or decision.also_escalate_to}")
        write(f"reason:     {decision.reason}")
        write("how the rules were tried:")
        for line in decision.explanation:
            write(f"  - {line}")
