"""Poll sources once, synchronously: the same service the Celery task calls."""

from django.core.management.base import BaseCommand, CommandError

from sources.models import Source, SourceKind
from sources.services import source_poll


class Command(BaseCommand):
    help = "Poll due sources once (or every active source, or one) and report."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--all",
            action="store_true",
            dest="poll_all",
            help="Poll every active source, due or not.",
        )
        which.add_argument(
            "--source", type=int, metavar="ID", help="Poll this source only."
        )

    def handle(self, *args, poll_all=False, source=None, **options):
        if source is not None:
            sources = Source.objects.filter(pk=source)
            if not sources.exists():
                raise CommandError(f"No source with id {source}.")
        elif poll_all:
            sources = Source.objects.filter(is_active=True).exclude(
                kind=SourceKind.MANUAL
            )
        else:
            sources = Source.objects.due()
        failed = 0
        polled = 0
        for pk, name in sources.order_by("pk").values_list("pk", "name"):
            result = source_poll(source_id=pk)
            polled += 1
            line = (
                f"source {pk} {name}: fetched {result.fetched}, new {result.new}, "
                f"updated {result.updated}, failed {result.failed}"
            )
            if result.not_modified:
                line += ", not modified"
            if result.error:
                failed += 1
                self.stdout.write(self.style.ERROR(f"{line}; error: {result.error}"))
            else:
                self.stdout.write(line)
        if not polled:
            self.stdout.write("No source to poll.")
        if failed:
            raise CommandError(f"{failed} of {polled} sources failed.")
