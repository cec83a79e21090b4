"""Registering a schema while the registry fails (issue 17, finding 5), against a real HTTP
server: a registry that answers 500 for a while (its PostgreSQL recovering after a restart)
is asked again with backoff, a 4xx is the request's own fault and raised at once.

Before the fix ``SchemaCache.id_for`` raised ``RegistryError`` on the first 500, and a
producer died of it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.codec import AvroSchema, SchemaCache
from streams.registry import IncompatibleSchemaError, RegistryError, SchemaRegistryClient
from streams.retry import Backoff
from tests.support.streams import InMemoryRegistry

SCHEMA = AvroSchema.named("PlateEvent")
FAST = Backoff(0.01, 0.05)


@dataclass
class Registry:
    """A registry's REST answers: ``failures`` 500s (or ``status``) before each success."""

    failures: int = 0
    status: int = 500
    calls: list[str] = field(default_factory=list)

    def answer(self, request: web.Request, body: dict[str, object]) -> web.Response:
        self.calls.append(f"{request.method} {request.path}")
        if self.failures:
            self.failures -= 1
            error = {"error_code": self.status * 100 + 1, "message": "store unavailable"}
            return web.json_response(error, status=self.status)
        return web.json_response(body)

    def app(self) -> web.Application:
        async def config(request: web.Request) -> web.Response:
            return self.answer(request, {"compatibility": "BACKWARD"})

        async def register(request: web.Request) -> web.Response:
            return self.answer(request, {"id": 42})

        app = web.Application()
        app.router.add_put("/config/{subject}", config)
        app.router.add_post("/subjects/{subject}/versions", register)
        return app


@pytest.fixture
async def registry() -> AsyncIterator[tuple[Registry, str]]:
    state = Registry()
    server = TestServer(state.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield state, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def cache_on(url: str) -> SchemaCache:
    return SchemaCache(SchemaRegistryClient(url, timeout=2), retry=FAST, attempts=5)


async def test_a_registry_answering_500_is_asked_again_until_it_registers(
    registry: tuple[Registry, str],
) -> None:
    state, url = registry
    state.failures = 3
    cache = cache_on(url)
    assert await asyncio.to_thread(cache.id_for, "alpr.plates.raw-value", SCHEMA) == 42
    assert len(state.calls) == 5  # three 500s, then the rule and the registration
    assert state.calls[-1] == "POST /subjects/alpr.plates.raw-value/versions"


async def test_a_registry_failing_longer_than_the_attempts_raises(
    registry: tuple[Registry, str],
) -> None:
    state, url = registry
    state.failures = 100
    with pytest.raises(RegistryError, match="HTTP 500") as raised:
        await asyncio.to_thread(cache_on(url).id_for, "s-value", SCHEMA)
    assert raised.value.status == 500 and len(state.calls) == 5


@pytest.mark.parametrize(
    ("status", "error"), [(422, RegistryError), (409, IncompatibleSchemaError)]
)
async def test_a_4xx_is_raised_at_once(
    registry: tuple[Registry, str], status: int, error: type[RegistryError]
) -> None:
    state, url = registry
    state.failures, state.status = 1, status
    with pytest.raises(error):
        await asyncio.to_thread(cache_on(url).id_for, "s-value", SCHEMA)
    assert len(state.calls) == 1


async def test_a_registry_not_listening_is_tried_again_then_raised() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = cache_on(f"http://127.0.0.1:{port}")
    with pytest.raises(RegistryError) as raised:
        await asyncio.to_thread(cache.id_for, "s-value", SCHEMA)
    assert raised.value.unreachable


class Unreachable(InMemoryRegistry):
    """A registry client whose every call finds no registry."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def set_compatibility(self, subject: str, level: str) -> None:
        self.calls += 1
        raise RegistryError("PUT /config: Connection refused")


async def test_on_the_event_loop_the_registry_is_asked_once() -> None:
    registry = Unreachable()
    cache = SchemaCache(registry, retry=FAST, attempts=5)  # type: ignore[arg-type]
    with pytest.raises(RegistryError):
        cache.id_for("s-value", SCHEMA)  # as a Faust codec does: a pause would stall the loop
    assert registry.calls == 1
    with pytest.raises(RegistryError):
        await asyncio.to_thread(cache.id_for, "s-value", SCHEMA)
    assert registry.calls == 1 + 5
