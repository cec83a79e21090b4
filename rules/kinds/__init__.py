"""The rule kinds, one module each, and the registry that finds them.

A kind is a :class:`~rules.kinds.base.RuleBase` subclass with a ``type`` literal in a module
of this package; the module declares its model, its pure evaluation and its state needs
(see ``base.py``). Every module here but ``base`` is imported, and each ``RuleBase``
subclass it defines with a ``type`` literal becomes a kind: the loader, the rule book, the
alert engine and the web API reach kinds only through :data:`KINDS` and the union
:data:`Rule` (a rule's ``type`` picks its model), never by listing them.

The order of :data:`KINDS` (the order of pydantic's "expected tags" in an error) is
:data:`LISTED` first, then any other kind by module name.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args

from pydantic import Field

from rules.kinds.base import RuleBase

#: The kinds in the order rule files and error messages have always listed them.
LISTED = ("watchlist", "threshold", "rate", "sequence", "impossible_travel", "dwell", "silence")


def _discover() -> tuple[type[RuleBase], ...]:
    found: dict[str, type[RuleBase]] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name == "base":
            continue
        namespace = vars(importlib.import_module(f"{__name__}.{module.name}"))
        for value in namespace.values():
            if (
                isinstance(value, type)
                and issubclass(value, RuleBase)
                and value.__module__ == namespace["__name__"]
                and "type" in value.model_fields
            ):
                (tag,) = get_args(value.model_fields["type"].annotation)
                if tag in found:
                    raise TypeError(f"rule type {tag!r} defined twice: {found[tag]} and {value}")
                found[tag] = value
    order = {tag: index for index, tag in enumerate(LISTED)}
    return tuple(found[t] for t in sorted(found, key=lambda t: (order.get(t, len(order)), t)))


#: Every rule kind's model.
KINDS: tuple[type[RuleBase], ...] = _discover()
#: Each model by its ``type``.
BY_TYPE: dict[str, type[RuleBase]] = {
    get_args(kind.model_fields["type"].annotation)[0]: kind for kind in KINDS
}

if TYPE_CHECKING:
    #: Any rule: to the type checker the base class, which holds the interface.
    Rule = RuleBase
else:
    #: Any rule, validated as the kind its ``type`` names.
    Rule: Any = Annotated[Union[KINDS], Field(discriminator="type")]  # noqa: UP007

__all__ = ["BY_TYPE", "KINDS", "Rule", "RuleBase"]
