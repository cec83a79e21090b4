"""Settings for one test: the process's settings tree with some sections replaced."""

from __future__ import annotations

from types import ModuleType

import pytest

from config.section import Section
from config.settings import get_settings


def use_sections(monkeypatch: pytest.MonkeyPatch, module: ModuleType, **sections: Section) -> None:
    """Make ``module``'s ``get_settings()`` return the settings with ``sections`` replaced."""
    tree = get_settings().model_copy(update=sections)
    monkeypatch.setattr(module, "get_settings", lambda: tree)
