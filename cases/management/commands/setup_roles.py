"""Create or update the staff groups (agent, spokesperson, customer_service, manager)."""

from django.apps import apps
from django.core.management.base import BaseCommand

from webcare.roles import ROLE_PERMISSIONS, apply_roles


class Command(BaseCommand):
    help = "Create or update the staff groups and their permissions (webcare/roles.py)."

    def handle(self, *args, **options):
        apply_roles(apps)
        self.stdout.write(
            self.style.SUCCESS(
                f"Staff groups up to date: {', '.join(ROLE_PERMISSIONS)}"
            )
        )
