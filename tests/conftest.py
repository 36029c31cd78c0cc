import os
import shutil
from pathlib import Path

import pytest
from django.db import connection

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def shared_data(relative: str) -> Path:
    """A file of ../shared/data, or a skip with the reason where a clone has none."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(
            f"../shared/data/{relative} not present (a clone without ../shared)"
        )
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


@pytest.fixture
def chromedriver_path():
    path = shutil.which("chromedriver")
    if not path or not shutil.which("chromium"):
        pytest.skip("needs Debian's chromium and chromium-driver")
    return path
