"""``/api/rules``: the live rule set for admins, read from and published to ``alpr.rules``.

Rules are validated by the same model as rule files (``rules.model``) and published with
``web.rule_changes`` (``agents.alerting.rule_topic``), as ``alpr rules publish`` does; every
worker applies them at once. A rule that names files (a watch list's ``plates_csv``, which
only has a meaning next to a rule file) is refused: its content is given inline here.
"""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response
from pydantic import TypeAdapter, ValidationError

from alpr import app
from config.settings import get_settings
from notify.rule_urls import url_problems
from rules.model import AnyRule, Rule
from rules.ruleset import rule_version
from web import rule_changes
from web.api.base import ApiView, json_body
from web.auth import rule_audit
from web.auth.keys import ApiKey
from web.errors import ApiError, bad_request, not_found

_RULE: TypeAdapter[AnyRule] = TypeAdapter(Rule)


async def parse_rule(body: dict[str, Any]) -> AnyRule:
    """The rule in a request body; 422 listing every field that is wrong (a notification URL
    the notifier would refuse included)."""
    try:
        rule = _RULE.validate_python(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(rule)'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(422, "invalid_rule", f"the rule is not valid: {problems}") from None
    problem = rule.standalone_problem()
    if problem is not None:
        raise ApiError(422, "invalid_rule", problem)
    unsafe = await url_problems([rule], get_settings().notify.allow_networks)
    if unsafe:
        raise ApiError(422, "unsafe_url", "; ".join(unsafe))
    return rule


def rule_json(rule: AnyRule, version: str) -> dict[str, Any]:
    return {"name": rule.name, "version": version, "rule": rule.model_dump(mode="json")}


class _RulesView(ApiView):
    async def current(self) -> dict[str, AnyRule]:
        return await rule_changes.current_rules(self.state)

    async def publish(self, rules: list[AnyRule], prune: bool, key: ApiKey) -> None:
        await rule_changes.publish(self.state, rules, prune, key)

    async def audit(
        self, key: ApiKey, name: str, action: rule_audit.Action,
        before: AnyRule | None, after: AnyRule | None,
    ) -> None:  # fmt: skip
        """One rule_audit row for a change just published, with the key that made it."""
        await rule_changes.record(self.state, key, name, action, before, after)


@app.page("/api/rules")
class Rules(_RulesView):
    """List the rules in force, or add one."""

    async def get(self, request: Request) -> Response:
        await self.caller(request, "admin")
        current = await self.current()
        items = [rule_json(current[n], rule_version(current[n])) for n in sorted(current)]
        return self.json({"items": items})

    async def post(self, request: Request) -> Response:
        key = await self.caller(request, "admin")
        rule = await parse_rule(await json_body(request))
        if rule.name in await self.current():
            message = f"a rule named {rule.name!r} exists: PUT /api/rules/{rule.name} changes it"
            raise ApiError(409, "rule_exists", message)
        await self.publish([rule], prune=False, key=key)
        await self.audit(key, rule.name, "create", None, rule)
        return self.json(rule_json(rule, rule_version(rule)), status=201)


@app.page("/api/rules/{name}")
class RuleByName(_RulesView):
    """Read, replace or remove one rule."""

    async def _existing(self, name: str) -> tuple[dict[str, AnyRule], AnyRule]:
        current = await self.current()
        if name not in current:
            raise not_found(f"no rule named {name[:100]!r}")
        return current, current[name]

    async def get(self, request: Request, name: str) -> Response:
        await self.caller(request, "admin")
        _, rule = await self._existing(name)
        return self.json(rule_json(rule, rule_version(rule)))

    async def put(self, request: Request, name: str) -> Response:
        key = await self.caller(request, "admin")
        rule = await parse_rule(await json_body(request))
        if rule.name != name:
            raise bad_request(f"the rule's name {rule.name!r} differs from the URL's {name!r}")
        _, old = await self._existing(name)
        await self.publish([rule], prune=False, key=key)
        await self.audit(key, name, "replace", old, rule)
        return self.json(rule_json(rule, rule_version(rule)))

    async def delete(self, request: Request, name: str) -> Response:
        key = await self.caller(request, "admin")
        current, old = await self._existing(name)
        # Publishing the others with prune removes exactly this one (the rest are unchanged).
        await self.publish([r for n, r in current.items() if n != name], prune=True, key=key)
        await self.audit(key, name, "delete", old, None)
        return self.json({"removed": name})
