"""systemd/listfed.service as README installs it (SPEC §11): `systemd-analyze verify`
finds nothing wrong, and `systemd-analyze security --offline=true` scores its exposure
at 1.5 or less. Nothing is started: the analysis reads the unit file. `.ci/run`
installs systemd-analyze where a machine lacks it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "listfed.service"
INSTALLED = "/opt/listfed/bin/listfed"  # where README installs it


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this test's listfed (verify checks that the
    command exists and is executable; the README's /opt/listfed is not on this machine)."""
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (.ci/run does)")
    text = UNIT.read_text()
    assert f"ExecStart={INSTALLED} --config /etc/listfed/listfed.toml serve" in text
    here = Path(sys.executable).parent / "listfed"
    copy = tmp_path / "listfed.service"
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_unit_verifies_clean(unit: Path) -> None:
    done = analyze("verify", str(unit))
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_units_exposure_is_at_most_one_and_a_half(unit: Path) -> None:
    done = analyze("security", "--offline=true", "--no-pager", str(unit))
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found is not None, done.stdout + done.stderr
    assert float(found.group(1)) <= 1.5, done.stdout
    assert "ExecReload=/bin/kill -HUP $MAINPID" in UNIT.read_text()
