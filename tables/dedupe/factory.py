"""The dedupe state the router's settings choose."""

from __future__ import annotations

from pathlib import Path

from config.router import RouterSettings
from streams.retry import Backoff
from tables.dedupe.disk import DiskSeenEvents
from tables.dedupe.memory import MemorySeenEvents
from tables.dedupe.state import SeenEvents


def open_seen_events(
    settings: RouterSettings, data_dir: Path, changelog: str, backoff: Backoff | None = None
) -> SeenEvents:
    """The state of ``changelog``'s entries: in ``settings.dedupe_dir`` (by default
    ``data_dir/router-dedupe``, ``data_dir`` being the worker's), one file per topic, its
    failed writes tried again after ``backoff``'s pauses."""
    if settings.dedupe_store == "memory":
        return MemorySeenEvents()
    directory = settings.dedupe_dir or data_dir / "router-dedupe"
    return DiskSeenEvents(
        directory / f"{changelog}.sqlite3",
        changelog,
        cache_entries=settings.dedupe_cache_entries,
        page_cache_mib=settings.dedupe_page_cache_mib,
        backoff=backoff,
    )
