"""The edge's commands in the ``alpr`` CLI, registered without importing the edge.

Faust's CLI imports every discovered module before it parses the command line, so every
``alpr`` process, ``alpr worker`` included, would load a discovered edge. Here each edge
command is only a name and a summary in the command list; running it (or asking for its
``--help``) imports ``edge.cli``, whose ``@app.command`` definitions replace these stand-ins.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
from faust.cli.base import cli

#: Module that defines the edge's commands, and each command's name and one-line summary.
EDGE_CLI = "edge.cli"
EDGE_COMMANDS = {
    "read": "Read licence plates in image and video files; needs no broker or store.",
    "edge": "Run every enabled camera of a site: plate events to Kafka, crops to S3.",
    "models": "Recognition models: fetch them into the cache, list them, verify checksums.",
    "train": "Train the project's own models: `alpr train ocr` (the plate recognizer).",
}


class DeferredCommand(click.Command):
    """Stands in for the command ``name`` of ``module`` until it is run."""

    def __init__(self, name: str, module: str, summary: str) -> None:
        super().__init__(name, help=summary, short_help=summary)
        self.module = module

    def resolve(self) -> click.Command:
        """Import the module, which registers the real command in Faust's CLI; return it."""
        importlib.import_module(self.module)
        real = cli.commands.get(self.name or "")
        if real is None or real is self:
            raise click.ClickException(f"{self.module} defines no command {self.name!r}")
        return real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # The group invokes the command of the context made here: the real one.
        return self.resolve().make_context(info_name, args, parent=parent, **extra)


def register(module: str = EDGE_CLI, commands: dict[str, str] = EDGE_COMMANDS) -> None:
    """Put a stand-in for each command in Faust's CLI, unless the module is already loaded
    (its commands are then registered already)."""
    if module in sys.modules:
        return
    for name, summary in commands.items():
        cli.add_command(DeferredCommand(name, module, summary), name=name)


register()
