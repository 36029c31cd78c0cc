"""No survey token, credential or e-mail address in a log (issue 16), and production
never prints mail into one."""

import io
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from tests.factories import UserFactory
from webcare.logging import RedactFilter, redact

from .test_settings import run_manage

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Zq7vK2mN9pL4xR8tW1yB6cD3fG5hJ0kAsEuIoP-_aZ"


@pytest.fixture
def log_output():
    """What the configured console handler (the root's, from settings.LOGGING)
    writes, as text."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactFilter) for f in handler.filters)
    ]
    assert handlers, "settings.LOGGING's console handler is not on the root logger"
    buffer = io.StringIO()
    previous = [handler.setStream(buffer) for handler in handlers]
    yield buffer
    for handler, stream in zip(handlers, previous, strict=True):
        handler.setStream(stream)


@pytest.fixture
def survey_urls(settings):
    settings.ROOT_URLCONF = "webcare.urls"


# --- the filter -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret",
    [
        (f"Not Found: /s/{TOKEN}/", TOKEN),
        (f'"GET /s/{TOKEN}/thanks/?lang=nl HTTP/1.1" 200', TOKEN),
        (f"https://webcare.example.com/s/{TOKEN}/opt-out/", TOKEN),
        ("/s/not-even.a-token/", "not-even.a-token"),
        (f"/admin/login/?next=%2Fs%2F{TOKEN}%2F", TOKEN),
        ("GET /hook?token=s3cr3t-value&lang=nl", "s3cr3t-value"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmn"),
        ("client used wc_" + "A" * 43, "A" * 43),
        ('{"secret": "whsec-0123456789"}', "whsec-0123456789"),
        ("X-Webcare-Signature: t=1700000000,v1=deadbeefcafe", "deadbeefcafe"),
        ("mail to klant.jansen+nps@example.com failed", "klant.jansen"),
    ],
)
def test_it_redacts(text, secret):
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


def test_it_leaves_ordinary_messages_alone():
    text = "Polled source 12 (feed): 3 new mentions in 0.4 s; GET /api/v1/cases/"
    assert redact(text) == text


def test_every_handler_in_the_settings_redacts():
    logging_config = django_settings.LOGGING
    for name, handler in logging_config["handlers"].items():
        assert "redact" in handler.get("filters", ()), name
    assert logging_config["filters"]["redact"]["()"] == "webcare.logging.RedactFilter"
    # Django's own loggers carry no handler that would bypass the root's.
    for name in ("django", "django.server", "django.request"):
        assert logging.getLogger(name).handlers == [], name


def test_a_record_with_arguments_and_a_traceback_is_redacted(log_output, caplog):
    logger = logging.getLogger("reporting.tests")
    try:
        raise ValueError(f"no survey for /s/{TOKEN}/ (klant@example.com)")
    except ValueError:
        logger.exception("Survey page failed: %s", f"/s/{TOKEN}/")
    written = log_output.getvalue()
    assert "Survey page failed: /s/[redacted]/" in written
    assert "ValueError: no survey for /s/[redacted]/" in written
    assert TOKEN not in written and "klant@example.com" not in written
    # Rewritten in place: what other handlers (here pytest's capture) get is clean.
    assert TOKEN not in caplog.text


# --- real requests: django.request's warnings carry the path ------------------------


def test_the_survey_mount_is_what_the_filter_expects(survey_urls):
    assert reverse("reporting:survey", kwargs={"token": TOKEN}) == f"/s/{TOKEN}/"


def test_a_404_on_a_survey_url_logs_no_token(
    client, log_output, caplog, survey_urls, db
):
    response = client.get(f"/s/{TOKEN}/?lang=nl")
    assert response.status_code == 404
    written = log_output.getvalue()
    assert "Not Found: /s/[redacted]/" in written
    assert TOKEN not in written
    assert TOKEN not in caplog.text
    assert any(r.name == "django.request" for r in caplog.records)


def test_a_403_on_a_survey_url_logs_no_token(client, log_output, survey_urls, db):
    client.force_login(UserFactory(groups=["agent"]))
    response = client.post(f"/s/{TOKEN}/", {"score": "10"})
    assert response.status_code == 403
    written = log_output.getvalue()
    assert "Forbidden: /s/[redacted]/" in written
    assert TOKEN not in written


def test_a_429_on_a_survey_url_logs_no_token(
    client, log_output, survey_urls, settings, db
):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["survey_ip"] = "1/minute"
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": rates,
    }
    from django.core.cache import cache

    cache.clear()
    try:
        client.get(f"/s/{TOKEN}/")
        response = client.get(f"/s/{TOKEN}/")
    finally:
        cache.clear()
    assert response.status_code == 429
    written = log_output.getvalue()
    assert "/s/[redacted]/" in written
    assert TOKEN not in written


def test_the_development_server_log_line_is_redacted(log_output):
    # What django.server (runserver) logs for each request, as it logs it.
    logging.getLogger("django.server").warning(
        '"%s" %s %s', f"GET /s/{TOKEN}/?lang=nl HTTP/1.1", "404", "2595"
    )
    written = log_output.getvalue()
    assert '"GET /s/[redacted]/?lang=nl HTTP/1.1" 404' in written
    assert TOKEN not in written


# --- gunicorn's access and error logs ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_logs_no_token_no_query_and_no_referrer(tmp_path):
    port = _free_port()
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "webcare.settings"}
    # A token with a dot: not token-shaped, so the page answers 404 without a query
    # (this server has no database); the path is redacted all the same.
    token = "Secret.Token-0123456789abcdefghijklmnopqrstuvwxyz"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "webcare.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--config",
                str(ROOT / "gunicorn.conf.py"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
        try:
            url = f"http://127.0.0.1:{port}/s/{token}/?token=query-secret&lang=nl"
            request = urllib.request.Request(
                url, headers={"Referer": f"https://elsewhere.example/s/{token}/"}
            )
            status = None
            deadline = time.monotonic() + 30
            while status is None and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(request, timeout=5)  # noqa: S310
                except urllib.error.HTTPError as error:
                    status = error.code
                except OSError:
                    time.sleep(0.2)
            assert status == 404
            # The access log is written after the response went out.
            deadline = time.monotonic() + 5
            while "GET /s/" not in out.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    access, errors = out.read_text(), err.read_text()
    assert '"GET /s/[redacted]/ HTTP/1.1" 404' in access
    assert "Not Found: /s/[redacted]/" in errors
    for secret in (token, "query-secret", "elsewhere.example"):
        assert secret not in access + errors


# --- production never prints mail --------------------------------------------------

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60 + "-test-only-secret-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "webcare.example.com",
}


def _without_mail_settings(**env):
    # The caller's EMAIL_* must not decide these tests.
    return {**dict.fromkeys(("EMAIL_HOST", "EMAIL_BACKEND"), ""), **env}


def test_production_refuses_to_start_without_a_mail_server():
    result = run_manage("check", **PRODUCTION, **_without_mail_settings())
    assert result.returncode != 0
    assert "EMAIL_HOST is required when DEBUG is off" in result.stderr


def test_production_refuses_the_console_mail_backend():
    result = run_manage(
        "check",
        **PRODUCTION,
        **_without_mail_settings(
            EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend"
        ),
    )
    assert result.returncode != 0
    assert "delivers no mail" in result.stderr


def test_production_with_a_mail_server_passes_check_deploy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        **_without_mail_settings(EMAIL_HOST="smtp.example.com"),
    )
    assert result.returncode == 0, result.stderr


def test_the_development_default_keeps_the_console_backend():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.EMAIL_BACKEND)",
        **_without_mail_settings(DEBUG="true"),
    )
    assert result.returncode == 0, result.stderr
    assert "console.EmailBackend" in result.stdout


def test_the_system_check_reports_a_printing_backend(settings):
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    with pytest.raises(SystemCheckError, match="reporting.E001"):
        call_command("check")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = ""
    with pytest.raises(SystemCheckError, match="reporting.E002"):
        call_command("check")
