import os
import shutil
from pathlib import Path

import pytest
from django.db import connection
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.smtpserver import MailServer

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NO_SHARED_DATA = "not present (a clone without ../shared)"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or a skip with the reason where a clone has none."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"../shared/data/{relative} {NO_SHARED_DATA}")
    return path


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")


@pytest.fixture
def redis_url():
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs Redis: run with CELERY_BROKER_URL=redis://...")
    return url


def in_ci() -> bool:
    """CI=true (as CI services set it): a run whose green must mean every test ran."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture
def chromedriver_path():
    path = shutil.which("chromedriver")
    if not path or not shutil.which("chromium"):
        reason = "needs Debian's chromium and chromium-driver"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: browser tests may not be skipped)")
        pytest.skip(reason)
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a skipped browser test fails the run, whatever skipped it:
    the keyboard and accessibility checks must have run for a green build. A skip
    for missing ../shared data stays a skip: a bare clone legitimately has none."""
    report = yield
    if report.skipped and in_ci() and item.get_closest_marker("browser"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if NO_SHARED_DATA in reason:
            return report
        report.outcome = "failed"
        report.longrepr = (
            f"browser test skipped under CI=true ({reason}); install chromium "
            "and chromium-driver"
        )
    return report


@pytest.fixture
def mail_server(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to; down
    until the test starts it (`mail_server.start()`), always stopped after."""
    server = MailServer()
    server.configure(settings)
    yield server
    server.stop()


@pytest.fixture
def browser(chromedriver_path):
    """Headless Chromium (phone-sized) that keeps its console log (CSP reports)."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=390,844",  # a phone first
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=chromedriver_path), options=options
    )
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()
