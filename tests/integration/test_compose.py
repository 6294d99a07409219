"""docker-compose.yml parses with docker-compose and declares every production process."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "postgres",
    "redis",
    "migrate",
    "web",
    "public",
    "worker",
    "beat",
    "telephony",
    "sms",
    "transcribe",
    "mail",
    "asterisk",
}


@pytest.mark.integration
def test_compose_file_is_valid(tmp_path: Path) -> None:
    """`docker-compose config` accepts the file with the example secrets and lists every service."""
    binary = shutil.which("docker-compose")
    assert binary is not None, "install Debian's docker-compose (scripts/test.sh does)"
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copy(ROOT / "Dockerfile", tmp_path)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    (tmp_path / "asterisk.env").write_text("S48_AMI_SECRET=x\n", encoding="utf-8")
    run = subprocess.run([binary, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    services = subprocess.run(
        [binary, "config", "--services"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert set(services) == EXPECTED


def test_dockerfile_installs_every_package() -> None:
    """Every package the distribution ships (pyproject's include list) is copied into the image."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.removesuffix("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert "core" in packages
    assert all((ROOT / name / "__init__.py").is_file() for name in packages)
    for name in packages:
        assert f"COPY {name} {name}" in text, name
