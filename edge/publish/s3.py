"""Plate crops and vehicle images to S3 with aiobotocore, from the spool, with tags."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from edge.publish.sender import SpoolSender
from edge.publish.spool import Item, Spool
from edge.retry import Backoff

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
    ) -> None:
        super().__init__(spool, batch, backoff)
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
        for item in items:  # in order: an object is acknowledged only after the ones before
            meta = json.loads(item.meta)
            await client.put_object(
                Bucket=self.bucket,
                Key=item.key,
                Body=item.value,
                ContentType=meta["content_type"],
                Tagging=urlencode(meta["tags"]),
            )

    async def _connected(self) -> Any:
        if self._client is None:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session

            config = AioConfig(
                connect_timeout=5,
                read_timeout=10,
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
