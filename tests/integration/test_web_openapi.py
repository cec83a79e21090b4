"""The committed OpenAPI document checked with schemathesis against a real worker over
PostgreSQL, Elasticsearch, S3 and Kafka holding known data: generated requests (valid and
invalid) never get a 5xx, and every answer has a documented status, type, headers and body.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.web import stack as ws
from tests.web.stack import WebStack

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    tmp = tmp_path_factory.mktemp("web-openapi")
    stack = asyncio.run(ws.start(settings, tmp, "auto", rate=10_000, burst=100_000))
    yield stack
    asyncio.run(ws.stop(stack))


#: schemathesis 4's coverage phase fails inside hypothesis while drawing the free-form rule
#: body (a FlakyFailure in its own generator, not an answer of ours), so the two operations
#: that take a rule body are fuzzed and run statefully, but left out of the coverage phase.
#: So is assignAlert: describing a filter of its cases, hypothesis's ``ast.parse`` of a
#: schemathesis lambda raises CPython 3.11's "AST constructor recursion depth mismatch"
#: (a SystemError in the generator; the same schema without the operation passes).
RUNS = {
    "coverage": ["--phases", "coverage", "--exclude-operation-id", "createRule",
                 "--exclude-operation-id", "replaceRule", "--exclude-operation-id", "assignAlert"],
    "fuzzing": ["--phases", "fuzzing,stateful"],
}  # fmt: skip


@pytest.mark.parametrize("phases", sorted(RUNS))
def test_generated_requests_get_documented_answers_and_never_a_5xx(
    web: WebStack, tmp_path: Path, phases: str
) -> None:
    command = [
        str(SCHEMATHESIS), "run", f"{web.url}/api/openapi.json",
        "--header", f"Authorization: Bearer {web.keys['admin']}",
        "--checks", CHECKS, "--mode", "all", "--max-examples", "20", "--seed", "20261125",
        "--workers", "2", "--request-timeout", "30", *RUNS[phases],
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    # In the test's directory: schemathesis keeps a crash cache (.schemathesis/) in its cwd.
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(run.stdout[-6000:])
    worker_log = web.worker.log_tail() if web.worker else ""
    assert run.returncode == 0, f"{run.stdout[-12000:]}\n{run.stderr[-2000:]}\n{worker_log}"
    assert "Tested: " in run.stdout and "passed" in run.stdout
