from django.core.management.base import BaseCommand

from reporting.demo import load_demo_data


class Command(BaseCommand):
    help = "Load realistic demo data (once): team, sources, mentions, cases, surveys."

    def handle(self, *args, **options):
        result = load_demo_data()
        if not result["created"]:
            self.stdout.write(f"Demo data already present ({result['cases']} cases).")
            return
        summary = ", ".join(
            f"{value} {key}" for key, value in result.items() if key != "created"
        )
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
