"""Loading rule files: YAML (``rules: [...]``) and Python (``RULES = [...]`` or ``rules()``).

Every problem becomes a :class:`RuleError` with the file, the line and the field, so
``alpr rules check`` can list them all at once. For YAML the line comes from the node the
pydantic error location points at; the files a rule names (a watch list's ``plates_csv``)
are read here, relative to the rule file, by the rule's kind and inlined, so a loaded rule
is self-contained and can be published as it is.
"""

from __future__ import annotations

import runpy
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from rules.kinds.base import FieldError
from rules.model import AnyRule, Rule, RuleFile

RULE_SUFFIXES = (".yaml", ".yml", ".py")

_RULE_LIST: TypeAdapter[list[AnyRule]] = TypeAdapter(list[Rule])


@dataclass(frozen=True)
class RuleError:
    """One problem in one rule file."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '(file)'}: {self.message}"


@dataclass
class LoadResult:
    rules: list[AnyRule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.rules.extend(other.rules)
        self.errors.extend(other.errors)


def _dotted(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _node_at(root: yaml.Node, loc: Sequence[Any]) -> tuple[yaml.Node, list[Any]]:
    """The deepest node along ``loc`` and the location parts actually walked (pydantic adds
    union tags such as ``watchlist`` that are not keys of the document)."""
    node, walked = root, []
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            value = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if value is None:
                tags = [v.value for k, v in node.value if getattr(k, "value", None) == "type"]
                if part in tags:
                    continue  # a discriminator tag, not a key
                walked.append(part)  # a missing field: report it at its mapping
                break
            node = value
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
        else:
            continue
        walked.append(part)
    return node, walked


def _yaml_errors(path: str, root: yaml.Node | None, error: ValidationError) -> list[RuleError]:
    out = []
    for item in error.errors():
        if root is None:
            out.append(RuleError(path, None, _dotted(item["loc"]), item["msg"]))
            continue
        node, walked = _node_at(root, item["loc"])
        out.append(RuleError(path, node.start_mark.line + 1, _dotted(walked), item["msg"]))
    return out


def load_yaml(path: Path) -> LoadResult:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return LoadResult(errors=[RuleError(str(path), line, "", f"not valid YAML: {exc}")])
    try:
        parsed = RuleFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        return LoadResult(errors=_yaml_errors(str(path), root, exc))
    return _with_files(path, list(parsed.rules), root)


def _python_line(path: Path, exc: BaseException) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return frames[-1].lineno if frames else None


def load_python(path: Path) -> LoadResult:
    """Rules of a Python file: its ``RULES`` list, or what its ``rules()`` returns."""
    try:
        namespace = runpy.run_path(str(path))
        found = namespace["rules"]() if callable(namespace.get("rules")) else namespace["RULES"]
        rules = _RULE_LIST.validate_python(list(found))
    except KeyError:
        msg = "a Python rule file defines RULES = [...] or def rules() returning rules"
        return LoadResult(errors=[RuleError(str(path), None, "", msg)])
    except ValidationError as exc:
        line = _python_line(path, exc)
        return LoadResult(
            errors=[RuleError(str(path), line, _dotted(e["loc"]), e["msg"]) for e in exc.errors()]
        )
    except Exception as exc:
        line = _python_line(path, exc)
        return LoadResult(errors=[RuleError(str(path), line, "", f"{type(exc).__name__}: {exc}")])
    return _with_files(path, rules, None)


def _with_files(path: Path, rules: list[AnyRule], root: yaml.Node | None) -> LoadResult:
    """The rules with the files they name inlined; a file that cannot be read is an error at
    the field that names it."""
    result = LoadResult()
    for index, rule in enumerate(rules):
        try:
            result.rules.append(rule.with_files(path.parent))
        except FieldError as exc:
            loc = ("rules", index, exc.field)
            node, walked = _node_at(root, loc) if root else (None, [])
            line = node.start_mark.line + 1 if node is not None else None
            field_name = _dotted(walked) or f"rules[{index}].{exc.field}"
            result.errors.append(RuleError(str(path), line, field_name, str(exc)))
    return result


def load_file(path: Path) -> LoadResult:
    if path.suffix == ".py":
        return load_python(path)
    if path.suffix in (".yaml", ".yml"):
        return load_yaml(path)
    return LoadResult(errors=[RuleError(str(path), None, "", "not a .yaml, .yml or .py file")])


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The rule files among ``paths``, directories expanded (sorted, not recursive)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in RULE_SUFFIXES))
        else:
            files.append(path)
    return files


def load_rules(paths: Iterable[Path]) -> LoadResult:
    """Every rule of every file, with every error; a name used twice is an error."""
    result = LoadResult()
    where: dict[str, str] = {}
    for path in rule_files(paths):
        if not path.exists():
            result.errors.append(RuleError(str(path), None, "", "no such file"))
            continue
        loaded = load_file(path)
        for rule in loaded.rules:
            if rule.name in where:
                message = f"rule name {rule.name!r} already used in {where[rule.name]}"
                loaded.errors.append(RuleError(str(path), None, "name", message))
            where.setdefault(rule.name, str(path))
        result.extend(loaded)
    return result
