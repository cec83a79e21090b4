"""Plate searches and plate histories as people make them: checked, reasoned and audited.

The API views and the pages both call these, so the access policy (``web.auth.access``) and
the audit record are the same whichever way a person looks a plate up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from web.api import params
from web.app_state import WebResources
from web.auth import access
from web.auth.access import Reader
from web.auth.audit import Kind
from web.auth.keys import ApiKey
from web.errors import ApiError
from web.lookup.contract import Page, SearchHit, Sighting

T = TypeVar("T")


@dataclass(frozen=True)
class Lookup:
    """Who asks, why (as given), and from where."""

    key: ApiKey
    reason: str | None
    client: str | None


@dataclass(frozen=True)
class Audited(Generic[T]):
    """An answer and the audit row written for it."""

    value: T
    reader: Reader
    audit_id: int


async def admit_plate(state: WebResources, who: Lookup, kind: Kind, text: str) -> str:
    """The plate in ``text``; a bad plate is refused and audited like a missing reason."""
    try:
        return params.plate(text, "q" if kind == "search" else "plate")
    except ApiError as exc:
        await access.refuse(state, who.key, kind, text, who.reason, who.client, exc)
        raise


async def search(
    state: WebResources, who: Lookup, text: str, limit: int
) -> Audited[list[SearchHit]]:
    """Exact, prefix and fuzzy matches of ``text`` (a plate or its beginning), audited."""
    plate = await admit_plate(state, who, "search", text)
    reader = await access.admit(state, who.key, "search", plate, who.reason, who.client)
    hits = await (await state.lookup()).search(plate, limit=limit)
    audit_id = await access.audited(state, reader, "search", plate, len(hits))
    return Audited(hits, reader, audit_id)


async def history(
    state: WebResources, who: Lookup, text: str, cursor: str | None, limit: int
) -> Audited[tuple[str, Page[Sighting]]]:
    """The normalised plate and one page of its sightings, newest first, audited."""
    plate = await admit_plate(state, who, "plate", text)
    reader = await access.admit(state, who.key, "plate", plate, who.reason, who.client)
    page = await (await state.lookup()).history(plate, cursor=cursor, limit=limit)
    audit_id = await access.audited(state, reader, "plate", plate, len(page.items))
    return Audited((plate, page), reader, audit_id)
