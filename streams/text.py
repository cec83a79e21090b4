"""What the contract accepts in a text field: no control characters, a bounded length.

Avro accepts any UTF-8 string, the stores do not: PostgreSQL refuses a NUL in ``text``,
while Elasticsearch stores it, so one bad ``camera_id`` made the two stores disagree (issue
17, finding 4). Every text field of a plate event is held to the same rule here, by the
router (``agents.router.validation``), before a read goes out; a producer may check its
events with the same function before sending them.

Refused anywhere in a text field: C0 and C1 control characters (NUL, line feeds and tabs
among them), the Unicode line and paragraph separators, lone surrogates and the
non-characters U+FFFE and U+FFFF. Limits are in characters, generous for what each field
holds, so only garbage hits them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")

#: The longest value, in characters, of each text field of a PlateEvent (and of a PlateRead,
#: which carries them on). A UUID is 36 characters; an S3 object key at most 1,024 bytes.
PLATE_EVENT_TEXT_LIMITS: Mapping[str, int] = {
    "event_id": 36,
    "site_id": 128,
    "camera_id": 128,
    "plate_text": 64,
    "region": 16,
    "vehicle_type": 32,
    "direction": 16,
    "plate_crop_key": 1024,
    "vehicle_image_key": 1024,
    "edge_version": 64,
    "supersedes": 36,
    "vehicle_colour": 32,
}

#: ``model_versions``: at most this many entries, names and versions at most this long.
MODEL_VERSIONS_MAX = 32
MODEL_NAME_MAX = 64
MODEL_VERSION_MAX = 128


def text_fault(value: str, max_length: int) -> str | None:
    """What is wrong with ``value`` as contract text, or None; never echoes the value."""
    if len(value) > max_length:
        return f"has {len(value)} characters, more than {max_length}"
    bad = _FORBIDDEN.search(value)
    if bad is not None:
        return f"has the control character U+{ord(bad.group()):04X} at position {bad.start()}"
    return None


def plate_event_text_fault(event: Mapping[str, Any]) -> str | None:
    """The first text field of a PlateEvent datum (a dict shaped by its schema) that breaks
    the rule, as ``"<field> <what is wrong>"``, or None when every one keeps it."""
    for name, limit in PLATE_EVENT_TEXT_LIMITS.items():
        value = event.get(name)
        if value is not None and (fault := text_fault(value, limit)) is not None:
            return f"{name} {fault}"
    versions: Mapping[str, str] = event.get("model_versions") or {}
    if len(versions) > MODEL_VERSIONS_MAX:
        return f"model_versions has {len(versions)} entries, more than {MODEL_VERSIONS_MAX}"
    for stage, version in versions.items():
        if (fault := text_fault(stage, MODEL_NAME_MAX)) is not None:
            return f"model_versions name {fault}"
        if (fault := text_fault(version, MODEL_VERSION_MAX)) is not None:
            return f"model_versions[{stage!r}] {fault}"
    return None
