"""The evidence report without a worker: its facts and their digest, the PDF ReportLab
draws from them (read back with pypdf), and how missing images are found and stated."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pypdf import PdfReader

from tests.web.evidence.reading import embedded_images, text_of
from tests.web.stack import crop_jpeg
from web.auth.audit import AuditRecord
from web.errors import StoreUnavailable
from web.evidence import gather
from web.evidence.facts import (
    CorrectionFact,
    Evidence,
    Generation,
    ImageFact,
    ReadFact,
    content_digest,
)
from web.evidence.pdf import render_pdf
from web.lookup.contract import Alert, Camera, Sighting
from web.pages.evidence import file_name

AT = datetime(2026, 7, 1, 8, 15, tzinfo=UTC)  # 09:15 BST in London


CROP = crop_jpeg("WX70ABC")


def sighting(**changes: Any) -> Sighting:
    values: dict[str, Any] = dict(
        event_id="e-1", plate="WX70ABC", captured_at=AT, camera_id="cam-1", site_id="site-a",
        camera_name="Gate <1> & co", confidence=0.934, direction="approaching",
        vehicle_type="van", plate_crop_key="crops/e-1.jpg", lat=51.5, lon=-0.12,
    )  # fmt: skip
    return Sighting(**(values | changes))


def read(crop: ImageFact | None = None, corrections: tuple[CorrectionFact, ...] = ()) -> ReadFact:
    images = (
        crop or ImageFact("plate crop", "crops/e-1.jpg", data=CROP),
        ImageFact("vehicle image", None, missing="no vehicle image was stored with this read"),
    )
    camera = Camera(camera_id="cam-1", site_id="site-a", name="Gate 1", zone="North")
    return ReadFact(sighting(), camera, images, corrections)


def alert(**changes: Any) -> Alert:
    values: dict[str, Any] = dict(
        alert_id="alert-7", rule_id="stolen-vehicles", event_id="e-1", captured_at=AT,
        plate="WX70ABC", camera_id="cam-1", severity="critical",
        raised_at=AT + timedelta(seconds=2),
        details={"event_ids": ["e-1", "e-gone"], "listed_as": "stolen 2026-06-30"},
        acknowledged_at=AT + timedelta(seconds=90), acknowledged_by="Ann (key k-op)",
        ack_note="stopped at the gate",
    )  # fmt: skip
    return Alert(**(values | changes))


GENERATED = Generation(
    owner="Ann Investigator", key_id="k-1", role="viewer", reason="case 2026/114",
    at=AT + timedelta(hours=2), time_zone="Europe/London",
)  # fmt: skip
FIX = CorrectionFact(AT + timedelta(hours=1), "Bob", "k-op", "WX7OABC", "WX70ABC", "O read as 0")


def test_the_digest_covers_every_fact_and_nothing_else() -> None:
    evidence = Evidence("read", "e-1", (read(),), GENERATED)
    digest = content_digest(evidence)
    assert len(digest) == 64 and digest == content_digest(
        Evidence("read", "e-1", (read(),), GENERATED)
    )
    other_crop = ImageFact("plate crop", "crops/e-1.jpg", data=CROP + b"x")
    other_plate = dataclasses.replace(read(), sighting=sighting(plate="WX70ABD"))
    changed = [
        Evidence("read", "e-1", (read(other_crop),), GENERATED),
        Evidence("read", "e-1", (read(corrections=(FIX,)),), GENERATED),
        Evidence("read", "e-1", (read(),), dataclasses.replace(GENERATED, reason="case 1")),
        Evidence("read", "e-1", (read(),), GENERATED, (alert(),)),
        Evidence("read", "e-1", (other_plate,), GENERATED),
    ]
    assert len({digest, *(content_digest(e) for e in changed)}) == 1 + len(changed)


def test_facts_refuse_what_a_report_cannot_state() -> None:
    with pytest.raises(ValueError, match="either its data or the reason"):
        ImageFact("plate crop", "k")
    with pytest.raises(ValueError, match="kind must be one of plate crop, vehicle image"):
        ImageFact("thumbnail", "k", data=b"x")
    with pytest.raises(ValueError, match="at must carry a time zone"):
        dataclasses.replace(GENERATED, at=datetime(2026, 7, 1))
    with pytest.raises(ValueError, match="a read's report holds that one read"):
        Evidence("read", "e-1", (), GENERATED)
    with pytest.raises(ValueError, match="an alert's report holds that one alert"):
        Evidence("alert", "alert-7", (read(),), GENERATED)
    with pytest.raises(ValueError, match="subject must be read, alert, plate"):
        Evidence("camera", "x", (read(),), GENERATED)
    with pytest.raises(ValueError, match="holds reads of that plate only: \\['WX70ABC'\\]"):
        Evidence("plate", "AB12CDE", (read(),), GENERATED)
    with pytest.raises(ValueError, match="only a plate's report leaves reads out"):
        Evidence("read", "e-1", (read(),), GENERATED, reads_left_out=3)


def test_a_reads_report_states_what_an_investigator_needs() -> None:
    evidence = Evidence("read", "e-1", (read(corrections=(FIX,)),), GENERATED, (alert(),))
    digest = content_digest(evidence)
    pdf = render_pdf(evidence, digest, audit_id=4711)
    assert pdf.startswith(b"%PDF-") and pdf == render_pdf(evidence, digest, audit_id=4711)
    text = text_of(pdf)
    for expected in (
        "Read e-1", "WX70ABC", "Read by the camera as WX7OABC",
        "2026-07-01 09:15:00 BST (UTC+0100)", "2026-07-01 08:15:00 UTC",  # site zone and UTC
        "Gate <1> & co (id cam-1)", "site-a", "North", "51.500000, -0.120000", "approaching",
        "0.934", "van", "Not recorded for this read",
        "SHA-256: " + hashlib.sha256(CROP).hexdigest(),
        "MISSING: no vehicle image was stored with this read.",
        "O read as 0", "Bob (key k-op)",
        "Alerts raised by this read", "alert-7", "stolen-vehicles",
        "By Ann (key k-op) 2026-07-01 09:16:30 BST (UTC+0100)", "Note: stopped at the gate",
        "Ann Investigator (key k-1, role viewer)", "case 2026/114",
        "2026-07-01 11:15:00 BST (UTC+0100)", "Europe/London", "#4711",
        f"Content SHA-256: {digest}",
    ):  # fmt: skip
        assert expected in text, expected
    reader = PdfReader(BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata["/Keywords"] == digest
    assert reader.metadata.title == "ALPR evidence report: read e-1"
    assert str(reader.metadata["/CreationDate"]).startswith("D:20260701101500")  # generated
    assert embedded_images(pdf) == [CROP]  # the crop as stored, byte for byte


def test_an_alerts_report_names_the_rule_its_acknowledgement_and_the_reads_gone() -> None:
    evidence = Evidence("alert", "alert-7", (read(),), GENERATED, (alert(),), reads_missing=1)
    text = text_of(render_pdf(evidence, content_digest(evidence)))
    for expected in (
        "Alert alert-7", "Rule that fired stolen-vehicles", "Severity critical",
        "Rule detail: listed_as stolen 2026-06-30", "Acknowledged by Ann (key k-op)",
        "Note stopped at the gate", "Reads that fired it and are no longer kept: 1.",
        "Read e-1", "No correction has been made to this read.", "Access audit record -",
    ):  # fmt: skip
        assert expected in text, expected
    assert "event_ids" not in text and "Alerts raised by this read" not in text
    open_one = dataclasses.replace(
        evidence, alerts=(alert(acknowledged_at=None, acknowledged_by=None, ack_note=None),)
    )
    assert "Not acknowledged: the alert was open" in text_of(render_pdf(open_one, "0" * 64))


def test_reports_show_each_alerts_assignment_or_that_it_had_none() -> None:
    assigned = alert(
        assigned_to="Dana Duty", assigned_by="Ann (k-op)", assigned_at=AT + timedelta(seconds=60)
    )
    unassigned = alert(
        alert_id="alert-8", assigned_to=None, assigned_by="Bob (k-op2)",
        assigned_at=AT + timedelta(seconds=70),
    )  # fmt: skip
    never = alert(alert_id="alert-9")
    reads_report = Evidence("read", "e-1", (read(),), GENERATED, (assigned, unassigned, never))
    text = text_of(render_pdf(reads_report, content_digest(reads_report)))
    for expected in (
        "Assignment", "To Dana Duty by Ann (k-op) 2026-07-01 09:16:00 BST (UTC+0100)",
        "Unassigned (to no one) by Bob (k-op2) 2026-07-01 09:16:10 BST", "Never assigned",
    ):  # fmt: skip
        assert expected in text, expected
    for one, wanted in (
        (
            assigned,
            ("Assigned to Dana Duty", "Assigned by Ann (k-op)", "Assigned 2026-07-01 09:16:00"),
        ),
        (unassigned, ("Assigned to No one (unassigned)", "Assigned by Bob (k-op2)")),
        (never, ("Assignment Never assigned",)),
    ):
        alerts_report = Evidence("alert", one.alert_id, (read(),), GENERATED, (one,))
        text = text_of(render_pdf(alerts_report, "0" * 64))
        for words in wanted:
            assert words in text, words


def trail_row(n: int, **changes: Any) -> AuditRecord:
    values: dict[str, Any] = dict(
        id=n, searched_at=AT + timedelta(minutes=n), key_id="k-9", actor="Carl Clerk",
        kind="plate", query="WX70ABC", reason="case 77", results=3, client_addr="10.0.0.9",
    )  # fmt: skip
    return AuditRecord(**(values | changes))


def plate_report(**changes: Any) -> Evidence:
    second = ReadFact(
        sighting(event_id="e-2", camera_id="cam-2", camera_name=None, vehicle_colour="red",
                 captured_at=AT - timedelta(days=1), site_id="site-b"),
        None, (ImageFact("plate crop", None, missing="no plate crop was stored with this read"),),
    )  # fmt: skip
    values: dict[str, Any] = dict(
        subject="plate", subject_id="WX70ABC", reads=(read(corrections=(FIX,)), second),
        generation=GENERATED, alerts=(alert(),), reads_left_out=4,
        audit_trail=(trail_row(2, kind="image", query="e-2/plate", reason=None),
                     trail_row(1, refused="reason_required", results=None)),
    )  # fmt: skip
    return Evidence(**(values | changes))


def test_a_plates_report_holds_its_reads_cameras_alerts_and_who_looked_at_it() -> None:
    evidence = plate_report()
    digest = content_digest(evidence)
    pdf = render_pdf(evidence, digest, audit_id=90)
    text = text_of(pdf)
    for expected in (
        "Plate WX70ABC", "The plate at a glance", "Reads in this report 2 (the newest; 4 older",
        "First seen 2026-06-30 09:15:00 BST (UTC+0100)", "Last seen 2026-07-01 09:15:00 BST",
        "Gate <1> & co (id cam-1, site site-a, zone North): 1 read",
        "cam-2 (id cam-2, site site-b): 1 read", "Alerts 1", "Corrected reads 1",
        "red van", "corrected", "Alerts raised on this plate", "alert-7", "stolen-vehicles",
        "Read e-1", "Read e-2", "O read as 0", "MISSING: no plate crop was stored",
        "Who looked at this plate", "2 audited requests, newest first",
        "Carl Clerk key k-9 from 10.0.0.9", "image: e-2/plate", "none given",
        "plate: WX70ABC", "case 77", "refused: reason_required", "#90",
        f"Content SHA-256: {digest}",
    ):  # fmt: skip
        assert expected in text, expected
    metadata = PdfReader(BytesIO(pdf)).metadata
    assert metadata is not None and metadata.title == "ALPR evidence report: plate WX70ABC"
    assert embedded_images(pdf) == [CROP]
    # Every fact is sealed, the trail and the reads left out too.
    changed = [plate_report(audit_trail=()), plate_report(reads_left_out=0)]
    assert len({digest, *(content_digest(e) for e in changed)}) == 3
    assert "No one had looked at this plate before this report." in text_of(
        render_pdf(changed[0], "0" * 64)
    )


def test_a_plates_report_for_another_role_says_the_trail_is_for_admins() -> None:
    evidence = plate_report(audit_trail=None, alerts=(), reads_left_out=0)
    text = text_of(render_pdf(evidence, content_digest(evidence)))
    assert "The access audit trail is shown to admins only" in text
    assert "key of role viewer" in text and "No alert was raised on this plate." in text
    assert "older reads" not in text and "Carl Clerk" not in text


def test_images_that_are_gone_or_unreadable_are_said_so() -> None:
    gone = ImageFact("plate crop", "crops/old.jpg", missing="the object store holds none")
    broken = ImageFact("plate crop", "crops/bad.jpg", data=b"not a jpeg")
    for image, words in (
        (gone, "MISSING: the object store holds none. Object key: crops/old.jpg"),
        (broken, "could not be drawn as an image (UnidentifiedImageError)"),
    ):
        pdf = render_pdf(Evidence("read", "e-1", (read(image),), GENERATED), "0" * 64)
        assert words in text_of(pdf)
        assert embedded_images(pdf) == []


def test_the_file_name_keeps_only_safe_characters() -> None:
    evidence = Evidence("alert", "a/1:x", (), GENERATED, (alert(),))
    assert file_name(evidence) == "evidence-alert-a_1_x.pdf"


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aenter__(self) -> FakeBody:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self) -> bytes:
        return self.data


class FakeS3:
    def __init__(self, objects: dict[str, bytes], failing: str | None = None) -> None:
        self.objects, self.failing = objects, failing

    async def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if self.failing:
            raise ClientError({"Error": {"Code": self.failing}}, "GetObject")
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        data = self.objects[Key]
        return {"Body": FakeBody(data), "ContentLength": len(data)}


class FakeState:
    def __init__(self, client: FakeS3) -> None:
        from config.settings import get_settings

        self.settings = get_settings()
        self.client = client

    async def s3(self) -> FakeS3:
        return self.client


async def test_images_come_from_the_object_store_or_the_reason_they_do_not() -> None:
    state: Any = FakeState(
        FakeS3({"crops/1.jpg": CROP, "huge": b"x" * (gather.MAX_IMAGE_BYTES + 1)})
    )
    found = await gather.image_fact(state, "plate crop", "crops/1.jpg")
    assert found.data == CROP and found.missing is None
    absent = await gather.image_fact(state, "plate crop", "crops/2.jpg")
    assert absent.data is None and "holds no plate crop under its key" in (absent.missing or "")
    unkept = await gather.image_fact(state, "vehicle image", None)
    assert unkept.missing == "no vehicle image was stored with this read"
    huge = await gather.image_fact(state, "plate crop", "huge")
    assert huge.data is None and "larger than" in (huge.missing or "")
    down: Any = FakeState(FakeS3({}, failing="InternalError"))
    with pytest.raises(StoreUnavailable, match="S3"):  # an outage is no missing crop
        await gather.image_fact(down, "plate crop", "crops/1.jpg")
