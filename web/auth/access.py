"""The one access policy of plate data: role, reason, and one audit row per request.

Every view that answers with plate data (plate searches and histories, event lists, images,
alert lists; API and pages alike) goes through :func:`admit` before it reads and through
:func:`audited` before it answers:

- the role was checked when the caller was authenticated (``web.auth.guard``);
- roles in ``web.reason_required_for`` must give a reason of at least
  ``web.reason_min_length`` characters, matching ``web.reason_pattern`` when a site sets one;
- a refused request writes one audit row with the code it was refused with, and an answered
  one writes exactly one row with the number of results, before the answer is sent. The row's
  id goes back in the ``X-ALPR-Audit-Id`` header, and the answer is never cached.

Images shown by an audited answer are fetched with signed links (``web.auth.image_links``)
covered by that answer's row, so a page of sightings costs one row and one rate-limit token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from config.web import WebSettings
from web import metrics
from web.app_state import WebResources
from web.auth import audit
from web.auth.keys import ApiKey
from web.errors import ApiError, bad_request

#: Longest reason kept in the audit log.
MAX_REASON = 500
AUDIT_HEADER = "X-ALPR-Audit-Id"
#: Codes of the refusals a page answers with its reason form.
REASON_CODES = frozenset({"reason_required", "reason_too_short", "reason_format", "bad_reason"})
#: Headers of every answer that carries plate data.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class Reader:
    """Who reads plate data, why (checked), and from where."""

    key: ApiKey
    reason: str | None
    client: str | None


def checked_reason(settings: WebSettings, key: ApiKey, reason: str | None) -> str | None:
    """The reason given, stripped; 400 when it breaks the policy for this key's role."""
    reason = (reason or "").strip() or None
    if reason is not None and (len(reason) > MAX_REASON or not reason.isprintable()):
        raise bad_request(
            f"reason must be printable text of at most {MAX_REASON} characters", "bad_reason"
        )
    if key.role not in settings.reason_required_for:
        return reason
    if reason is None:
        raise bad_request(
            f"a reason is required to read plate data with a {key.role} key: add reason=... "
            "(for example a case or ticket number)",
            "reason_required",
        )
    if len(reason) < settings.reason_min_length:
        raise bad_request(
            f"the reason must be at least {settings.reason_min_length} characters "
            f"(got {len(reason)}): say why, for example a case or ticket number",
            "reason_too_short",
        )
    if settings.reason_pattern and not re.search(settings.reason_pattern, reason):
        raise bad_request(
            f"the reason must match this site's format {settings.reason_pattern!r}",
            "reason_format",
        )
    return reason


def _loggable(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    return reason[:MAX_REASON] if reason and reason.isprintable() else None


async def admit(
    state: WebResources, key: ApiKey, kind: audit.Kind, query: str, reason: str | None,
    client: str | None,
) -> Reader:  # fmt: skip
    """The reader of a request for ``kind`` data, or the refusal, audited, as ``ApiError``."""
    try:
        return Reader(key, checked_reason(state.settings.web, key, reason), client)
    except ApiError as exc:
        await refuse(state, key, kind, query, reason, client, exc)
        raise


async def refuse(
    state: WebResources, key: ApiKey, kind: audit.Kind, query: str, reason: str | None,
    client: str | None, exc: ApiError,
) -> None:  # fmt: skip
    """Audit a request for ``kind`` data refused with ``exc`` (the caller raises it)."""
    await audit.record(
        await state.pool(), key, kind, query, _loggable(reason), None, client, refused=exc.code
    )
    metrics.AUDITED.labels(f"{kind}_refused").inc()


async def audited(
    state: WebResources, reader: Reader, kind: audit.Kind, query: str, results: int
) -> int:
    """Write the request's one audit row (before its answer is sent); the row's id."""
    row_id = await audit.record(
        await state.pool(), reader.key, kind, query, reader.reason, results, reader.client
    )
    metrics.AUDITED.labels(kind).inc()
    return row_id


def private(response: Any, audit_id: int) -> Any:
    """``response`` marked as plate data: its audit row, never cached, never sniffed."""
    response.headers.update(PRIVATE_HEADERS)
    response.headers[AUDIT_HEADER] = str(audit_id)
    return response
