"""The `sistem48` command: database, seed, users, tokens, and `sistem48 up` serving on its port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from sistem48.cli import main
from tests.support.pg import free_port

ROOT = Path(__file__).resolve().parents[2]


def env_for(tmp_path: Path) -> dict[str, str]:
    """Settings pointing at a fresh embedded database in tmp_path."""
    return {"S48_VAR_DIR": str(tmp_path / "var"), "S48_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}"}


def test_db_seed_user_token(tmp_path: Path) -> None:
    """Upgrade, seed twice (idempotent), add users, create a token; errors are clear exit codes."""
    runner = CliRunner(env=env_for(tmp_path))
    assert "database at 0001" in runner.invoke(main, ["db", "upgrade"]).output
    first = runner.invoke(main, ["seed"])
    assert "organisations: +9" in first.output
    assert "organisations: +0" in runner.invoke(main, ["seed"]).output
    added = runner.invoke(main, ["user", "add", "milica", "--role", "operator", "--extension", "201", "--password-stdin"],
                          input="tajna-lozinka\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    dept = runner.invoke(
        main, ["user", "add", "vodovod1", "--role", "department", "--password-stdin"], input="tajna-lozinka\n"
    )
    assert dept.exit_code != 0
    assert "organisation" in dept.output
    short = runner.invoke(main, ["user", "add", "x", "--role", "admin", "--password-stdin"], input="kratka\n")
    assert short.exit_code != 0
    token = runner.invoke(main, ["token", "create", "milica"])
    assert token.exit_code == 0
    assert token.output.strip().startswith("s48_")
    assert runner.invoke(main, ["token", "create", "nobody"]).exit_code != 0


def get_json(
    url: str, headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, dict[str, object]]:
    """Fetch a JSON URL; return status and body."""
    request = urllib.request.Request(url, headers=headers or {}, data=data)  # noqa: S310  loopback test URL
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  loopback test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.integration
@pytest.mark.slow
def test_up_serves_and_delivers(tmp_path: Path) -> None:
    """`sistem48 up` migrates, seeds, serves /readyz, takes a ticket and its worker delivers the outbox."""
    port = free_port()
    env = {**os.environ, **env_for(tmp_path), "S48_HTTP_PORT": str(port), "PYTHONPATH": str(ROOT),
           "S48_SWEEP_INTERVAL_SECONDS": "2"}  # fmt: skip
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sistem48", "up"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline:
            try:
                status, body = get_json(f"{base}/readyz")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        assert status == 200, (tmp_path / "up.log").read_text(errors="replace")
        assert body["components"]["database"] == "ok"  # type: ignore[index]
        password = (tmp_path / "var" / "initial-admin-password.txt").read_text().strip()
        assert len(password) >= 12
        token = CliRunner(env=env_for(tmp_path)).invoke(main, ["token", "create", "admin"]).output.strip()
        status, ticket = get_json(
            f"{base}/api/v1/tickets",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            data=json.dumps(
                {"channel": "walk-in", "description": "Нема воде у Шипрагама", "phone": "065 435 411"}
            ).encode(),
        )
        assert status == 201
        assert ticket["organisation"]["code"] == "vodovod"  # type: ignore[index]
        delivered = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not delivered:
            _, metrics_body = 0, urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()  # noqa: S310
            delivered = 's48_outbox{state="done"} 2' in metrics_body
            time.sleep(0.5)
        assert delivered, (tmp_path / "up.log").read_text(errors="replace")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    assert proc.returncode == 0


def test_report_commands_write_files(tmp_path: Path) -> None:
    """`sistem48 report pack|planning|schedule|comparison` write their files and name them."""
    runner = CliRunner(env=env_for(tmp_path))
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["seed"]).exit_code == 0
    pack = tmp_path / "vodovod.pdf"
    result = runner.invoke(main, ["report", "pack", "--organisation", "vodovod", "--output", str(pack)])
    assert result.exit_code == 0, result.output
    assert pack.read_bytes().startswith(b"%PDF")
    planning = tmp_path / "plan.csv"
    assert runner.invoke(main, ["report", "planning", "--year", "2026", "--output", str(planning)]).exit_code == 0
    assert planning.stat().st_size > 0
    schedule = tmp_path / "schedule.csv"
    result = runner.invoke(main, ["report", "schedule", "--start", "2026-12-01", "--output", str(schedule)])
    assert result.exit_code == 0, result.output
    comparison = tmp_path / "comparison.ods"
    result = runner.invoke(main, ["report", "comparison", "--format", "ods", "--output", str(comparison)])
    assert result.exit_code == 0, result.output
    assert comparison.read_bytes()[:2] == b"PK"
    missing = runner.invoke(main, ["report", "pack", "--output", str(pack)])
    assert missing.exit_code != 0
