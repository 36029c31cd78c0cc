"""Erase a person's data (every linked account), for a request handled outside
the admin: `manage.py person_erase --author 12 --actor mira --reason "AVG-113"`.
Prints what it did (counts and ids) as one JSON line; `--dry-run` only counts."""

import json

from django.core.management.base import BaseCommand, CommandError

from reporting.management.commands.person_export import (
    add_request_arguments,
    find_actor,
    find_author,
)
from reporting.services.privacy import person_erase, person_erase_preview
from webcare.errors import ServiceError


class Command(BaseCommand):
    help = "Erase a person's data across their linked accounts (cannot be undone)."

    def add_arguments(self, parser):
        add_request_arguments(parser)
        parser.add_argument(
            "--reason", default="", help="why, e.g. the request's number"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="only count what would go"
        )

    def handle(self, *args, author, actor, reason, dry_run=False, **options):
        found = find_author(author)
        try:
            if dry_run:
                result = person_erase_preview(author=found)
            else:
                result = person_erase(
                    author=found, actor=find_actor(actor), reason=reason
                )
        except ServiceError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(json.dumps({"dry_run": dry_run, **result.as_dict()}))
