"""The users of bench/load.py: a CRM on the API, customers on the survey page, agents
in the admin queue. Run by locust in its own process (gevent patches the standard
library at import: never import this module into Django or the test suite).

bench/load.py writes the fixtures (tokens, usernames) to the JSON file named by
WEBCARE_LOAD_FIXTURES and sets each user's steady rate in WEBCARE_LOAD_RATE
(requests per second per user).

The load generator stands where production has its TLS-terminating proxy: it sends
`X-Forwarded-Proto: https` (SECURE_PROXY_SSL_HEADER) and the customer's address in
`X-Forwarded-For`, and gunicorn runs with WEBCARE_TRUSTED_PROXIES=127.0.0.1, so the
per-address throttles count each customer, not the proxy.
"""

import itertools
import json
import os
import re
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser

FIXTURES = json.loads(Path(os.environ["WEBCARE_LOAD_FIXTURES"]).read_text())
RATE = float(os.environ.get("WEBCARE_LOAD_RATE", "1"))
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

# Each request of a customer takes the next link: one customer, one address, one
# token, as when a mailing's recipients open their links, spread over all of them.
_SURVEYS = itertools.cycle(enumerate(FIXTURES["survey_tokens"]))
_API_TOKENS = itertools.cycle(FIXTURES["api_tokens"])
_AGENTS = itertools.cycle(FIXTURES["agents"])


def customer_address(number: int) -> str:
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def expect(response, status: int, contains: str = "") -> None:
    """Anything else is a failure, named by its status so that 429s stand out."""
    if response.status_code != status:
        response.failure(f"status {response.status_code}")
    elif contains and contains not in response.text:
        response.failure(f"status {status} without {contains!r}")
    else:
        response.success()


class BehindTheProxy(DefaultCookiePolicy):
    """Send `Secure` cookies (the session and CSRF cookies with DEBUG off) on the
    plain loopback hop, as the browser sends them to the proxy over TLS."""

    def return_ok_secure(self, cookie, request):
        return True


class ApiClientUser(FastHttpUser):
    """A CRM integration with its own read token: walks the case list page by page
    as a sync does, and reads the mention list."""

    wait_time = constant_throughput(RATE)

    def on_start(self):
        self.headers = {
            "Authorization": f"Bearer {next(_API_TOKENS)}",
            "Accept": "application/json",
            "X-Forwarded-Proto": "https",
        }
        self.cursor = None

    @task(3)
    def case_list(self):
        params = f"&cursor={self.cursor}" if self.cursor else ""
        with self.client.get(
            f"/api/v1/cases/?page_size=50{params}",
            headers=self.headers,
            name="api: cases",
            catch_response=True,
        ) as response:
            expect(response, 200)
            if response.status_code == 200:
                body = response.json()
                self.cursor = body.get("next_cursor") if body.get("has_more") else None

    @task(1)
    def mention_list(self):
        with self.client.get(
            "/api/v1/mentions/?page_size=50",
            headers=self.headers,
            name="api: mentions",
            catch_response=True,
        ) as response:
            expect(response, 200)


class SurveyCustomerUser(FastHttpUser):
    """Customers opening their survey links (GET of the survey page)."""

    wait_time = constant_throughput(RATE)

    @task
    def survey_page(self):
        number, token = next(_SURVEYS)
        with self.client.get(
            f"/s/{token}/",
            headers={
                "X-Forwarded-For": customer_address(number),
                "X-Forwarded-Proto": "https",
                "Accept-Language": "nl-NL,nl;q=0.9,en;q=0.8",
            },
            name="survey: page",
            catch_response=True,
        ) as response:
            expect(response, 200, 'name="score"')


class AgentUser(FastHttpUser):
    """An agent signed in once through the admin's login form, reloading her queue
    and her team's queue."""

    wait_time = constant_throughput(RATE)

    def on_start(self):
        self.client.cookiejar.set_policy(BehindTheProxy())
        self.headers = {"X-Forwarded-Proto": "https"}
        username = next(_AGENTS)
        with self.client.get(
            "/admin/login/?next=/admin/",
            headers=self.headers,
            name="admin: login form",
            catch_response=True,
        ) as response:
            expect(response, 200)
            csrf = CSRF_INPUT.search(response.text or "")
        if csrf is None:
            return
        # Django checks the Referer of a secure (https) POST against the host.
        with self.client.post(
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": csrf.group(1),
                "username": username,
                "password": FIXTURES["password"],
                "next": "/admin/",
            },
            headers={
                **self.headers,
                "Referer": f"https://{self.host_port}/admin/login/",
            },
            name="admin: log in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            expect(response, 302)

    @property
    def host_port(self) -> str:
        return self.host.split("://", 1)[1].rstrip("/")

    @task(2)
    def my_queue(self):
        with self.client.get(
            "/admin/cases/case/?queue=mine",
            headers=self.headers,
            name="queue: mine",
            catch_response=True,
        ) as response:
            expect(response, 200, "result_list")

    @task(1)
    def team_queue(self):
        with self.client.get(
            "/admin/cases/case/?queue=team",
            headers=self.headers,
            name="queue: team",
            catch_response=True,
        ) as response:
            expect(response, 200, "result_list")
