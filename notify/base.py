"""What every channel shares: the error that says whether to retry, and the interface."""

from __future__ import annotations

from typing import Any, Protocol

from streams.alert import Alert


class DeliveryError(Exception):
    """A delivery that failed; ``permanent`` ones (bad address, 4xx) are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    """Delivers one alert for one action of its rule."""

    name: str

    async def send(self, alert: Alert, action: dict[str, Any]) -> None: ...
