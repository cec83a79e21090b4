"""Faust app commands grouped under a subcommand (``alpr <group> <command>``)."""

from __future__ import annotations

import sys
from functools import wraps
from typing import Any, ClassVar

import click
from faust.cli import AppCommand
from faust.cli.base import _apply_options
from mode.worker import exiting


def group_command(group: click.Group, prefix: str) -> type[AppCommand]:
    """An ``AppCommand`` base whose subclasses register under ``group``.

    A command function named ``<prefix>list_all`` becomes ``alpr <group> list-all``.
    """

    class GroupCommand(AppCommand):
        abstract: ClassVar[bool] = True

        @classmethod
        def as_click_command(cls) -> Any:
            @click.pass_context
            @wraps(cls)
            def _inner(*args: Any, **kwargs: Any) -> None:
                cmd = cls(*args, **kwargs)
                with exiting(print_exception=True, file=sys.stderr):
                    cmd()

            name = cls.__name__.removeprefix(prefix).replace("_", "-")
            return _apply_options(cls.options or [])(
                group.command(name=name, help=cls.__doc__)(_inner)
            )

    return GroupCommand
