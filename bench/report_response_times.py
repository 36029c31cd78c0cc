"""Benchmark: the response-time report on PostgreSQL, 200,000 cases, 1,000,000 mentions.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare_reportbench \
        .venv/bin/python bench/report_response_times.py [--reuse]

The data is that of bench/api_case_list.py (cases spread over 400 days, about 500 a
day, four teams on the default opening hours). The database named in DATABASE_URL is
dropped and rebuilt (its name must contain "bench"); with --reuse an already loaded
database is kept. GET /api/v1/reports/response-times/ runs in-process through Django's
test Client for the last 30 and 365 days, without and with group_by=team: seconds per
request (median of a few) and peak Python memory of one request (tracemalloc, in a
separate run, since tracing slows everything down).

Beside it, in the same run, the report as it was computed before: every case of the
range loaded into Python and `business_time_between` per case. Its figures must equal
the endpoint's; the bench fails otherwise. The last line is one JSON object.
"""

import json
import os
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import api_case_list  # noqa: E402  (its data: the same 200,000 cases)

RANGES = (30, 365)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def _seconds(values: list[timedelta]) -> dict:
    seconds = sorted(value.total_seconds() for value in values)
    if not seconds:
        return {"median_seconds": None, "p90_seconds": None, "mean_seconds": None}
    p90_index = min(len(seconds) - 1, round(0.9 * (len(seconds) - 1)))
    return {
        "median_seconds": statistics.median(seconds),
        "p90_seconds": seconds[p90_index],
        "mean_seconds": statistics.fmean(seconds),
    }


def per_case_figures(*, start, end, group_by=None) -> dict:
    """The report as computed before: all rows in memory, business time per case."""
    from cases.business_hours import business_time_between
    from cases.models import Case, Team
    from cases.selectors import team_schedule

    rows = list(
        Case.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
            "team_id",
            "channel",
            "priority",
            "created_at",
            "first_response_at",
            "resolved_at",
            "first_response_breached_at",
            "resolution_breached_at",
        )
    )
    teams = {team.pk: team for team in Team.objects.all()}
    schedules = {}

    def schedule_for(team_id):
        if team_id not in schedules:
            schedules[team_id] = team_schedule(teams.get(team_id))
        return schedules[team_id]

    def block(selected, index, breached_index):
        wall, business = [], []
        for row in selected:
            if row[index]:
                wall.append(row[index] - row[3])
                business.append(
                    business_time_between(
                        schedule_for(row[0]), row[3], row[index]
                    ).total_seconds()
                )
        return {
            "count": len(wall),
            **_seconds(wall),
            "median_business_seconds": statistics.median(business)
            if business
            else None,
            "breached": sum(1 for row in selected if row[breached_index]),
        }

    def figures(key, selected):
        return {
            "key": None if key is None else str(key),
            "opened": len(selected),
            "first_response": block(selected, 4, 6),
            "resolution": block(selected, 5, 7),
        }

    groups = defaultdict(list)
    if group_by:
        column = {"team": 0, "channel": 1, "priority": 2}[group_by]
        for row in rows:
            groups[row[column]].append(row)
    return {
        "total": figures(None, rows),
        "groups": [
            figures(key, selected)
            for key, selected in sorted(groups.items(), key=lambda kv: str(kv[0]))
        ],
    }


def comparable(report: dict) -> dict:
    """The figures of an API answer or of per_case_figures, rounded alike."""

    def rounded(group):
        return json.loads(json.dumps(group), parse_float=lambda v: round(float(v), 3))

    return {
        "total": rounded(report["total"]),
        "groups": [rounded(group) for group in report["groups"]],
    }


def main() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database whose name contains 'bench'."
        )
    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("Refusing: the database name must contain 'bench'.")
    reuse = "--reuse" in sys.argv[1:]
    if not reuse:
        api_case_list.reset_database(url)
    api_case_list.setup_django()

    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from cases.models import Case
    from webcare.api.auth import api_client_create

    if reuse and Case.objects.exists():
        call_command("migrate", verbosity=0)
        load_seconds = None
    else:
        load_seconds = api_case_list.load_data()["load_seconds"]
    cases = Case.objects.count()
    print(f"{cases} cases (load {load_seconds} s)", flush=True)
    _, token = api_client_create(name=f"report-bench-{time.time_ns()}", scopes=["read"])
    http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    end = timezone.now().replace(microsecond=0)

    def get(params):
        response = http.get("/api/v1/reports/response-times/", params)
        if response.status_code != 200:
            raise SystemExit(f"HTTP {response.status_code}: {response.content[:300]}")
        return response.json()

    result = {"bench": "report_response_times", "cases": cases}
    for days in RANGES:
        start = end - timedelta(days=days)
        for group_by in (None, "team"):
            params = {"start": start.isoformat(), "end": end.isoformat()}
            if group_by:
                params["group_by"] = group_by
            label = f"{days}d" + (f"_by_{group_by}" if group_by else "")
            body = get(params)  # warm up; also the answer that is checked below
            seconds = []
            for _ in range(REPEATS):
                began = time.perf_counter()
                get(params)
                seconds.append(time.perf_counter() - began)
            tracemalloc.start()
            get(params)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

            began = time.perf_counter()
            before = per_case_figures(start=start, end=end, group_by=group_by)
            before_seconds = time.perf_counter() - began
            before_peak = None
            if not group_by:  # tracing the per-case way takes minutes; once a range
                tracemalloc.start()
                per_case_figures(start=start, end=end)
                _, before_peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            if comparable(body) != comparable(before):
                raise SystemExit(
                    f"{label}: the endpoint's figures differ from the per-case "
                    f"computation:\n{comparable(body)}\n{comparable(before)}"
                )
            result[label] = {
                "opened": body["total"]["opened"],
                "seconds": round(statistics.median(seconds), 3),
                "peak_mb": round(peak / 1e6, 1),
                "per_case_seconds": round(before_seconds, 3),
                "per_case_peak_mb": before_peak and round(before_peak / 1e6, 1),
            }
            print(label, result[label], flush=True)
    result["client"] = "django.test.Client in-process"
    result["load_seconds"] = load_seconds
    print(json.dumps(result))


if __name__ == "__main__":
    main()
