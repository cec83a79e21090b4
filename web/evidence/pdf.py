"""An evidence report drawn with ReportLab (BSD licence): the facts of ``web.evidence.facts``
as an A4 PDF, one section per subject (the alert, each read with its images and corrections,
the alerts a read raised; for a plate: its reads at a glance, the cameras that saw it, the
alerts raised on it, each read in full and who looked at it), then who generated it and the
digest that seals it.

Times are given in the site's time zone, with the zone's name and offset, and in UTC. What is
missing is said in words where it would have been (an image not kept, a vehicle colour the
read does not carry, an alert nobody acknowledged), never left as a blank. The document is
drawn with ReportLab's ``invariant`` mode: the same facts give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from web.auth.audit import AuditRecord
from web.evidence.facts import CorrectionFact, Evidence, ImageFact, ReadFact
from web.lookup.contract import Alert

TITLE = "ALPR evidence report"
#: Alert details the report shows elsewhere (the reads) or that name storage, not facts.
HIDDEN_DETAILS = frozenset({"event_ids", "crop_key"})
_IMAGE_BOX = (120 * mm, 45 * mm)
_LABEL_WIDTH = 42 * mm
_STYLES = getSampleStyleSheet()
_BODY = _STYLES["BodyText"]
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=10)
_MONO = ParagraphStyle("mono", parent=_BODY, fontName="Courier", fontSize=8, leading=10)
_MISSING = ParagraphStyle("missing", parent=_BODY, textColor=colors.HexColor("#b3261e"))
_PLATE = ParagraphStyle("plate", parent=_STYLES["Title"], fontName="Courier-Bold", fontSize=26)
_GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c5cbd3")),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f3f5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
_HEADED = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#c5cbd3")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f3f5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


class Clock:
    """Times as the report prints them: the site's zone (name and offset), and UTC."""

    def __init__(self, time_zone: str) -> None:
        self.zone = ZoneInfo(time_zone)

    def local(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z (UTC%z)")

    def both(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        utc = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.local(moment)}<br/>{utc}"


def text(value: object) -> str:
    """``value`` as Paragraph markup: escaped, ``-`` for nothing."""
    if value is None or value == "":
        return "-"
    if not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, default=str)
    return escape(value)


def fields(rows: Iterable[tuple[str, str]]) -> Table:
    """A two-column table of labels and values (values given as markup)."""
    cells = [[Paragraph(escape(label), _BODY), Paragraph(value, _BODY)] for label, value in rows]
    table = Table(cells, colWidths=[_LABEL_WIDTH, None], hAlign="LEFT")
    table.setStyle(_GRID)
    return table


def heading(words: str, level: int = 2) -> Paragraph:
    return Paragraph(escape(words), _STYLES[f"Heading{level}"])


def alert_section(alert: Alert, clock: Clock) -> list[Flowable]:
    rows = [
        ("Alert", text(alert.alert_id)),
        ("Rule that fired", text(alert.rule_id)),
        ("Severity", text(alert.severity)),
        ("Plate", f"<b>{text(alert.plate)}</b>"),
        ("Raised", clock.both(alert.raised_at)),
        ("Read captured", clock.both(alert.captured_at)),
        ("Camera", text(alert.camera_id)),
    ]
    rows += [
        (f"Rule detail: {name}", text(value))
        for name, value in sorted(alert.details.items())
        if name not in HIDDEN_DETAILS
    ]
    if alert.acknowledged_at is None:
        rows.append(("Acknowledgement", "Not acknowledged: the alert was open"))
    else:
        rows += [
            ("Acknowledged by", text(alert.acknowledged_by)),
            ("Acknowledged", clock.both(alert.acknowledged_at)),
            ("Note", text(alert.ack_note) if alert.ack_note else "No note was given"),
        ]
    if alert.assigned_at is None:
        rows.append(("Assignment", "Never assigned"))
    else:
        rows += [
            (
                "Assigned to",
                text(alert.assigned_to) if alert.assigned_to else "No one (unassigned)",
            ),
            ("Assigned by", text(alert.assigned_by)),
            ("Assigned", clock.both(alert.assigned_at)),
        ]
    return [fields(rows)]


def read_rows(read: ReadFact, clock: Clock) -> list[tuple[str, str]]:
    s, camera = read.sighting, read.camera
    rows = [("Plate", f"<b>{text(s.plate)}</b>")]
    if read.corrections:
        rows.append(("Read by the camera as", text(read.corrections[0].old_text)))
    location = "-" if s.lat is None or s.lon is None else f"{s.lat:.6f}, {s.lon:.6f}"
    name = s.camera_name or (camera.name if camera else None)
    rows += [
        ("Captured", clock.both(s.captured_at)),
        ("Camera", f"{text(name)} (id {text(s.camera_id)})"),
        ("Site", text(s.site_id)),
        ("Zone", text(camera.zone if camera else None)),
        ("Location", location),
        ("Direction", text(s.direction)),
        ("Confidence", f"{s.confidence:.3f}"),
        ("Vehicle type", text(s.vehicle_type) if s.vehicle_type else "Not classified"),
        (
            "Vehicle colour",
            text(s.vehicle_colour) if s.vehicle_colour else "Not recorded for this read",
        ),
        ("Event id", text(s.event_id)),
    ]
    return rows


def image_block(image: ImageFact) -> list[Flowable]:
    """The image with its key and digest, or in words why it is missing."""
    title = Paragraph(f"<b>{escape(image.kind.capitalize())}</b>", _BODY)
    if image.data is None:
        note = f"MISSING: {escape(image.missing or 'not available')}."
        if image.key:
            note += f" Object key: {escape(image.key)}"
        return [KeepTogether([title, Paragraph(note, _MISSING)])]
    try:
        ImageReader(BytesIO(image.data)).getSize()
    except (OSError, ValueError) as exc:  # not an image: stated, as a missing one is
        note = f"The stored object could not be drawn as an image ({type(exc).__name__})."
        drawn: Flowable = Paragraph(escape(note), _MISSING)
    else:
        width, height = _IMAGE_BOX
        drawn = Image(BytesIO(image.data), width=width, height=height, kind="proportional")
        drawn.hAlign = "LEFT"
    about = f"Object key: {escape(image.key or '-')}<br/>SHA-256: {image.sha256}"
    return [KeepTogether([title, drawn, Paragraph(about, _MONO)])]


def corrections_table(corrections: tuple[CorrectionFact, ...], clock: Clock) -> Flowable:
    if not corrections:
        return Paragraph("No correction has been made to this read.", _BODY)
    head = ["When", "Who", "From", "To", "Reason"]
    body = [
        [
            clock.both(c.corrected_at),
            f"{text(c.actor)} (key {text(c.key_id)})",
            text(c.old_text),
            text(c.new_text),
            text(c.reason),
        ]
        for c in corrections
    ]
    cells = [[Paragraph(cell, _SMALL) for cell in row] for row in [head, *body]]
    table = Table(cells, colWidths=[38 * mm, 38 * mm, 24 * mm, 24 * mm, None], repeatRows=1)
    table.setStyle(_HEADED)
    return table


def read_section(read: ReadFact, clock: Clock) -> list[Flowable]:
    story: list[Flowable] = [
        heading(f"Read {read.sighting.event_id}"),
        fields(read_rows(read, clock)),
        Spacer(1, 3 * mm),
    ]
    for image in read.images:
        story += [*image_block(image), Spacer(1, 3 * mm)]
    story += [heading("Corrections", 3), corrections_table(read.corrections, clock)]
    return story


def acknowledgement(alert: Alert, clock: Clock) -> str:
    if alert.acknowledged_at is None:
        return "Not acknowledged"
    note = f"<br/>Note: {text(alert.ack_note)}" if alert.ack_note else ""
    return f"By {text(alert.acknowledged_by)}<br/>{clock.both(alert.acknowledged_at)}{note}"


def assignment(alert: Alert, clock: Clock) -> str:
    """The alert's latest assignment: to whom, by whom and when; or that there was none."""
    if alert.assigned_at is None:
        return "Never assigned"
    to = f"To {text(alert.assigned_to)}" if alert.assigned_to else "Unassigned (to no one)"
    return f"{to}<br/>by {text(alert.assigned_by)}<br/>{clock.both(alert.assigned_at)}"


def raised_table(
    alerts: tuple[Alert, ...], clock: Clock, none: str = "This read raised no alert."
) -> Flowable:
    if not alerts:
        return Paragraph(escape(none), _BODY)
    head = ["Alert", "Rule", "Severity", "Raised", "Acknowledgement", "Assignment"]
    body = [
        [
            text(a.alert_id),
            text(a.rule_id),
            text(a.severity),
            clock.both(a.raised_at),
            acknowledgement(a, clock),
            assignment(a, clock),
        ]
        for a in alerts
    ]
    return _headed_table(head, body, [34 * mm, 30 * mm, 16 * mm, 34 * mm, 30 * mm, None])


def _headed_table(head: list[str], body: list[list[str]], widths: list[Any]) -> Table:
    cells = [[Paragraph(cell, _SMALL) for cell in row] for row in [head, *body]]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(_HEADED)
    return table


def plate_summary(evidence: Evidence, clock: Clock) -> list[Flowable]:
    """The plate at a glance: how many reads, when first and last seen, by which cameras."""
    reads = [r.sighting for r in evidence.reads]
    held = f"{len(reads)}"
    if evidence.reads_left_out:
        held += (
            f" (the newest; {evidence.reads_left_out} older reads of this plate are kept but "
            "not in this report: the plate's CSV export lists them)"
        )
    seen: dict[str, list[ReadFact]] = {}
    for read in evidence.reads:
        seen.setdefault(read.sighting.camera_id, []).append(read)
    cameras = []
    for camera_id, of_camera in sorted(seen.items()):
        s, described = of_camera[0].sighting, of_camera[0].camera
        name = s.camera_name or (described.name if described else None)
        where = f"site {text(s.site_id)}"
        if described is not None and described.zone:
            where += f", zone {text(described.zone)}"
        count = f"{len(of_camera)} read{'s' * (len(of_camera) != 1)}"
        cameras.append(f"{text(name or camera_id)} (id {text(camera_id)}, {where}): {count}")
    corrected = sum(1 for r in evidence.reads if r.corrections)
    rows = [
        ("Plate", f"<b>{text(evidence.plate)}</b>"),
        ("Reads in this report", escape(held)),
        ("First seen", clock.both(min(s.captured_at for s in reads))),
        ("Last seen", clock.both(max(s.captured_at for s in reads))),
        ("Cameras", "<br/>".join(cameras)),
        ("Alerts", str(len(evidence.alerts))),
        ("Corrected reads", str(corrected)),
    ]
    return [fields(rows)]


def sightings_table(evidence: Evidence, clock: Clock) -> Flowable:
    """Every read of the report on one line each, newest first."""
    body = []
    for read in evidence.reads:
        s = read.sighting
        vehicle = " ".join(v for v in (s.vehicle_colour, s.vehicle_type) if v) or "-"
        fixed = "<br/>corrected" if read.corrections else ""
        body.append(
            [
                clock.both(s.captured_at),
                f"{text(s.camera_name or s.camera_id)}<br/>{text(s.site_id)}",
                f"{text(vehicle)}<br/>{text(s.direction)}",
                f"{s.confidence:.3f}{fixed}",
                text(s.event_id),
            ]
        )
    head = ["Captured", "Camera, site", "Vehicle, direction", "Confidence", "Read (event id)"]
    return _headed_table(head, body, [38 * mm, 34 * mm, 28 * mm, 20 * mm, None])


def audit_section(evidence: Evidence, clock: Clock) -> list[Flowable]:
    """Who looked at the plate, its reads or its alerts, newest first; or why it is not
    shown."""
    trail = evidence.audit_trail
    g = evidence.generation
    if trail is None:
        words = (
            "The access audit trail is shown to admins only: this report was generated with "
            f"a key of role {g.role}."
        )
        return [Paragraph(escape(words), _BODY)]
    if not trail:
        return [Paragraph("No one had looked at this plate before this report.", _BODY)]
    intro = (
        f"{len(trail)} audited requests, newest first: searches, histories, exports and "
        "reports naming the plate, and requests for its reads' images and reports. This "
        "report's own request is the access audit record named under Generated."
    )
    body = [audit_row(r, clock) for r in trail]
    head = ["When", "Who", "What", "Reason", "Answer"]
    table = _headed_table(head, body, [38 * mm, 30 * mm, 44 * mm, 24 * mm, None])
    return [Paragraph(escape(intro), _BODY), Spacer(1, 2 * mm), table]


def audit_row(record: AuditRecord, clock: Clock) -> list[str]:
    who = f"{text(record.actor)}<br/>key {text(record.key_id)}"
    if record.client_addr:
        who += f"<br/>from {text(record.client_addr)}"
    if record.refused is not None:
        answer = f"refused: {text(record.refused)}"
    elif record.results is None:
        answer = "-"
    else:
        answer = f"{record.results} result{'s' * (record.results != 1)}"
    return [
        f"{clock.both(record.searched_at)}<br/>#{record.id}",
        who,
        f"{text(record.kind)}: {text(record.query)}",
        text(record.reason) if record.reason else "none given",
        answer,
    ]


def generation_section(evidence: Evidence, digest: str, audit_id: int | None) -> list[Flowable]:
    g = evidence.generation
    clock = Clock(g.time_zone)
    rows = [
        ("Generated by", f"{text(g.owner)} (key {text(g.key_id)}, role {text(g.role)})"),
        ("Reason given", text(g.reason) if g.reason else "None (not required for this role)"),
        ("Generated", clock.both(g.at)),
        ("Site time zone", text(g.time_zone)),
        ("Access audit record", "-" if audit_id is None else f"#{audit_id}"),
    ]
    seal = (
        f"Content SHA-256: <font name='Courier'>{digest}</font><br/>"
        "The SHA-256 of the report's facts (every value above, each image by its own SHA-256, "
        "and who generated it, when and why) as canonical JSON. The access audit record "
        "names the same digest: a report whose facts were changed no longer matches it."
    )
    return [heading("Generated"), fields(rows), heading("Integrity"), Paragraph(seal, _BODY)]


def story_of(evidence: Evidence, digest: str, audit_id: int | None) -> list[Flowable]:
    clock = Clock(evidence.generation.time_zone)
    subject = f"{evidence.subject.capitalize()} {evidence.subject_id}"
    story: list[Flowable] = [
        Paragraph(TITLE, _STYLES["Title"]),
        Paragraph(escape(subject), _STYLES["Heading3"]),
        Paragraph(escape(evidence.plate), _PLATE),
    ]
    if evidence.subject == "plate":
        story += [
            heading("The plate at a glance"),
            *plate_summary(evidence, clock),
            heading("Reads"),
            sightings_table(evidence, clock),
            heading("Alerts raised on this plate"),
            raised_table(evidence.alerts, clock, "No alert was raised on this plate."),
            heading("Each read in full", 1),
        ]
    if evidence.subject == "alert":
        story += [
            heading("Alert and the rule that fired"),
            *alert_section(evidence.alerts[0], clock),
        ]
        story.append(heading("Reads that fired it"))
        if evidence.reads_missing:
            note = f"Reads that fired it and are no longer kept: {evidence.reads_missing}."
            story.append(Paragraph(escape(note), _MISSING))
    for read in evidence.reads:
        story += read_section(read, clock)
    if evidence.subject == "read":
        story += [heading("Alerts raised by this read"), raised_table(evidence.alerts, clock)]
    if evidence.subject == "plate":
        story += [heading("Who looked at this plate"), *audit_section(evidence, clock)]
    return story + generation_section(evidence, digest, audit_id)


def render_pdf(evidence: Evidence, digest: str, audit_id: int | None = None) -> bytes:
    """The report of ``evidence`` as PDF bytes, sealed with its ``digest``
    (:func:`web.evidence.facts.content_digest`) and naming audit record ``audit_id``."""
    subject = f"{evidence.subject} {evidence.subject_id}"
    generated = evidence.generation.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    stamp = evidence.generation.at.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")

    def footer(canvas: Canvas, doc: Any) -> None:
        # ``invariant`` fixes the file's dates to 2000-01-01: they say when it was generated.
        canvas.setDateFormatter(lambda *_: stamp)
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        line = (
            f"{TITLE} · {subject} · generated {generated} · content SHA-256 {digest[:16]}… · "
            f"page {doc.page}"
        )
        canvas.drawString(doc.leftMargin, 10 * mm, line)
        canvas.restoreState()

    out = BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, title=f"{TITLE}: {subject}", author=evidence.generation.owner,
        subject=f"plate {evidence.plate}", creator="alpr console", keywords=[digest],
        invariant=True, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
        bottomMargin=18 * mm,
    )  # fmt: skip
    document.build(story_of(evidence, digest, audit_id), onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
