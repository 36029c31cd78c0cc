"""Load test: the API, the survey page and the admin queue at a steady rate, through
gunicorn on 127.0.0.1 as production runs it (DEBUG off, whitenoise, gunicorn.conf.py).

    .venv/bin/python bench/load.py [--seconds 30] [--users 4] [--rate 2] [--workers 2]

Never touches the database it is pointed at: with a PostgreSQL DATABASE_URL it creates
(and afterwards drops) a database of the same name with `_load` appended; otherwise an
SQLite file in a temporary directory. It migrates, loads the demo data (staff of every
role, cases through the services) and a few thousand cases and mentions besides, with
sent surveys whose tokens it knows and API clients with a read token; collects static
files; starts gunicorn; runs locust headless in a subprocess (bench/locustfile.py: gevent
must never be imported here) with `--users` users per class, each at `--rate` requests
per second (constant_throughput); and reports per class requests per second, median and
p95 in ms, and failures (429s counted apart). The throttles keep their production rates
(the survey page 30/min per address and 10/min per token, the API 600/min per client):
every customer comes from its own address behind a trusted proxy, as in production,
and each API user is its own client, so a 429 would be a finding, not noise.
Exit status 1 when any request failed. The last line is one JSON object.
"""

import argparse
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.owndb import drop_database, own_database  # noqa: E402

BIN = Path(sys.executable).parent

# The figures of each class: locust's request names that belong to it. Logging in
# happens once per agent (a deliberately slow password hash) and is reported apart.
CLASSES = {
    "api": ("api: cases", "api: mentions"),
    "survey": ("survey: page",),
    "queue": ("queue: mine", "queue: team"),
}
SECRET_KEY = "load-bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="duration of the run")
    parser.add_argument("--users", type=int, default=4, help="users per class")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="requests per second per user"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--cases", type=int, default=3000, help="cases besides demo")
    parser.add_argument(
        "--keep", action="store_true", help="keep the logs and statistics directory"
    )
    return parser.parse_args()


# --- The database -------------------------------------------------------------------


def server_environment(
    caller: dict[str, str], database_url: str, static_root: Path
) -> dict[str, str]:
    """Production's settings for gunicorn, on this run's database."""
    environment = {
        key: value
        for key, value in caller.items()
        # No broker: a GET enqueues nothing, and nothing may land in a shared queue.
        if key not in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "EMAIL_BACKEND")
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="webcare.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        # Production refuses to start without a mail server; nothing is mailed here.
        EMAIL_HOST="smtp.invalid",
        STATIC_ROOT=str(static_root),
        # locust stands where the TLS proxy stands (see bench/locustfile.py).
        WEBCARE_TRUSTED_PROXIES="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    # CACHE_URL (Redis) is kept when set: throttle counts shared by the workers, as in
    # production; otherwise each worker counts in its own memory.
    return environment


# --- Data ---------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    # Seeding runs here with DEBUG on and mail kept in memory: the demo's escalations
    # notify departments, and smtp.invalid would make every notice fail and retry.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webcare.settings",
        DATABASE_URL=database_url,
        DEBUG="true",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CACHE_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()


def collect_static(static_root: Path) -> None:
    """The manifest production's storage reads, without whitenoise's compressed
    copies (50 s on two cores): locust fetches no static files, a browser caches them."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=static_root):
        call_command("collectstatic", interactive=False, verbosity=0)


def seed(*, cases: int, agents: int, api_clients: int) -> dict:
    """Demo data through the services, then `cases` more cases in bulk (two mentions
    each; a sent survey for each resolved one with a customer not surveyed yet)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from cases.models import Agent, Case, Team
    from reporting.demo import DEMO_PASSWORD, load_demo_data
    from reporting.models import Survey, SurveyStatus
    from sources.models import Author, Mention, Source, SourceKind
    from webcare.api.auth import api_client_create

    call_command("migrate", verbosity=0)
    load_demo_data()
    User = get_user_model()
    rng = random.Random(16)
    now = timezone.now()
    with transaction.atomic():
        # The demo's password hash, reused: hashing it anew costs 0.3 s per user.
        password = User.objects.get(username="anna").password
        teams = [Team.objects.order_by("pk").first()] + [
            Team.objects.create(name=f"Load team {number}") for number in range(2)
        ]
        users = User.objects.bulk_create(
            User(
                username=f"load-agent-{number:02d}",
                first_name=f"Agent{number:02d}",
                last_name="Load",
                email=f"load-agent-{number:02d}@example.com",
                is_staff=True,
                password=password,
            )
            for number in range(agents)
        )
        Group.objects.get(name="agent").user_set.add(*users)
        Agent.objects.bulk_create(
            Agent(user=user, team=teams[number % len(teams)])
            for number, user in enumerate(users)
        )
        source = Source.objects.filter(kind=SourceKind.X_SEARCH).order_by("pk").first()
        customers = Author.objects.bulk_create(
            Author(
                platform=SourceKind.X_SEARCH,
                platform_id=f"load-{number}",
                handle=f"loadklant{number}",
                display_name=f"Klant {number}",
                follower_count=rng.randint(10, 5000),
                email=f"loadklant{number}@example.com" if number % 2 else "",
                language="nl" if number % 4 else "en",
            )
            for number in range(max(1, cases // 2))
        )
        statuses = ["new", "open", "open", "waiting", "resolved"] + ["closed"] * 5
        priorities = ["low", "normal", "normal", "normal", "high", "urgent"]
        categories = ["question", "complaint", "question", "praise", "other"]
        rows = []
        for number in range(cases):
            status = statuses[number % len(statuses)]
            created = now - timedelta(minutes=rng.randint(30, 60 * 24 * 60))
            answered = status != "new"
            done = status in ("resolved", "closed")
            assignee = (
                None if number % 7 == 0 and not answered else users[number % agents]
            )
            rows.append(
                Case(
                    subject=f"Load case {number}: pinpas werkt niet meer"[:300],
                    status=status,
                    priority=priorities[number % len(priorities)],
                    category=categories[number % len(categories)],
                    channel=SourceKind.X_SEARCH,
                    assignee=assignee,
                    team=teams[number % len(teams)],
                    customer=customers[number % len(customers)],
                    conversation_key=f"x:load-{number}",
                    reach=rng.randint(0, 2000),
                    close_reason="helped" if status == "closed" else "",
                    created_at=created,
                    first_response_at=created + timedelta(minutes=20)
                    if answered
                    else None,
                    resolved_at=created + timedelta(hours=6) if done else None,
                    closed_at=created + timedelta(days=2)
                    if status == "closed"
                    else None,
                    next_due_at=None
                    if done
                    else now + timedelta(minutes=rng.randint(-120, 8 * 60)),
                )
            )
        created_cases = Case.objects.bulk_create(rows, batch_size=500)
        Mention.objects.bulk_create(
            (
                Mention(
                    source=source,
                    external_id=f"load-{case.pk}-{part}",
                    author=case.customer,
                    text=f"@oranjebank {case.subject} (bericht {part + 1})",
                    language="nl",
                    published_at=case.created_at + timedelta(minutes=part * 30),
                    conversation_key=case.conversation_key,
                    triage_status="engaged",
                    category=case.category,
                    outcome="engage",
                    triaged_at=case.created_at,
                    case=case,
                )
                for case in created_cases
                for part in range(2)
            ),
            batch_size=500,
        )
        surveyed = set()
        surveys = []
        for case in created_cases:
            if case.resolved_at is None or case.customer_id in surveyed:
                continue
            surveyed.add(case.customer_id)
            sent = now - timedelta(hours=rng.randint(1, 10 * 24))
            surveys.append(
                Survey(
                    case=case,
                    recipient=case.customer,
                    email=f"loadklant{case.customer_id}@example.com",
                    language=case.customer.language or "nl",
                    status=SurveyStatus.SENT,
                    agent_first_name="Anna",
                    subject=case.subject,
                    scheduled_for=sent,
                    sent_at=sent,
                    send_attempts=1,
                )
            )
        Survey.objects.bulk_create(surveys, batch_size=500)
    tokens = [
        api_client_create(name=f"Load CRM {number}", scopes=["read"])[1]
        for number in range(api_clients)
    ]
    survey_tokens = list(
        Survey.objects.filter(
            status=SurveyStatus.SENT, case__in=[case.pk for case in created_cases]
        ).values_list("token", flat=True)
    )
    rng.shuffle(survey_tokens)
    counts = {
        "cases": Case.objects.count(),
        "mentions": Mention.objects.count(),
        "surveys_sent": len(survey_tokens),
        "agents": Agent.objects.count(),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    connection.close()
    return {
        "counts": counts,
        "api_tokens": tokens,
        "survey_tokens": survey_tokens,
        "agents": [user.username for user in users],
        "password": DEMO_PASSWORD,
    }


# --- The server and the load --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    environment: dict, port: int, workers: int, logs: Path
) -> subprocess.Popen:
    with (
        open(logs / "gunicorn.out", "wb") as out,
        open(logs / "gunicorn.err", "wb") as err,
    ):
        return subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "webcare.wsgi",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, killed as one
        )


def wait_until_up(server: subprocess.Popen, port: int, logs: Path) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/login/",
        headers={"X-Forwarded-Proto": "https"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.2)
    error = (logs / "gunicorn.err").read_text(errors="replace")[-3000:]
    raise SystemExit(f"gunicorn did not answer on port {port}:\n{error}")


def warm_up(port: int, fixtures: dict) -> None:
    """A few requests of each kind first, so that no worker's first import and
    template compilation lands in the measured percentiles."""
    api = {"Authorization": f"Bearer {fixtures['api_tokens'][0]}"}
    pages = [("/api/v1/cases/?page_size=50", api), ("/admin/login/", {})] + [
        (f"/s/{token}/", {"X-Forwarded-For": f"192.0.2.{number}"})
        for number, token in enumerate(fixtures["survey_tokens"][-4:])
    ]
    for path, headers in pages * 2:
        request = urllib.request.Request(  # noqa: S310 - our own http URL
            f"http://127.0.0.1:{port}{path}",
            headers={"X-Forwarded-Proto": "https", **headers},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            response.read()


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def run_locust(
    *, port: int, arguments: argparse.Namespace, fixtures: Path, workdir: Path
) -> Path:
    prefix = workdir / "locust"  # locust adds .json, _failures.csv, ...
    users = arguments.users * len(CLASSES)
    environment = {
        **os.environ,
        "WEBCARE_LOAD_FIXTURES": str(fixtures),
        "WEBCARE_LOAD_RATE": str(arguments.rate),
    }
    with open(workdir / "locust.log", "wb") as log:
        subprocess.run(
            [
                str(BIN / "locust"),
                "--locustfile",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "--host",
                f"http://127.0.0.1:{port}",
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{arguments.seconds}s",
                "--stop-timeout",
                "10",
                "--only-summary",
                "--json-file",
                str(prefix),
                "--csv",
                str(prefix),
            ],
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,  # exits 1 on any failure; the figures tell which
            timeout=arguments.seconds + 120,
        )
    stats = workdir / "locust.json"
    if not stats.exists():
        sys.stdout.write((workdir / "locust.log").read_text(errors="replace")[-3000:])
        raise SystemExit("locust wrote no statistics")
    return stats


def failure_kinds(workdir: Path) -> Counter:
    """Failures by request and error text ("status 429", ...), from locust's CSV."""
    kinds: Counter = Counter()
    path = workdir / "locust_failures.csv"
    if path.exists():
        with open(path, newline="") as file:
            for row in csv.DictReader(file):
                kinds[f"{row['Name']}: {row['Error']}"] += int(row["Occurrences"])
    return kinds


# --- Figures ------------------------------------------------------------------------


def percentile(histogram: Counter, fraction: float) -> float:
    """From locust's response-time histogram (ms, rounded to 2 significant digits
    above 100 ms, as locust itself reports)."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    rank, seen = fraction * total, 0
    for milliseconds in sorted(histogram):
        seen += histogram[milliseconds]
        if seen >= rank:
            return float(milliseconds)
    return float(max(histogram))


def summarise(entries: list[dict], seconds: float) -> dict:
    figures: dict = {}
    for label, names in CLASSES.items():
        chosen = [entry for entry in entries if entry["name"] in names]
        histogram: Counter = Counter()
        for entry in chosen:
            histogram.update(
                {float(ms): count for ms, count in entry["response_times"].items()}
            )
        requests = sum(entry["num_requests"] for entry in chosen)
        figures[f"{label}_requests"] = requests
        figures[f"{label}_rps"] = round(requests / seconds, 2)
        figures[f"{label}_p50_ms"] = percentile(histogram, 0.5)
        figures[f"{label}_p95_ms"] = percentile(histogram, 0.95)
        figures[f"{label}_failures"] = sum(entry["num_failures"] for entry in chosen)
    logins = [entry for entry in entries if entry["name"] == "admin: log in"]
    figures["logins"] = sum(entry["num_requests"] for entry in logins)
    return figures


def main() -> None:
    arguments = parse_arguments()
    # A terminated run cleans up too: gunicorn, the database, the directory.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    caller = dict(os.environ)  # before setup_django() changes it for seeding
    workdir = Path(tempfile.mkdtemp(prefix="webcare-load-"))
    database_url, database_name = "", ""
    server = None
    try:
        database_url, database_name = own_database("load", sqlite_dir=workdir)
        setup_django(database_url)
        started = time.perf_counter()
        fixtures = seed(
            cases=arguments.cases,
            agents=max(arguments.users, 8),
            api_clients=max(arguments.users, 4),
        )
        static_root = workdir / "static"
        collect_static(static_root)
        prepared = round(time.perf_counter() - started, 1)
        fixtures_file = workdir / "fixtures.json"
        fixtures_file.write_text(json.dumps(fixtures))
        print(f"prepared {fixtures['counts']} in {prepared} s", flush=True)

        port = free_port()
        server = start_gunicorn(
            server_environment(caller, database_url, static_root),
            port,
            arguments.workers,
            workdir,
        )
        wait_until_up(server, port, workdir)
        warm_up(port, fixtures)
        stats_file = run_locust(
            port=port, arguments=arguments, fixtures=fixtures_file, workdir=workdir
        )
        entries = json.loads(stats_file.read_text())
        kinds = failure_kinds(workdir)
    finally:
        stop(server)
        if database_name:
            drop_database(database_url, database_name)
        if arguments.keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    figures = summarise(entries, arguments.seconds)
    failures = sum(entry["num_failures"] for entry in entries)
    for entry in entries:
        print(
            f"{entry['method']:4} {entry['name']:18} {entry['num_requests']:6} requests"
            f"  {entry['num_failures']} failed"
        )
    for label in CLASSES:
        print(
            f"{label:6}: {figures[f'{label}_rps']} req/s, median "
            f"{figures[f'{label}_p50_ms']} ms, p95 {figures[f'{label}_p95_ms']} ms, "
            f"{figures[f'{label}_failures']} failed"
        )
    result = {
        "bench": "load",
        "database": "postgresql" if database_name else "sqlite",
        "cache": "redis" if caller.get("CACHE_URL") else "local memory per worker",
        "seconds": arguments.seconds,
        "users_per_class": arguments.users,
        "rate_per_user": arguments.rate,
        "gunicorn_workers": arguments.workers,
        **figures,
        "errors": failures,
        "throttled_429": sum(
            count for text, count in kinds.items() if "status 429" in text
        ),
        "error_kinds": dict(kinds),
        **fixtures["counts"],
        "prepare_seconds": prepared,
    }
    print(json.dumps(result))
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
