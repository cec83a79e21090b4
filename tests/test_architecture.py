"""The import rules of ARCHITECTURE.md, read from the source (nothing is imported or run).

Every ``import`` and ``from ... import`` of every module counts, also those inside functions:
a late import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The project's own top-level packages and modules, each a "part".
PARTS = {
    "agents", "alpr", "bench", "commands", "config", "edge", "notify", "ops", "rules",
    "schemas", "stores", "streams", "tables", "tests", "web",
}  # fmt: skip

#: What each part must not import. Parts not named here have no rule of their own yet.
FORBIDDEN = {
    # A pure model: loading and evaluating rules needs no state, topic, view or app.
    "rules": {"tables", "agents", "web", "ops", "alpr", "commands", "notify", "stores", "edge"},
    # The contract and the stage runtime: nothing above it.
    "streams": {
        "tables", "agents", "rules", "web", "stores", "notify", "ops", "edge", "alpr", "commands",
    },
    "schemas": PARTS - {"schemas"},
    # The settings tree is a leaf every part may read.
    "config": PARTS - {"config"},
    # The edge runs at the site: of the core it knows the contract and the settings only.
    "edge": PARTS - {"edge", "streams", "schemas", "config"},
    # The product does not depend on its tests or benchmarks.
    **{part: {"tests", "bench"} for part in ("agents", "tables", "web", "stores", "notify", "ops")},
    "commands": PARTS - {"commands"},
}  # fmt: skip

#: Single modules allowed one import their part may not make, and why.
EXCEPTIONS = {
    # The edge's commands are Faust app commands: ``@app.command`` needs the app. The app
    # does not discover the edge; ``commands.edge`` imports this module only to run them.
    ("edge/cli.py", "alpr"),
}


def _modules(part: str) -> Iterator[Path]:
    single = ROOT / f"{part}.py"
    if single.is_file():
        yield single
        return
    yield from sorted((ROOT / part).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def violations(part: str) -> list[str]:
    """``path:line imports module`` for each import ``part`` must not make."""
    found = []
    for path in _modules(part):
        relative = path.relative_to(ROOT).as_posix()
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[part] and (relative, top) not in EXCEPTIONS:
                found.append(f"{relative}:{line} imports {module}")
    return found


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_each_part_imports_only_what_the_architecture_allows(part: str) -> None:
    assert violations(part) == []


def test_no_relative_imports_hide_from_the_rules() -> None:
    relative = []
    for part in FORBIDDEN:
        for path in _modules(part):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.level:
                    relative.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert relative == []


def test_the_parts_named_are_the_project_s_parts() -> None:
    on_disk = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} | {"alpr"}
    assert on_disk == PARTS, "a new top-level package needs its rules in ARCHITECTURE.md"


#: What ``agents/`` holds: a package per stage, and beside them the modules the stages share.
AGENTS_STAGES = {"alerting", "deadletters", "projections", "router"}
AGENTS_SHARED = {"__init__", "cameras", "emit", "metrics", "metrics_view", "topics"}


def test_agents_are_grouped_by_stage() -> None:
    agents = ROOT / "agents"
    packages = {p.name for p in agents.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in agents.glob("*.py")}
    assert packages == AGENTS_STAGES, "a new stage is a package of agents/ (ARCHITECTURE.md)"
    assert modules == AGENTS_SHARED, "a stage's module goes into its stage's package"
