"""Alert assignments as the web views make them: the event, the assignee check, the filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from web.api.alerts import alert_filter
from web.api.assignments import ASSIGNABLE, checked_assignee, make_assignment
from web.auth.keys import ApiKey
from web.errors import ApiError

KEY = ApiKey(key_id="k1", owner="eve", role="operator", created_at=datetime.now(UTC))


def code_of(call: object) -> str:
    with pytest.raises(ApiError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.status == 400 and caught.value.message
    return caught.value.code


def test_an_assignment_names_who_made_it_to_whom_and_when_to_the_millisecond() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    made = make_assignment(KEY, "a-1", "dana")
    assert (made.alert_id, made.assignee, made.key_id, made.owner) == ("a-1", "dana", "k1", "eve")
    assert made.assigned_at >= before and made.assigned_at.microsecond % 1000 == 0
    assert made.assignment_id != make_assignment(KEY, "a-1", "dana").assignment_id
    assert make_assignment(KEY, "a-1", None).assignee is None


def test_alerts_are_assigned_to_operators_and_admins_only() -> None:
    assert ASSIGNABLE == ("operator", "admin")


def test_the_assignee_must_own_an_operator_or_admin_key() -> None:
    known = ["dana", "eve"]
    assert checked_assignee(" dana ", known) == "dana"
    assert checked_assignee(None, known) is None and checked_assignee("", known) is None
    assert code_of(lambda: checked_assignee("mallory", known)) == "unknown_assignee"
    for bad in (12, ["dana"], " ", "x" * 201):
        assert code_of(lambda bad=bad: checked_assignee(bad, known)) == "bad_assignee"


def test_the_alerts_api_filters_by_assignee_and_by_being_assigned() -> None:
    where = alert_filter({"assigned_to": "dana", "assigned": "false", "acknowledged": "1"})
    assert (where.assigned_to, where.assigned, where.acknowledged) == ("dana", False, True)
    assert alert_filter({}).assigned is None
    assert code_of(lambda: alert_filter({"assigned": "maybe"})) == "bad_assigned"
    assert code_of(lambda: alert_filter({"assigned_to": "x" * 201})) == "bad_assigned_to"
