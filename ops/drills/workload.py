"""What a drill sends: valid plate events with known ids, and malformed messages each with
the dead-letter reason the router must give it.

Every message is keyed by an id of its own (the event id of a valid event), so what arrives
in the stores and on the dead-letter topic is counted by that id.
"""

from __future__ import annotations

import json
import random
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streams.codec import AvroSchema, SchemaCache, encode
from streams.failures import Reason

EVENT_SCHEMA = AvroSchema.named("PlateEvent")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass
class Workload:
    """The messages of one drill, (key, value) in sending order."""

    messages: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: Event ids of the valid events: each must reach every store exactly once.
    valid_ids: list[str] = field(default_factory=list)
    #: Keys of the malformed messages and the reason each must be dead-lettered with.
    bad_reasons: dict[str, str] = field(default_factory=dict)


def plate_event(rnd: random.Random, event_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid PlateEvent datum of a varied plate and camera, captured now."""
    plate = "".join(rnd.choice(_LETTERS) for _ in range(2)) + f"{rnd.randrange(100):02d}"
    plate += " " + "".join(rnd.choice(_LETTERS) for _ in range(3))
    camera = f"drill-cam-{rnd.randrange(8)}"
    datum: dict[str, Any] = {
        "event_id": event_id,
        "site_id": "drill-site",
        "camera_id": camera,
        "captured_at": datetime.now(UTC),
        "plate_text": plate,
        "plate_confidence": round(rnd.uniform(0.6, 0.99), 3),
        "plate_box": {"x": 410, "y": 300, "width": 120, "height": 32},
        "vehicle_type": "car",
        "track_id": rnd.randrange(1, 1_000_000),
        "frames_agreed": 3,
        "edge_version": "drill",
    }
    datum.update(overrides)
    return datum


def valid_events(
    cache: SchemaCache, subject: str, count: int, plates: Sequence[str] = (), seed: int = 17
) -> Workload:
    """``count`` valid events, each keyed by its event id; ``plates``, if any, are given to
    events spread evenly over the workload, one each."""
    rnd = random.Random(seed)
    schema_id = cache.id_for(subject, EVENT_SCHEMA)
    step = max(1, count // max(1, len(plates)))
    chosen = {n * step: plate for n, plate in enumerate(plates)}
    work = Workload()
    for n in range(count):
        event_id = str(uuid.uuid4())  # never one of another drill's (or run's) ids
        overrides = {"plate_text": chosen[n]} if n in chosen else {}
        value = encode(schema_id, EVENT_SCHEMA, plate_event(rnd, event_id, **overrides))
        work.messages.append((event_id.encode(), value))
        work.valid_ids.append(event_id)
    return work


#: Malformed messages: (kind, reason, how to make its bytes from a valid event's encoder).
BadMaker = Callable[[Callable[..., bytes], random.Random], bytes]


def _json(encode_event: Callable[..., bytes], rnd: random.Random) -> bytes:
    return json.dumps({"event_id": str(uuid.uuid4()), "plate_text": "AB12 CDE"}).encode()


BAD_KINDS: dict[str, tuple[Reason, BadMaker]] = {
    "nul in camera_id": (Reason.INVALID_FIELD, lambda e, r: e(camera_id="cam\x00-1")),
    "nul in plate_text": (Reason.INVALID_FIELD, lambda e, r: e(plate_text="AB\x0012 CDE")),
    "control in site_id": (Reason.INVALID_FIELD, lambda e, r: e(site_id="site\x07")),
    "event_id not a uuid": (Reason.INVALID_FIELD, lambda e, r: e(event_id="not-a-uuid")),
    "empty plate": (Reason.EMPTY_PLATE, lambda e, r: e(plate_text="")),
    "confidence out of range": (Reason.OUT_OF_RANGE, lambda e, r: e(plate_confidence=1.7)),
    "truncated avro": (Reason.TRUNCATED, lambda e, r: e()[: r.randrange(6, 20)]),
    "unknown schema id": (
        Reason.UNKNOWN_SCHEMA,
        lambda e, r: b"\x00" + struct.pack(">I", 2_000_000_000) + e()[5:],
    ),
    "wrong magic byte": (Reason.WRONG_MAGIC, lambda e, r: b"\x01" + e()[1:]),
    "json instead of avro": (Reason.JSON_PAYLOAD, _json),
    "empty payload": (Reason.EMPTY_PAYLOAD, lambda e, r: b""),
}


def bad_events(cache: SchemaCache, subject: str, each: int, seed: int = 29) -> Workload:
    """``each`` messages of every kind of :data:`BAD_KINDS`, each keyed by an id of its own."""
    rnd = random.Random(seed)
    schema_id = cache.id_for(subject, EVENT_SCHEMA)

    def encode_event(**overrides: Any) -> bytes:
        event_id = overrides.pop("event_id", str(uuid.uuid4()))
        return encode(schema_id, EVENT_SCHEMA, plate_event(rnd, event_id, **overrides))

    work = Workload()
    for _ in range(each):
        for reason, make in BAD_KINDS.values():
            key = str(uuid.uuid4())
            work.messages.append((key.encode(), make(encode_event, rnd)))
            work.bad_reasons[key] = reason.value
    return work


def mixed(valid: Workload, bad: Workload, seed: int = 31) -> Workload:
    """Both workloads' messages shuffled together."""
    messages = valid.messages + bad.messages
    random.Random(seed).shuffle(messages)
    return Workload(messages, valid.valid_ids, bad.bad_reasons)
