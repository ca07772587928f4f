"""Issue 13 item 22: CI and the test suite clean up after themselves; the package metadata
builds without setuptools' deprecation warnings."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Stand-ins for the tools .ci/run calls, so that the script itself runs here without a network
# or a MariaDB: python3 makes a "virtualenv" with 1 MB in it, whose activate script defines the
# tools; RUFF_RC decides whether lint fails.
STUBS = {
    "mysqladmin": "exit 0",
    "php": "echo pdo_mysql",
    "python3": textwrap.dedent(
        """\
        if [ "$1 $2" = "-m venv" ]; then
          mkdir -p "$3/bin"
          head -c 1048576 /dev/zero > "$3/weight"
          printf 'pip() { :; }\\nmypy() { :; }\\npython() { :; }\\n' > "$3/bin/activate"
          printf 'ruff() { return "${RUFF_RC:-0}"; }\\n' >> "$3/bin/activate"
          exit 0
        fi
        exit 3
        """
    ),
}


def run_ci(tmp_path: Path, ruff_rc: int) -> tuple[int, list[str]]:
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    for name, body in STUBS.items():
        path = stubs / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    temp = tmp_path / f"tmp-{ruff_rc}"
    temp.mkdir()
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "TMPDIR": str(temp),
        "RUFF_RC": str(ruff_rc),
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, sorted(p.name for p in temp.iterdir())


@pytest.mark.parametrize("ruff_rc", [0, 1], ids=["passes", "lint-fails"])
def test_ci_run_removes_its_virtualenv(tmp_path: Path, ruff_rc: int) -> None:
    code, left = run_ci(tmp_path, ruff_rc)
    assert code == ruff_rc
    assert left == []  # the temporary folder of the virtualenv is gone, however it ended


def test_ci_run_keeps_php_and_the_mandatory_symbiota_tests() -> None:
    text = (ROOT / ".ci" / "run").read_text()
    assert "php-cli php-mysql" in text and "CYVERSE_LINK_REQUIRE_SYMBIOTA=1" in text


def test_a_passing_tests_tmp_path_is_removed(tmp_path: Path) -> None:
    """With the project's pytest settings, a passing test's tmp_path does not stay behind
    (the large-file tests left ~450 MB per run); a failing one's does, for a look."""
    project = tmp_path / "project"
    project.mkdir()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ini = pyproject["tool"]["pytest"]["ini_options"]
    lines = [f"{key} = {value}" for key, value in ini.items() if isinstance(value, str)]
    (project / "pytest.ini").write_text("[pytest]\n" + "\n".join(lines) + "\n")
    (project / "test_big.py").write_text(
        textwrap.dedent(
            """\
            def test_writes_a_lot(tmp_path):
                (tmp_path / "big.bin").write_bytes(b"x" * 2_000_000)

            def test_fails(tmp_path):
                (tmp_path / "evidence.txt").write_text("look at me")
                assert False
            """
        )
    )
    base = tmp_path / "base"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={base}"],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout  # one test fails on purpose
    left = sorted(p.name for p in base.rglob("*") if p.is_file())
    assert left == ["evidence.txt"], left


def test_license_is_an_spdx_expression() -> None:
    """A ``project.license`` table makes setuptools >= 77 warn (six times per install)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["license"] == "MIT"
    requires = " ".join(data["build-system"]["requires"])
    assert "setuptools>=77" in requires  # the first release that reads an SPDX string
