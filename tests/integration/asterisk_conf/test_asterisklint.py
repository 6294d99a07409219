"""Lint extensions.conf with asterisklint (PyPI, pinned) and run docker-entrypoint.sh for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ASTERISKLINT_VERSION = "0.4.3"

# Findings of asterisklint that are accepted on purpose, each with its reason. Empty today:
# extensions.conf lints clean with 0.4.3. Add a code here only together with a comment saying
# why the finding is wrong or harmless; ALINT_IGNORE from the caller's environment is dropped.
ACCEPTED_LINT_CODES: tuple[str, ...] = ()

PLACEHOLDER_ENV = {
    "S48_AMI_SECRET": "ami&secret/\\x",
    "S48_SIP_TRUNK_HOST": "sip.provider.example",
    "S48_SIP_TRUNK_USERNAME": "trunkuser",
    "S48_SIP_TRUNK_PASSWORD": "trunkpass",
    "S48_SIP_201_PASSWORD": "p201",
    "S48_SIP_202_PASSWORD": "p202",
    "S48_SIP_203_PASSWORD": "p203",
    "S48_SIP_209_PASSWORD": "p209",
    "S48_VM_PIN": "4711",
}


@pytest.fixture(scope="module")
def asterisklint() -> str:
    """Return the path of the pinned asterisklint executable, or skip when it is not installed."""
    try:
        version = metadata.version("asterisklint")
    except metadata.PackageNotFoundError:
        pytest.skip(f"asterisklint not installed: pip install asterisklint=={ASTERISKLINT_VERSION}")
    assert version == ASTERISKLINT_VERSION, "accepted findings are tuned to the pinned version"
    exe = shutil.which("asterisklint", path=str(Path(sys.executable).parent)) or shutil.which("asterisklint")
    assert exe, "asterisklint is installed but its console script is not on PATH"
    return exe


def lint(exe: str, conf: Path) -> subprocess.CompletedProcess[str]:
    """Run ``asterisklint dialplan-check`` on ``conf`` with only our accepted codes ignored."""
    env = {k: v for k, v in os.environ.items() if k != "ALINT_IGNORE"}
    if ACCEPTED_LINT_CODES:
        env["ALINT_IGNORE"] = ",".join(ACCEPTED_LINT_CODES)
    return subprocess.run(
        [exe, "dialplan-check", str(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[str]:
    """Return asterisklint's finding lines (``file:line CODE: text``)."""
    return [line for line in (result.stdout + result.stderr).splitlines() if ".conf:" in line]


def test_dialplan_lints_clean(asterisklint: str, conf_dir: Path) -> None:
    """Asterisklint reports nothing for extensions.conf."""
    result = lint(asterisklint, conf_dir / "extensions.conf")
    assert findings(result) == []
    assert result.returncode == 0, result.stdout + result.stderr


def test_asterisklint_catches_a_broken_dialplan(asterisklint: str, conf_dir: Path, tmp_path: Path) -> None:
    """A negative control: a missing Goto context and a miscased app are reported."""
    broken = (conf_dir / "extensions.conf").read_text(encoding="utf-8")
    broken = broken.replace("Goto(sistem48-ulaz,s,1)", "Goto(sistem48-nema,s,1)", 1)
    broken = broken.replace("VoiceMail(4800@sistem48,u)", "Voicemail(4800@sistem48,u)")
    (tmp_path / "extensions.conf").write_text(broken, encoding="utf-8")
    result = lint(asterisklint, tmp_path / "extensions.conf")
    codes = " ".join(findings(result))
    assert result.returncode != 0
    assert "E_DP_GOTO_NOCONTEXT" in codes
    assert "W_APP_BAD_CASE" in codes


def run_entrypoint(conf_dir: Path, dst: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run docker-entrypoint.sh with ``/bin/echo`` standing in for the image's entrypoint."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    paths = {
        "SISTEM48_CONF_SRC": str(conf_dir),
        "SISTEM48_CONF_DST": str(dst),
        "SISTEM48_NEXT_ENTRYPOINT": "/bin/echo",
    }
    return subprocess.run(
        ["sh", str(conf_dir / "docker-entrypoint.sh"), "asterisk", "-f"],
        capture_output=True,
        text=True,
        env=base | paths | env,
        timeout=60,
        check=False,
    )


def test_entrypoint_fills_every_placeholder(conf_dir: Path, tmp_path: Path) -> None:
    """With all variables set, every config is copied with its secrets and the command runs."""
    result = run_entrypoint(conf_dir, tmp_path, PLACEHOLDER_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "asterisk -f"
    copied = sorted(p.name for p in tmp_path.iterdir())
    assert copied == sorted(p.name for p in conf_dir.glob("*.conf"))
    for path in tmp_path.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "CHANGE_ME_S48" not in text, path.name
    manager = (tmp_path / "manager.conf").read_text(encoding="utf-8")
    assert "secret=ami&secret/\\x\n" in manager
    assert "4800 => 4711," in (tmp_path / "voicemail.conf").read_text(encoding="utf-8")


def test_entrypoint_refuses_missing_variables(conf_dir: Path, tmp_path: Path) -> None:
    """A missing variable stops the start before anything is written."""
    env = {k: v for k, v in PLACEHOLDER_ENV.items() if k != "S48_SIP_TRUNK_PASSWORD"}
    result = run_entrypoint(conf_dir, tmp_path, env)
    assert result.returncode == 64
    assert "S48_SIP_TRUNK_PASSWORD" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_entrypoint_refuses_values_that_break_config_syntax(conf_dir: Path, tmp_path: Path) -> None:
    """A ';' would start a comment and cut the secret, so it is refused."""
    result = run_entrypoint(conf_dir, tmp_path, PLACEHOLDER_ENV | {"S48_AMI_SECRET": "abc;def"})
    assert result.returncode == 64
    assert list(tmp_path.iterdir()) == []
