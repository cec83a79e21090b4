"""Plate crops and vehicle images to S3 with aiobotocore, from the spool, with tags."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from edge.publish.sender import SpoolSender
from edge.publish.spool import Item, Spool
from streams.retry import Backoff

logger = logging.getLogger(__name__)


class CropUploader(SpoolSender):
    """Spools images and uploads them to one bucket; S3 tags say camera, track and plate."""

    name = "crops"

    def __init__(
        self,
        spool: Spool,
        bucket: str,
        client_kwargs: Mapping[str, str],
        batch: int = 20,
        backoff: Backoff | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(spool, batch, backoff)
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError("connect_timeout_s and read_timeout_s must be positive")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.bucket = bucket
        self.client_kwargs = dict(client_kwargs)
        self._client: Any = None
        self._context: Any = None

    def enqueue(self, key: str, body: bytes, tags: Mapping[str, str]) -> int:
        """Write an image to the spool under its object key; its sequence number."""
        meta = json.dumps({"tags": dict(tags), "content_type": "image/jpeg"})
        return self.spool.put(key, body, meta)

    async def send(self, items: list[Item]) -> None:
        client = await self._connected()
        # aiobotocore's read timeout does not end a request to a store that accepted the
        # connection and hangs: bound the whole request (a put repeated later, under the
        # same key, stores the object once all the same).
        timeout_s = 3 * (self.connect_timeout_s + self.read_timeout_s)
        for item in items:  # in order: an object is acknowledged only after the ones before
            meta = json.loads(item.meta)
            put = client.put_object(
                Bucket=self.bucket,
                Key=item.key,
                Body=item.value,
                ContentType=meta["content_type"],
                Tagging=urlencode(meta["tags"]),
            )
            try:
                await asyncio.wait_for(put, timeout_s)
            except TimeoutError:
                raise ConnectionError(f"no answer to a put within {timeout_s:g} s") from None

    async def _connected(self) -> Any:
        if self._client is None:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session

            config = AioConfig(
                connect_timeout=self.connect_timeout_s,
                read_timeout=self.read_timeout_s,
                retries={"max_attempts": 3, "mode": "standard"},
            )
            self._context = get_session().create_client("s3", config=config, **self.client_kwargs)
            self._client = await self._context.__aenter__()
        return self._client

    async def reset(self) -> None:
        context, self._context, self._client = self._context, None, None
        if context is not None:
            try:
                await context.__aexit__(None, None, None)
            except Exception as exc:  # a broken connection may not close cleanly
                logger.debug("%s: closing after a failure: %s", self.name, exc)
