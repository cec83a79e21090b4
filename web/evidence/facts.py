"""What an evidence report states, as plain values, and the digest that seals it.

A report is built from these facts only, so the same facts always give the same report, and
:func:`content_digest` (SHA-256 over a canonical JSON of every fact, the images' bytes
included through their own SHA-256) lets anyone holding the stores check that a report says
what they hold. The digest is printed in the report and written to the access audit row of
the request that made it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from web.auth.audit import AuditRecord
from web.lookup.contract import Alert, Camera, Sighting

#: Image kinds a read may carry, with the ``Sighting`` field that holds the object key.
IMAGE_KINDS = {"plate crop": "plate_crop_key", "vehicle image": "vehicle_image_key"}
#: What a report can be about.
SUBJECTS = ("read", "alert", "plate")


@dataclass(frozen=True)
class ImageFact:
    """One image of a read: its bytes from the object store, or why there are none."""

    kind: str
    key: str | None
    data: bytes | None = None
    missing: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in IMAGE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(IMAGE_KINDS)} (got {self.kind!r})")
        if (self.data is None) == (self.missing is None):
            raise ValueError("an image has either its data or the reason it is missing")

    @property
    def sha256(self) -> str | None:
        return None if self.data is None else hashlib.sha256(self.data).hexdigest()

    def canonical(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "sha256": self.sha256, "missing": self.missing}


@dataclass(frozen=True)
class CorrectionFact:
    """One operator's correction of a read's text (a ``read_corrections`` row)."""

    corrected_at: datetime
    actor: str
    key_id: str
    old_text: str
    new_text: str
    reason: str


@dataclass(frozen=True)
class ReadFact:
    """One read, with its camera as described, its images and its corrections, oldest first."""

    sighting: Sighting
    camera: Camera | None
    images: tuple[ImageFact, ...]
    corrections: tuple[CorrectionFact, ...] = ()


@dataclass(frozen=True)
class Generation:
    """Who asked for the report, why, and when; times are shown in ``time_zone`` (IANA)."""

    owner: str
    key_id: str
    role: str
    reason: str | None
    at: datetime
    time_zone: str

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError(f"at must carry a time zone (got {self.at.isoformat()})")


@dataclass(frozen=True)
class Evidence:
    """A report's facts: its subject, the reads, the alerts, and how it was generated.

    ``subject`` is ``"read"``, ``"alert"`` or ``"plate"``; ``subject_id`` the event id, the
    alert id or the plate. ``alerts`` are the alerts the report is about (the one alert), that
    the read raised, or raised on the plate; ``reads_missing`` counts reads that fired the
    alert and are no longer kept. A plate's report holds its newest reads, ``reads_left_out``
    counts its older reads it has no room for, and ``audit_trail`` is who looked at the plate
    or its reads and alerts, newest first (None: not for the requester's role to see).
    """

    subject: str
    subject_id: str
    reads: tuple[ReadFact, ...]
    generation: Generation
    alerts: tuple[Alert, ...] = ()
    reads_missing: int = 0
    reads_left_out: int = 0
    audit_trail: tuple[AuditRecord, ...] | None = None

    def __post_init__(self) -> None:
        if self.subject not in SUBJECTS:
            raise ValueError(f"subject must be {', '.join(SUBJECTS)} (got {self.subject!r})")
        if self.subject == "read" and len(self.reads) != 1:
            raise ValueError(f"a read's report holds that one read (got {len(self.reads)})")
        if self.subject == "alert" and len(self.alerts) != 1:
            raise ValueError(f"an alert's report holds that one alert (got {len(self.alerts)})")
        if self.subject != "plate" and (self.reads_left_out or self.audit_trail is not None):
            raise ValueError("only a plate's report leaves reads out or holds an audit trail")
        if self.subject == "plate":
            others = sorted({r.sighting.plate for r in self.reads} - {self.subject_id})
            if others:
                raise ValueError(f"a plate's report holds reads of that plate only: {others}")
            if self.reads_left_out < 0:
                raise ValueError(f"reads_left_out must be >= 0 (got {self.reads_left_out})")

    @property
    def plate(self) -> str:
        if self.subject == "plate":
            return self.subject_id
        return self.alerts[0].plate if self.subject == "alert" else self.reads[0].sighting.plate

    def canonical(self) -> dict[str, Any]:
        """Every fact as JSON values, in a fixed shape (the digest's input); a plate's
        report adds the facts only it has."""
        facts = {
            "subject": self.subject,
            "subject_id": self.subject_id,
            "reads": [_read_canonical(r) for r in self.reads],
            "reads_missing": self.reads_missing,
            "alerts": [a.model_dump(mode="json") for a in self.alerts],
            "generation": _plain(self.generation.__dict__),
        }
        if self.subject == "plate":
            trail = self.audit_trail
            facts["reads_left_out"] = self.reads_left_out
            facts["audit_trail"] = (
                None if trail is None else [r.model_dump(mode="json") for r in trail]
            )
        return facts


def _read_canonical(read: ReadFact) -> dict[str, Any]:
    return {
        "sighting": read.sighting.model_dump(mode="json"),
        "camera": None if read.camera is None else read.camera.model_dump(mode="json"),
        "images": [i.canonical() for i in read.images],
        "corrections": [_plain(c.__dict__) for c in read.corrections],
    }


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def content_digest(evidence: Evidence) -> str:
    """SHA-256 (hex) of the canonical JSON of ``evidence``: keys sorted, no spaces, UTF-8."""
    text = json.dumps(
        evidence.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()
