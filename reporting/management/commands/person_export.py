"""Export a person's data (every linked account) as JSON, for a request handled
outside the admin: `manage.py person_export --author 12 --actor mira`."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from reporting.services.privacy import person_export
from sources.models import Author
from webcare.errors import ServiceError


def add_request_arguments(parser) -> None:
    """Who the request is about and who handles it: the same for both commands."""
    parser.add_argument("--author", type=int, required=True, help="author id")
    parser.add_argument(
        "--actor",
        required=True,
        help="username of the person handling the request (on the record)",
    )


def find_actor(username: str):
    try:
        return get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(_("No user %(name)r.") % {"name": username}) from None


def find_author(author_id: int) -> Author:
    try:
        return Author.objects.get(pk=author_id)
    except Author.DoesNotExist:
        raise CommandError(_("No author %(id)s.") % {"id": author_id}) from None


class Command(BaseCommand):
    help = "Export a person's data (JSON, across their linked accounts)."

    def add_arguments(self, parser):
        add_request_arguments(parser)
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args, author, actor, output=None, **options):
        try:
            export = person_export(author=find_author(author), actor=find_actor(actor))
        except ServiceError as error:
            raise CommandError(str(error)) from None
        text = json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text + "\n")
            self.stderr.write(_("Written to %(path)s.") % {"path": output})
        else:
            self.stdout.write(text)
