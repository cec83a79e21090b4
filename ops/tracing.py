"""The stack's trace store: Jaeger v2 (Apache-2.0), built from source with the Go toolchain.

Opt-in (``ops/stack up jaeger``): the build takes minutes (8.5 on 2 busy cores here, once,
into the stack's cache), so the default ``ops/stack up`` leaves it out; ``make jaeger``
(``ops/stack install jaeger``) builds it without starting it, for the trace test, which
starts a private instance on free ports and stops it after. Tracing stays a
choice of each process too: ``ops/stack env`` does not turn it on; a worker or edge exports
its spans here with ``ALPR_TRACING__ENDPOINT`` set to the OTLP address ``ops/stack status
jaeger`` shows (``http://127.0.0.1:14318/v1/traces`` by default).

Jaeger runs as one OpenTelemetry collector process: an OTLP/HTTP receiver, a bounded
in-memory trace store (the local stack keeps no history), and the query API and UI
(``/api/traces``, ``/api/services``), every port on loopback. The configuration is written
as JSON, which is YAML too: the stack needs nothing outside the standard library.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ops import installers, probes
from ops.installers import say
from ops.layout import JAEGER_MODULE, JAEGER_VERSION
from ops.services import Launch, Service

#: Traces the in-memory store keeps (the oldest go first): a bound on Jaeger's memory.
MAX_TRACES = 20_000
#: Minutes a build may take before the stack gives up on it.
BUILD_TIMEOUT_S = 40 * 60


#: The oldest Go that builds Jaeger's module (its go.mod's ``go`` line): the build runs with
#: ``GOTOOLCHAIN=local`` (no toolchain download), so an older Go refuses the module.
MIN_GO = (1, 24, 6)


def go_tool() -> str:
    """The Go toolchain, or a ``PrerequisiteError`` saying how to get one."""
    wanted = ".".join(map(str, MIN_GO))
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).is_file():
        raise installers.PrerequisiteError(
            f"Jaeger is built from source and needs Go {wanted} or newer: install it from "
            "go.dev/dl (a distribution's `golang` package may be older)"
        )
    found = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if go_version(found) < MIN_GO:
        raise installers.PrerequisiteError(
            f"Jaeger {JAEGER_VERSION} needs Go {wanted} or newer; {go} is {found}: install a "
            "newer one from go.dev/dl"
        )
    return go


def go_version(text: str) -> tuple[int, ...]:
    """``go1.24.6`` (``go env GOVERSION``) as (1, 24, 6); a release candidate counts as its
    release's first patch, ``go1.25rc1`` as (1, 25, 0)."""
    digits = re.match(r"go(\d+)\.(\d+)(?:\.(\d+))?", text)
    if digits is None:
        raise installers.PrerequisiteError(f"`go env GOVERSION` said {text!r}, not a Go version")
    return tuple(int(part or 0) for part in digits.groups())


class Jaeger(Service):
    name = "jaeger"
    #: Not in the default ``ops/stack up``: a long first build (see the module's docstring).
    optional = True
    start_timeout = 60.0

    @property
    def binary(self) -> Path:
        return self.layout.opt / f"jaeger-{JAEGER_VERSION}" / "jaeger"

    def install(self) -> None:
        if self.binary.exists():
            return
        go = go_tool()
        module = self.layout.downloads / f"jaeger-{JAEGER_VERSION}-build"
        shutil.rmtree(module, ignore_errors=True)
        module.mkdir(parents=True)
        say(f"building Jaeger {JAEGER_VERSION} from source with {go} (once; minutes)")
        env = dict(os.environ, GOFLAGS="-buildvcs=false", GOTOOLCHAIN="local")
        command = f"{JAEGER_MODULE}/cmd/jaeger"

        def run(*argv: str) -> None:
            subprocess.run(
                [go, *argv], cwd=module, env=env, check=True, timeout=BUILD_TIMEOUT_S,
                capture_output=True, text=True,
            )  # fmt: skip

        # A scratch module pins the program's dependencies: `go install module@version`
        # asks the proxy for version lists this machine's proxy may refuse.
        run("mod", "init", "alpr-stack/jaeger-build")
        run("get", "-tool", f"{command}@{JAEGER_VERSION}")
        built = module / "jaeger"
        run("build", "-trimpath", "-ldflags=-s -w", "-o", str(built), command)
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), self.binary)
        shutil.rmtree(module, ignore_errors=True)

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.yaml"

    def prepare(self) -> None:
        super().prepare()
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    def config(self) -> dict[str, object]:
        host, ports = self.layout.host, self.layout.ports
        store = "memstore"
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["batch"],
                        "exporters": ["jaeger_storage_exporter"],
                    }
                },
                "telemetry": {
                    "resource": {"service.name": "jaeger"},
                    # Its own metrics would need a port of their own; the probe suffices here.
                    "metrics": {"level": "none"},
                    "logs": {"level": "info"},
                },
            },
            "extensions": {
                "jaeger_storage": {"backends": {store: {"memory": {"max_traces": MAX_TRACES}}}},
                "jaeger_query": {
                    "storage": {"traces": store},
                    "http": {"endpoint": f"{host}:{ports['jaeger']}"},
                    "grpc": {"endpoint": f"{host}:{ports['jaeger_grpc']}"},
                },
                "healthcheckv2": {
                    "use_v2": True,
                    "http": {"endpoint": f"{host}:{ports['jaeger_health']}"},
                },
            },
            "receivers": {
                "otlp": {"protocols": {"http": {"endpoint": f"{host}:{ports['jaeger_otlp']}"}}}
            },
            # Short: a test looks its trace up a moment after the spans were sent.
            "processors": {"batch": {"timeout": "200ms"}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": store}},
        }

    def launch(self) -> Launch:
        env = {
            "PATH": os.environ.get("PATH", ""),
            # A heap nearer to what is live (Go's default lets it grow to twice that).
            "GOGC": "50",
            "GOMEMLIMIT": "256MiB",
        }
        argv = [str(self.binary), f"--config=file:{self.config_path}"]
        return Launch(argv, self.data_dir, env)

    def probe(self) -> str:
        return probes.jaeger(self.layout.url("jaeger"), self.otlp_endpoint)

    @property
    def otlp_endpoint(self) -> str:
        """Where the project's spans go (``tracing.endpoint``)."""
        return f"{self.layout.url('jaeger_otlp')}/v1/traces"


TRACING_CLASSES: tuple[type[Service], ...] = (Jaeger,)
