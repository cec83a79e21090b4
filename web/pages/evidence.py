"""Evidence reports as PDF: ``/evidence/reads/{event_id}`` (one read, from any row of reads),
``/evidence/alerts/{alert_id}`` (one alert, from its page) and ``/evidence/plates/{plate}``
(a whole plate, from its page: its reads, cameras, corrections, alerts, and for an admin the
audit trail of who looked at it, as only admins read the audit log).

A report is plate data read like the page it comes from, under the same policy as the CSV
exports (``web.pages.exports``): a viewer or above, a reason where the role needs one
(refused and audited without it), and one audit row per report. That row's query names the
report's content digest (``web.evidence.facts.content_digest``), which the report prints, and
the report names the row; the file's own SHA-256 comes back in ``X-ALPR-Report-SHA256``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime

from faust.web import Request, Response

from alpr import app
from web.api.base import client_address
from web.auth import access
from web.auth.access import Reader
from web.auth.audit import Kind
from web.evidence.facts import Evidence, Generation, content_digest
from web.evidence.gather import alert_evidence, plate_evidence, read_evidence
from web.evidence.pdf import render_pdf
from web.pages.alerts import fired_by
from web.pages.exports import ExportView
from web.plate_lookup import Lookup, admit_plate

REPORT_HASH_HEADER = "X-ALPR-Report-SHA256"
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


def file_name(evidence: Evidence) -> str:
    return _UNSAFE_IN_NAME.sub("_", f"evidence-{evidence.subject}-{evidence.subject_id}.pdf")


class EvidenceView(ExportView):
    def generation(self, reader: Reader) -> Generation:
        key = reader.key
        zone = self.state.settings.web.time_zone
        return Generation(key.owner, key.key_id, key.role, reader.reason, datetime.now(UTC), zone)

    async def report(self, reader: Reader, kind: Kind, evidence: Evidence) -> Response:
        """The report of ``evidence``, audited with its digest before it is sent."""
        digest = content_digest(evidence)
        query = f"pdf {evidence.subject} {evidence.subject_id} sha256 {digest}"
        shown = len(evidence.reads) + len(evidence.alerts)
        audit_id = await access.audited(self.state, reader, kind, query, shown)
        pdf = await asyncio.to_thread(render_pdf, evidence, digest, audit_id)
        headers = {
            "Content-Disposition": f'attachment; filename="{file_name(evidence)}"',
            REPORT_HASH_HEADER: hashlib.sha256(pdf).hexdigest(),
        }
        response = self.bytes(pdf, content_type="application/pdf", headers=headers)
        return access.private(response, audit_id)


@app.page("/evidence/reads/{event_id}")
class ReadEvidenceReport(EvidenceView):
    """One read: its plate, times, camera, figures, images, corrections and alerts."""

    async def get(self, request: Request, event_id: str) -> Response:
        key = await self.caller(request, "viewer")
        query = f"pdf read {event_id[:200]}"
        reader = await self.refused(request, await self.reader(request, key, "events", query))
        evidence = await read_evidence(self.state, event_id, self.generation(reader))
        if evidence is None:
            return self.failure(request, 404, "That read does not exist (any more).")
        return await self.report(reader, "events", evidence)


@app.page("/evidence/alerts/{alert_id}")
class AlertEvidenceReport(EvidenceView):
    """One alert: its rule, acknowledgement, and the reads that fired it in full."""

    async def get(self, request: Request, alert_id: str) -> Response:
        key = await self.caller(request, "viewer")
        query = f"pdf alert {alert_id[:200]}"
        reader = await self.refused(request, await self.reader(request, key, "alerts", query))
        alert = await (await self.state.reference()).alert(alert_id)
        if alert is None:
            return self.failure(request, 404, "That alert does not exist (any more).")
        generation = self.generation(reader)
        evidence = await alert_evidence(self.state, alert, fired_by(alert), generation)
        return await self.report(reader, "alerts", evidence)


@app.page("/evidence/plates/{plate}")
class PlateEvidenceReport(EvidenceView):
    """One plate: every read kept (the newest in full), the cameras that saw it, corrections,
    the alerts raised on it, and who looked at it (the audit trail, for admins)."""

    async def get(self, request: Request, plate: str) -> Response:
        key = await self.caller(request, "viewer")
        who = Lookup(key, request.query.get("reason"), client_address(request))
        normalised = await admit_plate(self.state, who, "plate", plate)
        query = f"pdf plate {normalised}"
        reader = await self.refused(request, await self.reader(request, key, "plate", query))
        generation = self.generation(reader)
        evidence = await plate_evidence(
            self.state, normalised, generation, with_trail=key.role == "admin"
        )
        if evidence is None:
            return self.failure(request, 404, f"No read of {normalised} is kept.")
        return await self.report(reader, "plate", evidence)
