"""The local evaluation sets of real plate photos, rebuilt from git mirrors of public repositories.

    python -m bench.local_sets --mirrors DIR [--dir OUT] [NAME...]

Each set is a folder ``tests/data/local-sets/<name>/`` with ``sources.yaml`` (where each
photo comes from: GitHub repository ``owner/name``, full commit, path in that commit, sha256,
licence) and ``labels.tsv`` (one row per plate, the columns of ``bench.sets``). This command
finds the git directory of each repository under DIR (``DIR/owner+name``, a bare repository
or one with ``.git`` inside, directly or one folder down), takes each photo out with
``git cat-file blob <commit>:<path>``, checks its sha256, and writes the photos with
``labels.tsv`` into ``OUT/<name>/`` (default ``$ALPR_HOME/samples/local-sets``). Photos
already there with the right hash are kept. Without NAME it builds every set. Images are
never committed; only their coordinates are.

The project cannot fetch these repositories itself: only package registries are reachable
from its machines. A session gets the mirrors with its library's fetch tool (which puts them
in ``/work/.mirror``); without a repository's mirror its sets cannot be built.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bench import sets
from bench.sets import PlateLabel, SetError
from edge.manifest import alpr_home, sha256_of

LOCAL_SETS = Path(__file__).resolve().parent.parent / "tests" / "data" / "local-sets"
_SHA256 = r"^[0-9a-f]{64}$"


class LocalSetError(SetError):
    """A local set that is malformed, or that cannot be built from the mirrors at hand."""


class MirrorMissing(LocalSetError):
    """No git mirror of a set's repository under the mirrors folder."""


class LocalSource(BaseModel):
    """A photo of a local set: a blob of a public GitHub repository at one commit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="File name in the set folder", pattern=r"^[\w.+-]+$")
    repo: str = Field(description="GitHub repository, owner/name", pattern=r"^[\w.-]+/[\w.-]+$")
    commit: str = Field(description="Full commit id", pattern=r"^[0-9a-f]{40}$")
    path: str = Field(description="Path of the photo in the repository", min_length=1)
    sha256: str = Field(description="sha256 of the photo", pattern=_SHA256)
    licence: str = Field(description="Licence of the repository at that commit", min_length=1)


class LocalSources(BaseModel):
    """Every photo of one local set."""

    model_config = ConfigDict(extra="forbid")

    samples: list[LocalSource]


@dataclass(frozen=True)
class LocalSet:
    """A local set as committed: its name, photos and plates."""

    name: str
    sources: list[LocalSource]
    labels: list[PlateLabel]


def set_names(root: Path = LOCAL_SETS) -> list[str]:
    """The names of every committed local set."""
    return sets.set_names(root)


def load_set(name: str, root: Path = LOCAL_SETS) -> LocalSet:
    """Read and cross-check one set: every photo listed once and labelled; ``SetError``
    (``LocalSetError`` for the cross-check) if it is malformed."""
    sources, labels = sets.read_set(
        name, root, lambda raw: LocalSources.model_validate(raw).samples
    )
    files = {source.file for source in sources}
    labelled = {label.file for label in labels}
    if labelled != files:
        raise LocalSetError(
            f"set {name}: sources.yaml and labels.tsv name different photos; only in "
            f"labels.tsv: {sorted(labelled - files)}, only in sources.yaml: "
            f"{sorted(files - labelled)}"
        )
    return LocalSet(name, sources, labels)


def _is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def find_git_dir(mirrors: Path, repo: str) -> Path:
    """The git directory of ``repo`` (owner/name) under ``mirrors``; ``MirrorMissing`` if none."""
    base = mirrors / repo.replace("/", "+")
    candidates = [base, base / ".git"]
    if base.is_dir():
        for child in sorted(p for p in base.iterdir() if p.is_dir() and p.name != ".git"):
            candidates += [child, child / ".git"]
    for candidate in candidates:
        if _is_git_dir(candidate):
            return candidate
    raise MirrorMissing(
        f"no git mirror of {repo} under {mirrors} (looked for {base}, bare or with .git "
        "inside). The project cannot fetch these sets itself, since only package registries "
        f"are reachable from its machines: get the mirror of github:{repo} with the "
        "library's fetch tool of a session, then pass its folder with --mirrors"
    )


def read_blob(git_dir: Path, commit: str, path: str) -> bytes:
    """The bytes of ``commit:path`` in a git directory; ``LocalSetError`` if git cannot."""
    try:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", "cat-file", "blob", f"{commit}:{path}"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise LocalSetError("git is not installed; it is needed to read the mirrors") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()
        raise LocalSetError(
            f"cannot read {commit}:{path} from {git_dir} ({why}); the mirror may be older "
            "than that commit or not hold it"
        )
    return done.stdout


def build(name: str, target: Path, mirrors: Path, root: Path = LOCAL_SETS) -> Path:
    """Take one set's photos out of the mirrors into ``target`` with its labels."""
    local = load_set(name, root)
    git_dirs = {
        repo: find_git_dir(mirrors, repo) for repo in sorted({s.repo for s in local.sources})
    }
    print(
        f"set {name}: {len(local.sources)} photos, {len(local.labels)} plates -> {target}",
        flush=True,
    )
    target.mkdir(parents=True, exist_ok=True)
    kept = 0
    for source in local.sources:
        dest = target / source.file
        if dest.is_file() and sha256_of(dest) == source.sha256:
            kept += 1
            continue
        data = read_blob(git_dirs[source.repo], source.commit, source.path)
        got = hashlib.sha256(data).hexdigest()
        if got != source.sha256:
            raise LocalSetError(
                f"set {name}: {source.file} ({source.repo} {source.commit}:{source.path}) has "
                f"the wrong sha256: expected {source.sha256}, got {got}"
            )
        partial = dest.with_name(dest.name + ".part")
        partial.write_bytes(data)
        os.replace(partial, dest)
    print(f"set {name}: {len(local.sources) - kept} written, {kept} kept", flush=True)
    shutil.copyfile(root / name / "labels.tsv", target / "labels.tsv")
    return target


def default_dir() -> Path:
    """``$ALPR_HOME/samples/local-sets``."""
    return alpr_home() / "samples" / "local-sets"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.local_sets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sets: " + (", ".join(set_names()) or "none"),
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="sets to build (default: all)")
    parser.add_argument(
        "--mirrors",
        type=Path,
        required=True,
        help="folder holding the git mirrors, one per repository as owner+name",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to put the sets (default: $ALPR_HOME/samples/local-sets)",
    )
    args = parser.parse_args(argv)
    base = args.dir or default_dir()
    try:
        for name in args.names or set_names():
            print(build(name, base / name, args.mirrors), flush=True)
    except SetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
