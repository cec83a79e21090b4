"""Who changed which rule through the API, and how: one ``rule_audit`` row per change, with
the key that made it and the rule before and after (its diff is computed when read)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from web.auth.keys import ApiKey, Executor

Action = Literal["create", "replace", "delete"]


class RuleChange(BaseModel):
    """One change of one rule, with the fields it changed as ``{field: [before, after]}``."""

    model_config = ConfigDict(frozen=True)

    id: int
    changed_at: datetime
    key_id: str | None
    actor: str
    rule: str
    action: Action
    changes: dict[str, list[Any]]


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The top-level fields whose values differ, each as ``[before, after]`` (None: absent)."""
    old, new = before or {}, after or {}
    return {f: [old.get(f), new.get(f)] for f in sorted({*old, *new}) if old.get(f) != new.get(f)}


async def record(
    db: Executor, key: ApiKey, rule: str, action: Action,
    before: dict[str, Any] | None, after: dict[str, Any] | None,
) -> None:  # fmt: skip
    await db.execute(
        "INSERT INTO rule_audit (key_id, actor, rule, action, before, after)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
        key.key_id,
        key.owner,
        rule,
        action,
        None if before is None else json.dumps(before),
        None if after is None else json.dumps(after),
    )


async def read(
    db: Executor, *, rule: str | None, before: int | None, limit: int
) -> list[RuleChange]:
    """Up to ``limit`` changes newest first (of ``rule`` when given, ids below ``before``)."""
    rows = await db.fetch(
        "SELECT id, changed_at, key_id, actor, rule, action, before::text, after::text"
        " FROM rule_audit WHERE ($1::text IS NULL OR rule = $1)"
        " AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        rule,
        before,
        limit,
    )
    return [_change(row) for row in rows]


def _change(row: Any) -> RuleChange:
    before, after = _json(row["before"]), _json(row["after"])
    fields = {k: row[k] for k in ("id", "changed_at", "key_id", "actor", "rule", "action")}
    return RuleChange(**fields, changes=diff(before, after))


def _json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))
