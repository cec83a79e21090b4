"""The platform's Avro schemas, one ``.avsc`` file per record, evolved compatibly.

``load_schema("PlateEvent")`` returns the parsed JSON of ``plate_event.avsc``; the registry
subject of a topic's value schema is ``<topic>-value`` (Confluent's TopicNameStrategy).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

#: Record name -> file in this package.
SCHEMA_FILES = {
    "PlateEvent": "plate_event.avsc",
    "PlateRead": "plate_read.avsc",
    "DeadLetter": "dead_letter.avsc",
    "CameraStatus": "camera_status.avsc",
    "Alert": "alert.avsc",
    "ReadCorrection": "read_correction.avsc",
    "AlertAssignment": "alert_assignment.avsc",
    "AlertAcknowledgement": "alert_acknowledgement.avsc",
}


@cache
def _schema_text(name: str) -> str:
    try:
        filename = SCHEMA_FILES[name]
    except KeyError:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_FILES)}") from None
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema of record ``name`` (a fresh copy the caller may change)."""
    schema: dict[str, Any] = json.loads(_schema_text(name))
    return schema


def file_stem(name: str) -> str:
    """``PlateEvent`` -> ``plate_event``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
