"""The roles an API key can hold, from least to most trusted."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["viewer", "operator", "admin"]

#: Every role, least trusted first: a role may do everything the roles before it may.
ROLES: tuple[Role, ...] = get_args(Role)


def at_least(role: Role, needed: Role) -> bool:
    """Whether ``role`` may do what ``needed`` may."""
    return ROLES.index(role) >= ROLES.index(needed)


def parse_role(value: str) -> Role:
    """``value`` as a role; ``ValueError`` naming the allowed roles otherwise."""
    for role in ROLES:
        if value == role:
            return role
    raise ValueError(f"role must be one of {', '.join(ROLES)} (got {value!r})")
