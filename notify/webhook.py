"""Generic webhook: the alert as JSON, signed with HMAC-SHA256 over timestamp and body.

Receivers verify ``X-ALPR-Signature == "sha256=" + hex(hmac(key, f"{timestamp}.{body}"))``
and refuse old ``X-ALPR-Timestamp`` values, which stops replays of a captured request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from notify.base import DeliveryError
from notify.http import post
from notify.safety import Network
from streams.alert import Alert

SIGNATURE_HEADER = "X-ALPR-Signature"
TIMESTAMP_HEADER = "X-ALPR-Timestamp"
ALERT_ID_HEADER = "X-ALPR-Alert-Id"


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(key: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: constant-time comparison of the expected signature."""
    return hmac.compare_digest(signature(key, timestamp, body), header)


def alert_body(alert: Alert) -> bytes:
    data = alert.asdict()
    data.pop("actions", None)
    return json.dumps(data, default=str, sort_keys=True, separators=(",", ":")).encode()


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        allowed: Sequence[Network],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.allowed = allowed
        self.clock = clock

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        body = alert_body(alert)
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            ALERT_ID_HEADER: alert.alert_id,
        }
        secret_env = action.get("secret_env")
        if secret_env:
            key = os.environ.get(secret_env)
            if not key:
                raise DeliveryError(f"webhook secret variable {secret_env} is not set")
            headers[SIGNATURE_HEADER] = signature(key.encode(), timestamp, body)
        await post(self.session, action["url"], self.allowed, body=body, headers=headers)
