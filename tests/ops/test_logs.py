"""Every command's worker is handed the logging config of ``log_format``, not only Faust's
worker command (``ops.logs``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.cli.base import Command

import alpr  # noqa: F401  # applies the patch, as every alpr process does
from config.settings import get_settings
from ops import logs


def test_the_patch_is_in_place_once() -> None:
    patched = Command.worker_for_service
    logs.apply()
    assert Command.worker_for_service is patched
    assert patched.__name__ == "worker_for_service_logging_as_set"


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_command_worker_gets_the_config_of_the_setting(
    monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    monkeypatch.setenv("ALPR_LOG_FORMAT", log_format)
    get_settings.cache_clear()
    try:
        made = SimpleNamespace(logging_config=None)
        given = SimpleNamespace(logging_config={"version": 1})

        def plain(_: Any, *args: Any, **kwargs: Any) -> Any:
            return made

        worker = logs._with_log_format(plain)(Command.__new__(Command), "service")
        if log_format == "json":
            formatters = worker.logging_config["formatters"]
            assert formatters["colored"]["()"] == "streams.log_format.JsonFormatter"
        else:
            assert worker.logging_config is None  # Faust's own text lines
        kept = logs._with_log_format(lambda *_: given)(Command.__new__(Command), "service")
        assert kept.logging_config == {"version": 1}  # faust worker's own config is kept
    finally:
        get_settings.cache_clear()
