"""The base of every section of the settings tree."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A section: unknown fields are errors, and settings do not change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
