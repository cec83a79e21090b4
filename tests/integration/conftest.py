"""Integration tests talk to the real services of the local stack (``ops/stack up``).

A service that does not answer fails the test that needs it, with the command that starts
it: an integration test is never skipped into a pass. Tests of opt-in services (marked
``opt_in``: a service too long to set up for every run; none at present, the Jaeger trace
test starts a private Jaeger that ``make jaeger`` built) are left out of the run (reported as
deselected) unless ``ALPR_TEST_OPT_IN=1`` asks for them.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from config.settings import Settings, load_settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)
    if os.environ.get("ALPR_TEST_OPT_IN") == "1":
        return
    left_out = [item for item in items if item.get_closest_marker("opt_in")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("opt_in")]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


def require_port(url: str, service: str) -> None:
    """Fail (not skip) with the command that starts the stack when nothing listens."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{service} at {host}:{port} is not reachable ({exc}): run `ops/stack up`")


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, index, bucket and table names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def smtp_maildir() -> str:
    """The Maildir the stack's SMTP sink writes to."""
    from ops.layout import Layout

    return os.environ.get("ALPR_TEST_MAILDIR", str(Layout().data / "smtp" / "maildir"))


@pytest.fixture
async def fresh_dsn(settings: Settings, unique: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database of the stack's server, dropped afterwards."""
    from tests.support.stores import create_database, drop_database

    require_port(settings.postgres.dsn.split("@")[-1].split("/")[0], "PostgreSQL")
    database = f"alpr_test_{unique}"
    dsn = await create_database(settings.postgres.dsn, database)
    yield dsn
    await drop_database(settings.postgres.dsn, database)
