"""``/watchlists``: watch lists managed in the browser (admins, as ``/api/rules``): list them,
create one, add plates (from a plate's page too), remove plates, import and export CSV.

A watch list is a ``watchlist`` rule on the rule topic; every change is published through
``web.rule_changes`` as ``alpr rules publish`` does (the one rule changed, nothing pruned),
applied by every worker at once, and written to the rule audit.
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast
from urllib.parse import quote

from faust.web import Request, Response

from alpr import app
from rules.kinds.watchlist import WatchlistRule
from rules.matching import read_plates_csv
from streams.plates import PlateTextError, normalise_plate
from web import rule_changes
from web.api.rules import parse_rule
from web.errors import ApiError, bad_request
from web.pages.base import PageView

#: Most bytes of an imported CSV file or pasted list.
MAX_IMPORT = 1_000_000


def watchlists(rules: dict[str, Any]) -> list[WatchlistRule]:
    return [r for _, r in sorted(rules.items()) if isinstance(r, WatchlistRule)]


def plates_given(form: Any) -> list[str]:
    """The plates of a form: ``plate``, the ``plates`` text (one a line, or CSV: the first
    column) and an uploaded ``csv`` file; 400 naming the first that is not a plate."""
    texts = [str(form.get("plate") or ""), str(form.get("plates") or "")]
    upload = form.get("csv")
    if upload is not None and hasattr(upload, "file"):
        texts.append(upload.file.read(MAX_IMPORT + 1).decode("utf-8", "replace"))
    if sum(map(len, texts)) > MAX_IMPORT:
        raise bad_request(f"the list is over {MAX_IMPORT} bytes", "too_large")
    try:
        return list(dict.fromkeys(read_plates_csv("\n".join(texts).splitlines())))
    except PlateTextError as exc:
        raise bad_request(f"not a plate: {exc}", "bad_plate") from None


def csv_of(rule: WatchlistRule) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["plate"])
    writer.writerows([p] for p in rule.plates)
    return out.getvalue()


class WatchlistView(PageView):
    async def existing(self, name: str) -> WatchlistRule:
        rule = (await rule_changes.current_rules(self.state)).get(name)
        if not isinstance(rule, WatchlistRule):
            raise ApiError(404, "not_found", f"There is no watch list named {name[:100]!r}.")
        return rule


@app.page("/watchlists")
class WatchlistsPage(WatchlistView):
    """Every watch list; the form that creates one, or adds plates to one that exists."""

    async def get(self, request: Request) -> Response:
        key = await self.caller(request, "admin")
        lists = watchlists(await rule_changes.current_rules(self.state))
        return self.page("watchlists.html", key=key, lists=lists, message=None)

    async def post(self, request: Request) -> Response:
        key = await self.caller(request, "admin")
        form = await cast(Any, request).post()
        name = str(form.get("name") or form.get("watchlist") or "").strip()
        plates = plates_given(form)
        if not plates:
            raise bad_request("give at least one plate", "no_plates")
        before = (await rule_changes.current_rules(self.state)).get(name)
        if before is not None and not isinstance(before, WatchlistRule):
            raise bad_request(f"{name!r} is a {before.type} rule, not a watch list", "not_a_list")
        if before is None:
            body: dict[str, Any] = {
                "type": "watchlist", "name": name, "plates": plates,
                "severity": str(form.get("severity") or "warning"),
                "match": str(form.get("match") or "exact"),
            }  # fmt: skip
        else:
            body = before.model_dump(mode="json") | {
                "plates": list(dict.fromkeys([*before.plates, *plates]))
            }
        rule = await parse_rule(body)
        await rule_changes.put_rule(self.state, key, rule, before)
        return self.redirect(f"/watchlists/{quote(rule.name, safe='')}")


@app.page("/watchlists/{name}")
class WatchlistPage(WatchlistView):
    """One watch list: its plates, add or import more, remove one, export CSV
    (``?format=csv``)."""

    async def get(self, request: Request, name: str) -> Response:
        key = await self.caller(request, "admin")
        rule = await self.existing(name)
        if request.query.get("format") == "csv":
            headers = {"Content-Disposition": f'attachment; filename="{rule.name}.csv"'}
            return self.text(csv_of(rule), content_type="text/csv", headers=headers)
        return self.page("watchlist.html", key=key, rule=rule)

    async def post(self, request: Request, name: str) -> Response:
        key = await self.caller(request, "admin")
        form = await cast(Any, request).post()
        before = await self.existing(name)
        removed = str(form.get("remove") or "").strip()
        if removed:
            try:
                gone = normalise_plate(removed)
            except PlateTextError as exc:
                raise bad_request(f"not a plate: {exc}", "bad_plate") from None
            plates = [p for p in before.plates if p != gone]
            if not plates:
                raise bad_request("a watch list keeps at least one plate", "no_plates")
        else:
            plates = list(dict.fromkeys([*before.plates, *plates_given(form)]))
        rule = await parse_rule(before.model_dump(mode="json") | {"plates": plates})
        await rule_changes.put_rule(self.state, key, rule, before)
        return self.redirect(f"/watchlists/{quote(rule.name, safe='')}")
