"""What the web views share in one worker: the PostgreSQL pool, the lookup backend, the S3
client, the rate limiter and the image link signer, each made on first use and closed when
the worker stops.

These are connections and configuration, not stream state: a restarted worker makes them
again and loses nothing (rate-limit buckets simply start full).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import TYPE_CHECKING, Any

import asyncpg
from mode import Service

from alpr import app
from config.settings import Settings, get_settings
from web.auth.image_links import ImageLinks
from web.auth.ratelimit import RateLimiter
from web.auth.throttle import FailureThrottle
from web.errors import StoreUnavailable
from web.lookup.contract import LookupBackend

if TYPE_CHECKING:
    from web.lookup.reference import PgReference


class WebResources:
    """Lazily opened clients of the stores the views read."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limiter = RateLimiter(settings.web.rate_per_s, settings.web.rate_burst)
        self.throttle = FailureThrottle(settings.web.signin_failures, settings.web.signin_window_s)
        self._image_links: ImageLinks | None = None
        self._lock = asyncio.Lock()
        self._pool: asyncpg.Pool | None = None
        self._lookup: LookupBackend | None = None
        self._reference: PgReference | None = None
        self._s3: Any = None
        self._exits = contextlib.AsyncExitStack()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    pg = self.settings.postgres
                    try:
                        self._pool = await asyncpg.create_pool(
                            pg.dsn, min_size=min(pg.pool_min, 2), max_size=pg.pool_max,
                            timeout=5, command_timeout=30,
                        )  # fmt: skip
                    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                        raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
        return self._pool

    async def image_links(self) -> ImageLinks:
        """The signer of image links, with ``web.signing_secret`` or else the site's shared
        secret (drawn once by the first worker, kept in ``web_secrets``)."""
        if self._image_links is None:
            configured = self.settings.web.signing_secret
            if configured is not None:
                secret = configured.get_secret_value().encode()
            else:
                secret = await shared_secret(await self.pool(), "image_links")
            self._image_links = ImageLinks(secret, self.settings.web.image_token_seconds)
        return self._image_links

    async def lookup(self) -> LookupBackend:
        if self._lookup is None:
            async with self._lock:
                if self._lookup is None:
                    from web.lookup.factory import create_backend

                    self._lookup = await create_backend(self.settings)
        return self._lookup

    async def reference(self) -> PgReference:
        """Alerts, hourly counts and camera metadata (PostgreSQL)."""
        if self._reference is None:
            from web.lookup.factory import open_reference

            self._reference = open_reference(self.settings)
        return self._reference

    async def s3(self) -> Any:
        """An aiobotocore S3 client: it presigns image URLs, and fetches the images an
        evidence report embeds (``web.evidence.gather``, with a time limit)."""
        if self._s3 is None:
            async with self._lock:
                if self._s3 is None:
                    from aiobotocore.session import get_session

                    client = get_session().create_client("s3", **self.settings.s3.client_kwargs())
                    self._s3 = await self._exits.enter_async_context(client)
        return self._s3

    async def close(self) -> None:
        if self._lookup is not None:
            await self._lookup.close()
        if self._reference is not None:
            await self._reference.close()
        if self._pool is not None:
            await self._pool.close()
        await self._exits.aclose()
        self._lookup = self._reference = self._pool = self._s3 = None


async def shared_secret(pool: asyncpg.Pool, name: str) -> bytes:
    """The site's secret ``name``: the first worker to ask draws it, every other reads it."""
    await pool.execute(
        "INSERT INTO web_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name,
        secrets.token_bytes(32),
    )
    value: bytes = await pool.fetchval("SELECT value FROM web_secrets WHERE name = $1", name)
    return value


_RESOURCES: list[WebResources] = []


def resources() -> WebResources:
    """This worker's shared web resources."""
    if not _RESOURCES:
        _RESOURCES.append(WebResources(get_settings()))
    return _RESOURCES[0]


@app.service
class WebResourcesCloser(Service):
    """Closes the web views' store clients when the worker stops."""

    async def on_stop(self) -> None:
        if _RESOURCES:
            await _RESOURCES[0].close()
