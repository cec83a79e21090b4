"""Email through aiosmtplib, with an HTML and a text part from Jinja2 templates."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import aiosmtplib

from config.settings import SmtpSettings
from notify.base import DeliveryError
from notify.render import render
from streams.alert import Alert


def email_message(alert: Alert, action: dict[str, Any], sender: str, crop_url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(action["to"])
    subject = action.get("subject") or "[ALPR {severity}] {rule}: {subject}"
    message["Subject"] = subject.format(
        severity=alert.severity.upper(), rule=alert.rule, subject=alert.plate or alert.subject
    )
    message["Message-ID"] = f"<{alert.alert_id}@alpr>"
    message.set_content(render("email.txt.j2", alert, crop_url))
    message.add_alternative(render("email.html.j2", alert, crop_url), subtype="html")
    return message


class EmailChannel:
    name = "email"

    def __init__(self, smtp: SmtpSettings, crop_url: str = "", timeout_s: float = 10.0) -> None:
        self.smtp = smtp
        self.crop_url = crop_url
        self.timeout_s = timeout_s

    async def send(self, alert: Alert, action: dict[str, Any]) -> None:
        message = email_message(alert, action, self.smtp.sender, self.crop_url)
        password = self.smtp.password.get_secret_value() if self.smtp.password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=self.smtp.host,
                port=self.smtp.port,
                username=self.smtp.username,
                password=password,
                use_tls=self.smtp.security == "tls",
                start_tls=True if self.smtp.security == "starttls" else False,
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipients refused: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.smtp.host}:{self.smtp.port}: {exc!r}") from exc
