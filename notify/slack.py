"""Slack incoming webhook: the alert's summary line as the message text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from notify.http import post
from notify.render import summary
from notify.safety import Network
from streams.alert import Alert


class SlackChannel:
    name = "slack"

    def __init__(self, session: aiohttp.ClientSession, allowed: Sequence[Network]) -> None:
        self.session = session
        self.allowed = allowed

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        body = json.dumps({"text": summary(alert)}).encode()
        headers = {"Content-Type": "application/json"}
        await post(self.session, action["webhook_url"], self.allowed, body=body, headers=headers)
