"""Every ``alpr`` command logs in ``log_format`` (``ALPR_LOG_FORMAT``), not the worker alone.

``faust worker`` sets its log handlers up from the app's ``logging_config``
(``streams.log_format.logging_config``, given to the app in ``alpr.py``), but Faust runs its
other commands (every ``alpr`` CLI command, ``alpr edge`` included) under mode's plain
``Worker``, which is never handed that config. :func:`apply` hands it over: each command's
worker gets the same config before it sets logging up, so one format serves every process.
"""

from __future__ import annotations

from typing import Any

from faust.cli.base import Command

from config.settings import get_settings
from streams.log_format import logging_config

_APPLIED_FLAG = "_alpr_log_format_applied"


def _with_log_format(worker_for_service: Any) -> Any:
    def worker_for_service_logging_as_set(self: Command, *args: Any, **kwargs: Any) -> Any:
        worker = worker_for_service(self, *args, **kwargs)
        if getattr(worker, "logging_config", None) is None:
            worker.logging_config = logging_config(get_settings().log_format)
        return worker

    return worker_for_service_logging_as_set


def apply() -> None:
    """Give every command's worker the logging config of ``log_format`` (once)."""
    command: Any = Command
    if getattr(command, _APPLIED_FLAG, False):
        return
    command.worker_for_service = _with_log_format(command.worker_for_service)
    setattr(command, _APPLIED_FLAG, True)
