"""Fixtures for driving the agents through ``agent.test_context()`` without a broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import agents.cameras
import agents.router.service
from agents.topics import dead_letters, plates_detected
from config.router import CameraConfig, RouterSettings
from streams.codec import SchemaCache
from tables.cameras import cameras_by_id
from tests.support.settings import use_sections
from tests.support.streams import memory_schema_cache


class Sent:
    """What the agents sent, by topic, as (key, value) pairs."""

    def __init__(self) -> None:
        self.reads: list[tuple[Any, Any]] = []
        self.dead_letters: list[tuple[Any, Any]] = []
        self.fail_reads_with: Exception | None = None

    async def send_read(self, key: Any = None, value: Any = None, **kwargs: Any) -> None:
        if self.fail_reads_with is not None:
            raise self.fail_reads_with
        self.reads.append((key, value))

    async def send_dead_letter(self, key: Any = None, value: Any = None, **kwargs: Any) -> None:
        self.dead_letters.append((key, value))

    @property
    def reasons(self) -> list[str]:
        return [letter.reason for _, letter in self.dead_letters]


@pytest.fixture
def schema_cache(monkeypatch: pytest.MonkeyPatch) -> SchemaCache:
    cache = memory_schema_cache()
    for module in (agents.router.service, agents.cameras):
        monkeypatch.setattr(module, "default_schema_cache", lambda: cache)
    return cache


@pytest.fixture
def router_settings(monkeypatch: pytest.MonkeyPatch) -> RouterSettings:
    settings = RouterSettings(  # type: ignore[call-arg]
        cameras={"cam-config": CameraConfig(site_id="site-1", name="Configured gate", zone="in")},
    )
    use_sections(monkeypatch, agents.router.service, router=settings)
    return settings


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent = Sent()
    monkeypatch.setattr(plates_detected, "send", sent.send_read)
    monkeypatch.setattr(dead_letters, "send", sent.send_dead_letter)
    return sent


@pytest.fixture(autouse=True)
def empty_tables() -> Iterator[None]:
    cameras_by_id.data.clear()
    yield
    cameras_by_id.data.clear()
