"""The one reader of the environment: ``S48_*`` variables (and an optional ``.env`` file) → Settings.

Nothing else in the project reads ``os.environ``. Unset variables mean the embedded default: a SQLite
file under ``./var/`` and no servers at all.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HTTP_PORT = 8048
DEFAULT_PUBLIC_PORT = 8049


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything configurable, resolved once at start-up."""

    var_dir: Path
    database_url: str
    broker_url: str
    socketio_queue_url: str | None = None
    ami_host: str | None = None
    ami_port: int = 5038
    ami_username: str | None = None
    ami_secret: str | None = None
    voicemail_spool: Path | None = None
    gammu_config: Path | None = None
    vosk_model: Path | None = None
    imap_url: str | None = None
    smtp_url: str | None = None
    secret_key: str = field(default="", repr=False)
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    # The public node (``sistem48 public``): the pages and APIs anyone may read, under a production
    # WSGI server, apart from the operators' web node so that a rush of citizens never slows a call.
    public_host: str = "127.0.0.1"
    public_port: int = DEFAULT_PUBLIC_PORT
    public_processes: int = 2
    # Two threads per process overlap a database round trip with work without fighting over the GIL:
    # measured against four (bench/public.py), the same throughput or more and half the p99 latency.
    public_threads: int = 2
    # Where staff log in: the public node links there (it serves no staff pages itself).
    console_url: str = "http://127.0.0.1:8048"
    timezone: str = "Europe/Sarajevo"
    # SLA thresholds (hours after receipt) for the status answer; the promise itself is 48 h.
    answer_hours: int = 48
    warn_hours: int = 24
    escalate_hours: int = 40
    # Outbox rows not delivered after this many seconds are published again by the sweeper.
    outbox_redrive_seconds: int = 60
    outbox_max_attempts: int = 8
    sweep_interval_seconds: float = 60.0
    public_base_url: str = "http://127.0.0.1:8048"
    # Channels
    ami_trunk_endpoints: tuple[str, ...] = ("sistem48-trunk",)
    sms_per_minute: int = 10  # a real modem manages 6–15 SMS/min
    sms_transliterate: bool = False  # default for citizens without a preference
    sms_daily_budget: int = 600  # parts per 24 h: a cap against SMS pumping and runaway loops
    sms_recipient_daily: int = 20  # parts per recipient per 24 h
    transcription_confidence: float = 0.6
    mail_from: str = "sistem48@opstinakotorvaros.com"

    @property
    def embedded_broker(self) -> bool:
        """Tell whether the broker is the serverless default (a SQLite file)."""
        return self.broker_url.startswith("sqla+sqlite")


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal ``.env`` file (KEY=VALUE lines, # comments, optional quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def _secret_key(var_dir: Path) -> str:
    """Return the session key stored under var/, creating it (0600) on first start."""
    path = var_dir / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key


def load_settings(env: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Build Settings from ``env`` (default: the process environment plus ``./.env``)."""
    base = Path.cwd() if cwd is None else cwd
    if env is None:
        merged = _read_dotenv(base / ".env")
        merged.update({k: v for k, v in os.environ.items() if k.startswith("S48_")})
        env = merged

    def get(name: str) -> str | None:
        value = env.get(f"S48_{name}")
        return value if value else None

    def path(name: str) -> Path | None:
        value = get(name)
        return Path(value) if value else None

    var_dir = Path(get("VAR_DIR") or base / "var").absolute()
    database_url = get("DATABASE_URL") or f"sqlite:///{var_dir / 'sistem48.sqlite3'}"
    broker_url = get("BROKER_URL") or f"sqla+sqlite:///{var_dir / 'broker.sqlite3'}"
    secret = get("SECRET_KEY") or _secret_key(var_dir)
    http_port = int(get("HTTP_PORT") or DEFAULT_HTTP_PORT)
    http_host = get("HTTP_HOST") or "127.0.0.1"
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        broker_url=broker_url,
        socketio_queue_url=get("SOCKETIO_QUEUE_URL"),
        ami_host=get("AMI_HOST"),
        ami_port=int(get("AMI_PORT") or 5038),
        ami_username=get("AMI_USERNAME"),
        ami_secret=get("AMI_SECRET"),
        voicemail_spool=path("VOICEMAIL_SPOOL"),
        gammu_config=path("GAMMU_CONFIG"),
        vosk_model=path("VOSK_MODEL"),
        imap_url=get("IMAP_URL"),
        smtp_url=get("SMTP_URL"),
        secret_key=secret,
        http_host=http_host,
        http_port=http_port,
        public_host=get("PUBLIC_HOST") or http_host,
        public_port=int(get("PUBLIC_PORT") or DEFAULT_PUBLIC_PORT),
        # At most four by default: each process holds up to two connections per thread (public reads and
        # the rest), and a container sees the host's CPU count.
        public_processes=int(get("PUBLIC_PROCESSES") or min(os.cpu_count() or 2, 4)),
        public_threads=int(get("PUBLIC_THREADS") or 2),
        console_url=(get("CONSOLE_URL") or f"http://{http_host}:{http_port}").rstrip("/"),
        timezone=get("TIMEZONE") or "Europe/Sarajevo",
        outbox_redrive_seconds=int(get("OUTBOX_REDRIVE_SECONDS") or 60),
        sweep_interval_seconds=float(get("SWEEP_INTERVAL_SECONDS") or 60),
        public_base_url=get("PUBLIC_BASE_URL") or f"http://{http_host}:{http_port}",
        ami_trunk_endpoints=tuple((get("AMI_TRUNK_ENDPOINTS") or "sistem48-trunk").split(",")),
        sms_per_minute=int(get("SMS_PER_MINUTE") or 10),
        sms_transliterate=(get("SMS_TRANSLITERATE") or "").lower() in ("1", "true", "yes"),
        sms_daily_budget=int(get("SMS_DAILY_BUDGET") or 600),
        sms_recipient_daily=int(get("SMS_RECIPIENT_DAILY") or 20),
        transcription_confidence=float(get("TRANSCRIPTION_CONFIDENCE") or 0.6),
        mail_from=get("MAIL_FROM") or "sistem48@opstinakotorvaros.com",
    )
