"""A private PostgreSQL and Elasticsearch for tests that stop a store in the middle of a load.

Other tests (and other people's runs) use the shared stack at the same time, so an outage
test must never stop the shared services. This starts a second instance of each with the
project's own ``ops/stack``, on free ports, with its data in a directory of its own, reusing
the shared stack's installed software (``opt``) so nothing is downloaded. ``stop``/``start``
act on the private instances only, and ``close`` removes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ops.layout import Layout
from ops.worker import free_port

ROOT = Path(__file__).resolve().parents[2]


class PrivateStores:
    """PostgreSQL and Elasticsearch of a private stack on free ports."""

    SERVICES = ("postgres", "elasticsearch")

    def __init__(self) -> None:
        shared = Layout()
        # /tmp, not a pytest tmp_path under /root: the service user must reach the data.
        self.root = Path(tempfile.mkdtemp(prefix="alpr-private-stores-", dir="/tmp"))
        self.root.chmod(0o755)
        (self.root / "opt").symlink_to(shared.opt)
        self.env = {
            **os.environ,
            "ALPR_STACK_DIR": str(self.root),
            "ALPR_STACK_POSTGRES_PORT": str(free_port()),
            "ALPR_STACK_ELASTICSEARCH_PORT": str(free_port()),
            "ALPR_STACK_ELASTICSEARCH_TRANSPORT_PORT": str(free_port()),
        }
        self.layout = Layout(root=self.root, ports={
            **shared.ports,
            "postgres": int(self.env["ALPR_STACK_POSTGRES_PORT"]),
            "elasticsearch": int(self.env["ALPR_STACK_ELASTICSEARCH_PORT"]),
            "elasticsearch_transport": int(self.env["ALPR_STACK_ELASTICSEARCH_TRANSPORT_PORT"]),
        })  # fmt: skip

    @property
    def postgres_dsn(self) -> str:
        return self.layout.postgres_dsn

    @property
    def elasticsearch_url(self) -> str:
        return self.layout.url("elasticsearch")

    def _stack(self, *args: str) -> None:
        done = subprocess.run(
            [str(ROOT / "ops" / "stack"), *args], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"ops/stack {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def start(self, *services: str) -> None:
        """Start (and wait until healthy) the named private services, or both."""
        self._stack("up", *(services or self.SERVICES))

    def stop(self, *services: str) -> None:
        """Stop the named private services, or both; the shared stack is not touched."""
        self._stack("down", *(services or self.SERVICES))

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
