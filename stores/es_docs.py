"""Elasticsearch layout of the reads: daily indices behind one alias, and their documents.

Reads captured on one UTC day go to ``<prefix>-reads-YYYY.MM.DD``; an index template gives
every ``<prefix>-reads-*`` index the mapping and the alias ``<prefix>-reads`` that searches
use. The mapping needs no analysis-common, painless or reindex module (the integration-test
distribution has none): plates are keywords, fuzzy lookups run ``fuzzy`` queries on the
``search_key`` keyword, and ``plate_text`` uses the built-in standard analyzer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from stores.partitions import utc_day

_DAY_FORMAT = "%Y.%m.%d"


def alias_name(prefix: str) -> str:
    return f"{prefix}-reads"


def index_pattern(prefix: str) -> str:
    return f"{prefix}-reads-*"


def retained_index(prefix: str) -> str:
    """Where reads linked to an alert are kept once their day's index is deleted."""
    return f"{prefix}-reads-retained"


@lru_cache(maxsize=4096)
def daily_index(prefix: str, day: date) -> str:
    # Cached: every document of a batch asks, and a batch spans a day or two.
    return f"{prefix}-reads-{day.strftime(_DAY_FORMAT)}"


def day_of_index(prefix: str, name: str) -> date | None:
    """The day a daily index holds, or None for any other index."""
    head = f"{prefix}-reads-"
    if not name.startswith(head):
        return None
    try:
        return datetime.strptime(name[len(head) :], _DAY_FORMAT).date()
    except ValueError:
        return None


def index_for(prefix: str, captured_at: datetime) -> str:
    return daily_index(prefix, utc_day(captured_at))


_KEYWORD = {"type": "keyword"}
_STORED_ONLY = {"type": "keyword", "index": False, "doc_values": False}

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "event_id": _KEYWORD,
        "plate": _KEYWORD,
        "search_key": _KEYWORD,
        "plate_text": {"type": "text", "analyzer": "standard"},
        "captured_at": {"type": "date"},
        "received_at": {"type": "date"},
        "site_id": _KEYWORD,
        "camera_id": _KEYWORD,
        "camera_name": _KEYWORD,
        "camera_zone": _KEYWORD,
        "confidence": {"type": "float"},
        "vehicle_type": _KEYWORD,
        "vehicle_colour": _KEYWORD,
        "direction": _KEYWORD,
        "region": _KEYWORD,
        "track_id": {"type": "long"},
        "frames_agreed": {"type": "integer"},
        "location": {"type": "geo_point"},
        "plate_crop_key": _STORED_ONLY,
        "vehicle_image_key": _STORED_ONLY,
    },
}

#: Fields a correction adds to a read's document (``stores.es_corrections``); not in
#: :data:`MAPPING`'s documents as first indexed, so only corrected reads carry them.
CORRECTION_PROPERTIES: dict[str, Any] = {
    "read_text": _KEYWORD,
    "corrected_by": _KEYWORD,
    "corrected_at": {"type": "date"},
}


#: Fields added to :data:`MAPPING` after indices were made with it: put on the existing
#: indices too (``stores.es_writer.put_template``), as their mapping is strict.
ADDED_PROPERTIES: dict[str, Any] = {"vehicle_colour": _KEYWORD}


def index_template(prefix: str, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Keyword arguments of ``indices.put_index_template`` for the reads' indices."""
    return {
        "name": alias_name(prefix),
        "index_patterns": [index_pattern(prefix)],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "refresh_interval": "1s",
            },
            "mappings": {
                **MAPPING,
                "properties": {**MAPPING["properties"], **CORRECTION_PROPERTIES},
            },
            "aliases": {alias_name(prefix): {}},
        },
        "_meta": {"owner": "alpr", "about": "plate reads, one index per UTC day"},
    }


def read_document(read: Mapping[str, Any]) -> dict[str, Any]:
    """The document of one read; ``KeyError`` names a missing field."""
    camera = read["camera"]
    location = read.get("location") or camera.get("location")
    return {
        "event_id": read["event_id"],
        "plate": read["plate"],
        "search_key": read["search_key"],
        "plate_text": read["plate_text"],
        "captured_at": read["captured_at"].isoformat(),
        "received_at": read["received_at"].isoformat(),
        "site_id": read["site_id"],
        "camera_id": read["camera_id"],
        "camera_name": camera.get("name"),
        "camera_zone": camera.get("zone"),
        "confidence": read["plate_confidence"],
        "vehicle_type": read.get("vehicle_type"),
        "vehicle_colour": read.get("vehicle_colour"),
        "direction": read.get("direction", "unknown"),
        "region": read.get("region"),
        "track_id": read["track_id"],
        "frames_agreed": read["frames_agreed"],
        "location": None if location is None else {"lat": location["lat"], "lon": location["lon"]},
        "plate_crop_key": read.get("plate_crop_key"),
        "vehicle_image_key": read.get("vehicle_image_key"),
    }
