"""bench.local_sets: rebuilding a set from a git mirror, and the committed local sets."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.local_sets import (
    LocalSetError,
    MirrorMissing,
    build,
    find_git_dir,
    load_set,
    main,
    set_names,
)
from bench.sets import parse_labels

REPO = "someone/plates"
LABELS = (
    "# file\tplate\tbox\tlines\tregion\tvehicle\tcolour\tnote\n"
    "a.png\tAB123\t1 2 10 5\t1\tDE\tcar\t-\t-\n"
    "b.png\tCD456\t-\t2\tVN\tmotorcycle\t-\ttwo-line\n"
)


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "-c", "commit.gpgsign=false", *args],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A mirrors folder with one repository (``.git`` inside) holding two small PNGs."""
    work = tmp_path / "mirrors" / REPO.replace("/", "+")
    (work / "imgs").mkdir(parents=True)
    hashes = {}
    for name, value in (("a.png", 40), ("b.png", 200)):
        image = np.full((8, 16, 3), value, np.uint8)
        ok, png = cv2.imencode(".png", image)
        assert ok
        (work / "imgs" / f"src-{name}").write_bytes(png.tobytes())
        hashes[name] = hashlib.sha256(png.tobytes()).hexdigest()
    _git("init", "-q", cwd=work)
    _git("add", "imgs", cwd=work)
    _git("commit", "-q", "-m", "two plates", cwd=work)
    return tmp_path / "mirrors", _git("rev-parse", "HEAD", cwd=work), hashes


def _write_set(root: Path, commit: str, hashes: dict[str, str]) -> None:
    folder = root / "tiny"
    folder.mkdir(parents=True)
    (folder / "labels.tsv").write_text(LABELS, encoding="utf-8")
    rows = ["samples:"]
    for name, sha in hashes.items():
        rows += [
            f"  - file: {name}",
            f"    repo: {REPO}",
            f'    commit: "{commit}"',
            f"    path: imgs/src-{name}",
            f'    sha256: "{sha}"',
            "    licence: MIT",
        ]
    (folder / "sources.yaml").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_build_writes_photos_and_labels_and_keeps_good_files(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]]
) -> None:
    mirrors, commit, hashes = mirror
    root = tmp_path / "sets"
    _write_set(root, commit, hashes)
    out = build("tiny", tmp_path / "out" / "tiny", mirrors, root)
    for name, sha in hashes.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha
        assert cv2.imread(str(out / name)).shape == (8, 16, 3)
    assert (out / "labels.tsv").read_text(encoding="utf-8") == LABELS
    assert [label.plate for label in parse_labels(LABELS)] == ["AB123", "CD456"]
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "labels.tsv"]

    # A good file is kept (not rewritten); a damaged one is replaced.
    good = out / "a.png"
    before = good.stat().st_mtime_ns
    (out / "b.png").write_bytes(b"damaged")
    build("tiny", out, mirrors, root)
    assert good.stat().st_mtime_ns == before
    assert hashlib.sha256((out / "b.png").read_bytes()).hexdigest() == hashes["b.png"]


def test_build_finds_a_bare_mirror_one_folder_down(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]]
) -> None:
    mirrors, commit, hashes = mirror
    bare = tmp_path / "bare" / REPO.replace("/", "+") / "repo"
    _git("clone", "-q", "--bare", str(mirrors / REPO.replace("/", "+")), str(bare), cwd=tmp_path)
    assert find_git_dir(tmp_path / "bare", REPO) == bare
    root = tmp_path / "sets"
    _write_set(root, commit, hashes)
    out = build("tiny", tmp_path / "out", tmp_path / "bare", root)
    assert (out / "a.png").is_file() and (out / "b.png").is_file()


def test_wrong_sha256_is_a_clear_error(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]]
) -> None:
    mirrors, commit, hashes = mirror
    root = tmp_path / "sets"
    _write_set(root, commit, {**hashes, "b.png": "0" * 64})
    with pytest.raises(LocalSetError) as caught:
        build("tiny", tmp_path / "out", mirrors, root)
    message = str(caught.value)
    assert "b.png" in message and "expected " + "0" * 64 in message
    assert f"got {hashes['b.png']}" in message
    assert not (tmp_path / "out" / "b.png").exists()


def test_missing_mirror_is_a_clear_error(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, commit, hashes = mirror
    root = tmp_path / "sets"
    _write_set(root, commit, hashes)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MirrorMissing, match=rf"no git mirror of {REPO}.*package registries"):
        build("tiny", tmp_path / "out", empty, root)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--mirrors" in capsys.readouterr().out


def test_unknown_commit_is_a_clear_error(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]]
) -> None:
    mirrors, _, hashes = mirror
    root = tmp_path / "sets"
    _write_set(root, "1" * 40, hashes)
    with pytest.raises(LocalSetError, match=r"cannot read 1{40}:imgs/src-a\.png"):
        build("tiny", tmp_path / "out", mirrors, root)


def test_sources_and_labels_must_name_the_same_photos(
    tmp_path: Path, mirror: tuple[Path, str, dict[str, str]]
) -> None:
    _, commit, hashes = mirror
    root = tmp_path / "sets"
    _write_set(root, commit, {"a.png": hashes["a.png"]})
    with pytest.raises(LocalSetError, match=r"only in labels\.tsv: \['b\.png'\]"):
        load_set("tiny", root)


def test_committed_local_sets_are_well_formed() -> None:
    names = set_names()
    assert names == ["eu", "eu2", "other", "twoline", "us"]
    for name in names:
        local = load_set(name)  # sources parse (extra keys forbidden), labels parse
        files = [source.file for source in local.sources]
        assert sorted(files) == sorted({label.file for label in local.labels}), name
        assert len(set(files)) == len(files), name
        assert len({source.sha256 for source in local.sources}) == len(files), name
        for source in local.sources:
            assert source.licence in ("MIT", "unstated"), f"{name}/{source.file}"
