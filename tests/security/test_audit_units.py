"""The audit logs' pure parts: rule diffs, the filter parameters, the CSV export."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from web.api.audit import as_csv, audit_filter
from web.auth.audit import AuditRecord
from web.auth.rule_audit import diff
from web.errors import ApiError


def test_a_rule_diff_names_each_changed_field_before_and_after() -> None:
    before = {"name": "r", "severity": "warning", "plates": ["A"]}
    after = {"name": "r", "severity": "critical", "enabled": False, "plates": ["A"]}
    assert diff(before, after) == {"enabled": [None, False], "severity": ["warning", "critical"]}
    assert diff(None, {"name": "r"}) == {"name": [None, "r"]}
    assert diff({"name": "r"}, None) == {"name": ["r", None]}


def test_audit_filters_are_checked() -> None:
    where = audit_filter({"who": "Desk 3", "kind": "image", "refused": "true"})
    assert where.who == "Desk 3" and where.kind == "image" and where.refused is True
    for bad, code in ({"kind": "x"}, "bad_kind"), ({"refused": "maybe"}, "bad_refused"):
        with pytest.raises(ApiError) as refused:
            audit_filter(bad)
        assert refused.value.code == code


def test_the_export_is_csv_with_a_header() -> None:
    row = AuditRecord(
        id=1, searched_at=datetime(2026, 1, 31, tzinfo=UTC), key_id="k", actor="Desk, 3",
        kind="plate", query="AB12", reason='case "7"', results=2, client_addr=None,
    )  # fmt: skip
    lines = as_csv([row]).splitlines()
    assert lines[0].startswith("id,searched_at,key_id,actor")
    assert '"Desk, 3"' in lines[1] and '"case ""7"""' in lines[1]
