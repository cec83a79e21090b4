"""``GET /api/audit`` (reads of plate data) and ``GET /api/audit/rules`` (rule changes): the
audit logs, newest first, for admins."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from faust.web import Request, Response

from alpr import app
from web.api import params
from web.api.base import ApiView
from web.auth import audit, rule_audit
from web.errors import bad_request


def cursor(query: Mapping[str, str]) -> int | None:
    """The id a page of the log starts below; 400 unless it is a previous next_cursor."""
    raw = params.text(query, "cursor")
    if raw is not None and (not raw.isascii() or not raw.isdigit() or len(raw) > 18):
        raise bad_request("cursor must be the next_cursor of a previous page", "bad_cursor")
    return int(raw) if raw else None


_BOOLEAN = {"true": True, "false": False}
#: Most rows one CSV export holds.
MAX_EXPORT = 100_000


def audit_filter(q: Mapping[str, str]) -> audit.AuditFilter:
    """The filter in ``q``'s parameters (who, plate, since, until, reason, kind, refused)."""
    raw_kind, refused = params.text(q, "kind"), params.text(q, "refused")
    kind = next((k for k in audit.KINDS if k == raw_kind), None)
    if raw_kind is not None and kind is None:
        raise bad_request(f"kind must be one of {', '.join(audit.KINDS)}", "bad_kind")
    if refused is not None and refused not in _BOOLEAN:
        raise bad_request("refused must be true or false", "bad_refused")
    return audit.AuditFilter(
        who=params.text(q, "who"), plate=params.text(q, "plate"),
        since=params.timestamp(q, "since"), until=params.timestamp(q, "until"),
        reason=params.text(q, "reason"), kind=kind,
        refused=None if refused is None else _BOOLEAN[refused],
    )  # fmt: skip


def as_csv(rows: list[audit.AuditRecord]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(audit.AuditRecord.model_fields))
    writer.writeheader()
    for row in rows:
        writer.writerow(row.model_dump(mode="json"))
    return out.getvalue()


@app.page("/api/audit")
class AuditLog(ApiView):
    """Who read which plate data, when, why, and how much they got, filtered by who, plate,
    time, reason, kind or refusal; ``format=csv`` exports every matching row as CSV."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "admin")
        where = audit_filter(request.query)
        pool = await self.state.pool()
        if request.query.get("format") == "csv":
            rows = await audit.read(pool, where, before=cursor(request.query), limit=MAX_EXPORT)
            response = self.text(as_csv(rows), content_type="text/csv")
            response.headers["Content-Disposition"] = 'attachment; filename="alpr-audit.csv"'
            response.headers["Cache-Control"] = "no-store"
            return response
        limit = params.limit(request.query, 100, self.state.settings.web.max_page)
        rows = await audit.read(pool, where, before=cursor(request.query), limit=limit)
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        body = {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": next_cursor}
        response = self.json(body)
        response.headers["Cache-Control"] = "no-store"
        return response


@app.page("/api/audit/rules")
class RuleAuditLog(ApiView):
    """Who changed which rule through the API, when, and which fields (before and after)."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "admin")
        limit = params.limit(request.query, 100, self.state.settings.web.max_page)
        before = cursor(request.query)
        rule = params.text(request.query, "rule")
        rows = await rule_audit.read(await self.state.pool(), rule=rule, before=before, limit=limit)
        next_cursor = str(rows[-1].id) if len(rows) == limit else None
        return self.json(
            {"items": [r.model_dump(mode="json") for r in rows], "next_cursor": next_cursor}
        )
