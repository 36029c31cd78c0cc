"""Benchmark: the CRM's case list endpoint on PostgreSQL, 200,000 cases, 1,000,000 mentions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare_apibench \
        .venv/bin/python bench/api_case_list.py

The database named in DATABASE_URL is dropped and rebuilt (its name must contain
"bench"). Data is made with INSERT ... SELECT generate_series, not the ORM. Requests go
through Django's test Client, in-process: the figure is the application and database
cost of one request without network or WSGI server overhead. Reported: requests per
second, p50/p95 latency, queries per request for page sizes 10/50/100 (constant), and
the time of the one SQL query that fetches the same page, measured in the same run.
The last line is one JSON object.
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = 200_000
MENTIONS = 1_000_000
AUTHORS = 50_000
AGENTS = 40
TEAMS = 4
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
PAGE_SIZE = 50


def reset_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to reset {name!r}: the database name must contain 'bench'.")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")
    # Production-like: no DEBUG query log; no throttling of the benchmark itself.
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    # Production refuses to start without a mail server; the benchmark mails nothing.
    os.environ.setdefault("EMAIL_HOST", "smtp.invalid")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ["API_THROTTLE_RATE"] = "100000000/min"
    import django

    django.setup()


def load_data() -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from cases.models import Agent, Team, Topic
    from sources.models import Source

    call_command("migrate", verbosity=0)
    teams = [Team.objects.create(name=f"Team {n}") for n in range(TEAMS)]
    users = []
    for n in range(AGENTS):
        user = get_user_model().objects.create_user(
            username=f"agent{n}", first_name=f"Agent{n}", is_staff=True
        )
        Agent.objects.create(user=user, team=teams[n % TEAMS])
        users.append(user.pk)
    for name in ("Payments", "App", "Fees", "Mortgages", "Phishing", "Cards"):
        Topic.objects.create(name=name)
    sources = [
        Source.objects.create(name=f"Source {n}", kind="x_search").pk for n in range(20)
    ]
    team_ids = [team.pk for team in teams]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sources_author (platform, platform_id, handle, display_name,
                follower_count, is_journalist, is_columnist, is_influential, is_vip,
                is_repeat_complainer, is_blocked, crm_customer_id, email, language,
                created_at, updated_at)
            SELECT 'x_search', g::text, 'klant' || g, 'Klant ' || g, g %% 5000,
                false, false, g %% 500 = 0, false, false, false,
                CASE WHEN g %% 3 = 0 THEN 'CRM-' || g ELSE '' END, '', 'nl',
                now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [AUTHORS],
        )
        cursor.execute("SELECT min(id) FROM sources_author")
        first_author = cursor.fetchone()[0]
        # Statuses spread like a living system; resolved/closed rows have their times.
        cursor.execute(
            """
            INSERT INTO cases_case (subject, status, priority, category, channel,
                assignee_id, team_id, is_structural, structural_note, customer_id,
                crm_customer_id, conversation_key, reach, close_reason, created_at,
                updated_at, first_response_at, resolved_at, closed_at)
            SELECT 'Case ' || g || ': pinpas werkt niet',
                s.status,
                (ARRAY['low','normal','normal','high','urgent'])[1 + g %% 5],
                (ARRAY['question','complaint','phishing','praise','other'])[1 + g %% 5],
                'x_search',
                CASE WHEN g %% 7 = 0 THEN NULL ELSE (%s::bigint[])[1 + g %% %s] END,
                (%s::bigint[])[1 + g %% %s],
                g %% 50 = 0, '', %s + g %% %s,
                CASE WHEN g %% 3 = 0 THEN 'CRM-' || (g %% %s) ELSE '' END,
                'x:' || g, g %% 1000,
                CASE WHEN s.status = 'closed' THEN 'helped' ELSE '' END,
                t.created, t.created + (g %% 86400) * interval '1 second',
                t.created + interval '20 minutes',
                CASE WHEN s.status IN ('resolved', 'closed') THEN t.created + interval '1 day' END,
                CASE WHEN s.status = 'closed' THEN t.created + interval '2 days' END
            FROM generate_series(1, %s) AS g,
            LATERAL (SELECT (ARRAY['new','open','open','waiting','escalated',
                'resolved','closed','closed','closed','closed'])[1 + g %% 10]
                AS status) AS s,
            LATERAL (SELECT now() - interval '400 days'
                + (g::float / %s) * interval '399 days' AS created) AS t
            """,
            [
                users,
                len(users),
                team_ids,
                len(team_ids),
                first_author,
                AUTHORS,
                AUTHORS,
                CASES,
                CASES,
            ],
        )
        cursor.execute("SELECT min(id) FROM cases_case")
        first_case = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO cases_case_topics (case_id, topic_id)
            SELECT c.id, (SELECT min(id) FROM cases_topic) + c.id % 6
            FROM cases_case AS c WHERE c.id % 2 = 0
            """
        )
        cursor.execute(
            """
            INSERT INTO sources_mention (source_id, external_id, url, author_id, text,
                language, published_at, first_seen_at, updated_at, is_deleted,
                in_reply_to, conversation_key, likes, reposts, replies, raw,
                triage_status, category, triage_signals, outcome, triage_reason,
                case_id)
            SELECT (%s::bigint[])[1 + g %% 20], g::text, '', %s + g %% %s,
                '@oranjebank bericht ' || g, 'nl',
                now() - (g %% 400) * interval '1 day', now(), now(), false, '',
                'x:' || (g %% %s), g %% 7, g %% 3, g %% 2, '{}'::jsonb,
                'engaged', 'question', '{}'::jsonb, 'engage', '',
                %s + g %% %s
            FROM generate_series(1, %s) AS g
            """,
            [sources, first_author, AUTHORS, CASES, first_case, CASES, MENTIONS],
        )
        cursor.execute("ANALYZE")
    return {
        "load_seconds": round(time.perf_counter() - started, 1),
        "team": team_ids[1],
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'."
        )
    reset_database(url)
    setup_django()

    from datetime import timedelta

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from cases.models import Case
    from sources.models import Mention
    from webcare.api.auth import api_client_create

    loaded = load_data()
    counts = {"cases": Case.objects.count(), "mentions": Mention.objects.count()}
    print(f"loaded {counts} in {loaded['load_seconds']} s", flush=True)
    _, token = api_client_create(name="bench", scopes=["read"])
    http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    since = (timezone.now() - timedelta(days=120)).isoformat()
    # A CRM's usual question: active cases of one team, changed since its last sync.
    filters = {
        "status": ["open", "waiting", "escalated"],
        "team": loaded["team"],
        "updated_since": since,
    }

    def get(params):
        response = http.get("/api/v1/cases/", params)
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code}: {response.content[:300]}")
        return response.json()

    # Cursors of consecutive pages, so the timed requests walk the list as a sync does.
    cursors, cursor = [None], None
    while len(cursors) < 40:
        body = get(
            {
                **filters,
                "page_size": PAGE_SIZE,
                **({"cursor": cursor} if cursor else {}),
            }
        )
        if not body["has_more"]:
            break
        cursor = body["next_cursor"]
        cursors.append(cursor)

    queries_per_request = {}
    for size in (10, 50, 100):
        get({**filters, "page_size": size})
        with CaptureQueriesContext(connection) as captured:
            body = get({**filters, "page_size": size})
        assert len(body["results"]) == size, (size, len(body["results"]))
        queries_per_request[size] = len(captured)
        if size == PAGE_SIZE:
            # The query that fetches the page's cases: the one that reads cases_case.
            page_sql = next(
                q["sql"]
                for q in captured.captured_queries
                if 'FROM "cases_case"' in q["sql"]
            )

    for cursor in cursors[:10]:  # warm up
        get(
            {
                **filters,
                "page_size": PAGE_SIZE,
                **({"cursor": cursor} if cursor else {}),
            }
        )
    latencies = []
    started = time.perf_counter()
    for n in range(REQUESTS):
        cursor = cursors[n % len(cursors)]
        began = time.perf_counter()
        get(
            {
                **filters,
                "page_size": PAGE_SIZE,
                **({"cursor": cursor} if cursor else {}),
            }
        )
        latencies.append(time.perf_counter() - began)
    elapsed = time.perf_counter() - started

    sql_times = []
    with connection.cursor() as cursor:
        for _ in range(200):
            began = time.perf_counter()
            cursor.execute(page_sql)
            cursor.fetchall()
            sql_times.append(time.perf_counter() - began)

    result = {
        "bench": "api_case_list",
        "request": "GET /api/v1/cases/ (status in 3, team, updated_since; page 50)",
        "client": "django.test.Client in-process",
        "cases": counts["cases"],
        "mentions": counts["mentions"],
        "requests": REQUESTS,
        "rps": round(REQUESTS / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "queries_per_request": {str(k): v for k, v in queries_per_request.items()},
        "single_sql_p50_ms": round(statistics.median(sql_times) * 1000, 2),
        "ratio_p50_to_single_sql": round(
            statistics.median(latencies) / statistics.median(sql_times), 1
        ),
        "single_sql_p95_ms": round(percentile(sql_times, 0.95) * 1000, 2),
        "load_seconds": loaded["load_seconds"],
    }
    print(
        f"case list: {result['rps']} req/s, p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms; the same page as one SQL query: "
        f"p50 {result['single_sql_p50_ms']} ms; queries per request by page size: "
        f"{queries_per_request}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
