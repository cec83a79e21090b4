"""The notification URLs of rules, judged when the rules are checked or published by the same
check as at send time (``notify.safety.check_url``), so a rule that could only ever fail, or
reach inside the network, is refused before it is in force."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from notify.safety import UnsafeUrl, check_url, parse_networks
from rules.model import AnyRule

#: The field of each channel's action that holds a URL the workers will call.
URL_FIELDS = {"webhook": "url", "slack": "webhook_url"}


async def url_problems(rules: Iterable[AnyRule], allow_networks: Sequence[str]) -> list[str]:
    """One line per refused URL (the rule, the action's field and why), with the networks of
    ``notify.allow_networks`` allowed."""
    allowed = parse_networks(allow_networks)
    problems = []
    for rule in rules:
        for n, action in enumerate(rule.actions):
            field = URL_FIELDS.get(action.channel)
            if field is None:
                continue
            try:
                await check_url(getattr(action, field), allowed, sending=False)
            except UnsafeUrl as exc:
                problems.append(f"rule {rule.name!r}: actions[{n}].{field}: {exc}")
    return problems
