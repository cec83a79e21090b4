"""SMS through a Twilio-compatible REST API (``POST .../Accounts/{sid}/Messages.json``)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import aiohttp

from config.alerting import NotifySettings
from notify.base import DeliveryError
from notify.http import post
from notify.render import summary
from notify.safety import Network
from streams.alert import Alert

#: Twilio's single-message limit is 1,600 characters; alerts stay well inside one SMS.
MAX_BODY = 320


class SmsChannel:
    name = "sms"

    def __init__(
        self, session: aiohttp.ClientSession, allowed: Sequence[Network], settings: NotifySettings
    ) -> None:
        self.session = session
        self.allowed = allowed
        self.settings = settings

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        s = self.settings
        if not s.sms_account_sid or not s.sms_from:
            raise DeliveryError(
                "SMS needs ALPR_NOTIFY__SMS_ACCOUNT_SID and ALPR_NOTIFY__SMS_FROM", permanent=True
            )
        url = f"{s.sms_base_url.rstrip('/')}/2010-04-01/Accounts/{s.sms_account_sid}/Messages.json"
        login = f"{s.sms_account_sid}:{s.sms_auth_token.get_secret_value()}".encode()
        auth = {"Authorization": "Basic " + base64.b64encode(login).decode()}
        body = summary(alert)[:MAX_BODY]
        for number in action["to"]:
            form = {"To": number, "From": s.sms_from, "Body": body}
            await post(self.session, url, self.allowed, form=form, headers=auth)
