"""Plate searches and plate histories as people make them: checked, reasoned and audited.

The API views and the pages both call these, so the reason policy and the audit record are
the same whichever way a person looks a plate up.
"""

from __future__ import annotations

from dataclasses import dataclass

from web import metrics
from web.api import params
from web.app_state import WebResources
from web.auth import audit
from web.auth.keys import ApiKey
from web.errors import bad_request
from web.lookup.contract import Page, SearchHit, Sighting

#: Longest reason kept in the audit log.
MAX_REASON = 500


@dataclass(frozen=True)
class Lookup:
    """Who asks, why, and from where."""

    key: ApiKey
    reason: str | None
    client: str | None


def checked_reason(state: WebResources, key: ApiKey, reason: str | None) -> str | None:
    """The reason given, stripped; 400 when the policy requires one for this key's role."""
    reason = (reason or "").strip() or None
    if reason is not None and (len(reason) > MAX_REASON or not reason.isprintable()):
        raise bad_request(
            f"reason must be printable text of at most {MAX_REASON} characters", "bad_reason"
        )
    if reason is None and key.role in state.settings.web.reason_required_for:
        raise bad_request(
            f"a reason is required for plate searches with a {key.role} key: add reason=... "
            "(for example a case or ticket number)",
            "reason_required",
        )
    return reason


async def search(state: WebResources, who: Lookup, text: str, limit: int) -> list[SearchHit]:
    """Exact, prefix and fuzzy matches of ``text`` (a plate or its beginning), audited."""
    plate = params.plate(text, "q")
    reason = checked_reason(state, who.key, who.reason)
    hits = await (await state.lookup()).search(plate, limit=limit)
    await audit.record(await state.pool(), who.key, "search", plate, reason, len(hits), who.client)
    metrics.AUDITED.labels("search").inc()
    return hits


async def history(
    state: WebResources, who: Lookup, text: str, cursor: str | None, limit: int
) -> tuple[str, Page[Sighting]]:
    """The normalised plate and one page of its sightings, newest first, audited."""
    plate = params.plate(text)
    reason = checked_reason(state, who.key, who.reason)
    page = await (await state.lookup()).history(plate, cursor=cursor, limit=limit)
    await audit.record(
        await state.pool(), who.key, "plate", plate, reason, len(page.items), who.client
    )
    metrics.AUDITED.labels("plate").inc()
    return plate, page
