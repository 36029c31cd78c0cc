"""`manage.py create_api_client NAME --scopes read,write,ingest`: prints the token once."""

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from webcare.api.auth import api_client_create
from webcare.api.models import ApiScope


class Command(BaseCommand):
    help = "Create an API client for the CRM and print its token (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            default=ApiScope.READ,
            help=f"Comma-separated, any of: {', '.join(ApiScope.values)}.",
        )

    def handle(self, *args, name, scopes, **options):
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        if not wanted:
            raise CommandError("Give at least one scope.")
        try:
            client, token = api_client_create(name=name, scopes=wanted)
        except ValueError as exc:
            raise CommandError(str(exc))
        except IntegrityError:
            raise CommandError(f"An API client named {name!r} exists already.")
        self.stderr.write(
            f"Created API client {client.name} with scopes "
            f"{', '.join(client.scopes)}. The token is printed once; store it now."
        )
        self.stdout.write(token)
