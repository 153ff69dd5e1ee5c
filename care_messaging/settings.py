"""One settings object, read from the environment.

Outside development the app refuses to start with default or missing secrets, because a
clinical deployment that silently runs on a demo key is worse than one that does not start.
"""

from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from care_messaging.sites import CrossSiteError, check_same_site

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a safe configuration."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Runtime configuration for Care Messaging."""

    env: str
    data_dir: Path
    database_url: str
    redis_url: str
    port: int
    public_origin: str
    extra_origins: tuple[str, ...]
    idle_timeout_seconds: int
    absolute_session_seconds: int
    idle_warning_seconds: int
    login_max_failures: int
    login_lockout_seconds: int
    max_attachment_bytes: int
    attachment_dir: Path
    encryption_keys: dict[str, bytes] = field(repr=False)
    active_key_id: str = ""
    cookie_secure: bool = False
    # Failed sign-ins one source address may make (a `limits` rate string), on top of the
    # per-account lock: spraying one password across many accounts is not free.
    login_ip_limit: str = "30 per 10 minutes"
    # Administrators must set up two-step sign-in before using the admin page; on by default
    # outside development (CARE_ADMIN_TOTP_REQUIRED=0 turns it off, =1 on in development).
    admin_totp_required: bool = False
    # Notifications (services/notifications.py): email after this long unseen, at most one
    # per user per this window; no SMTP URL = written to data/mail.log (the embedded default).
    notify_delay_seconds: int = 300
    smtp_url: str = field(default="", repr=False)  # may hold a password
    mail_from: str = "Care Messaging <no-reply@localhost>"
    reminder_hours: int = 48  # 0 turns reminders off
    digest_hour_utc: int = 13
    # Durable jobs (care_messaging/jobs): the in-app runner polls this often; a claimed job
    # whose worker died is taken again after the lease.
    jobs_in_app: bool = True
    job_poll_seconds: float = 1.0
    job_lease_seconds: int = 120
    # How long after sending the sender may still retract or correct a message (minutes).
    retract_window_minutes: int = 15
    # FHIR export by an administrator: metadata only (no message text, no file contents or
    # names) unless the clinic's policy says otherwise (CARE_FHIR_ADMIN_TEXT=1).
    fhir_admin_text: bool = False
    # Split deployment (web/origins.py): the origin of the backend (sign-in, sign-out, the
    # websocket, attachments) when the pages come from elsewhere; "" = the public origin (one
    # port). The backend process listens on backend_port.
    backend_origin: str = ""
    backend_port: int = 0
    # One password hash at a time on a machine (web/offloop.py): the workers that share this
    # file take turns. "" = password-hash.lock in the data directory.
    hash_lock_file: str = ""

    @property
    def hash_lock_path(self) -> Path:
        return Path(self.hash_lock_file) if self.hash_lock_file else (
            self.data_dir / "password-hash.lock")

    @property
    def mail_log(self) -> Path:
        return self.data_dir / "mail.log"

    @property
    def is_dev(self) -> bool:
        return self.env in {"dev", "test"}

    @property
    def backend_url(self) -> str:
        """Where the backend is reached: the public origin unless split."""
        return self.backend_origin or self.public_origin

    @property
    def split_origin(self) -> bool:
        """Pages from one origin (a static server, `reflex run`'s dev server), the backend on
        another: forms and links must name the backend, redirects the frontend."""
        return self.backend_url != self.public_origin

    @property
    def allowed_origins(self) -> list[str]:
        return [self.public_origin, *self.extra_origins]

    @property
    def active_key(self) -> bytes:
        return self.encryption_keys[self.active_key_id]


def _parse_keys(raw: str) -> tuple[dict[str, bytes], str]:
    """Parse ``id1:base64key1,id2:base64key2``; the first id is the active one."""
    keys: dict[str, bytes] = {}
    active = ""
    for part in [p.strip() for p in raw.split(",") if p.strip()]:
        if ":" not in part:
            raise SettingsError("CARE_ENCRYPTION_KEYS entries must look like id:base64key")
        key_id, b64 = part.split(":", 1)
        try:
            key = base64.urlsafe_b64decode(b64.encode())
        except ValueError as exc:
            raise SettingsError(f"encryption key {key_id!r} is not valid base64") from exc
        if len(key) != 32:
            raise SettingsError(f"encryption key {key_id!r} must be 32 bytes (AES-256)")
        keys[key_id] = key
        active = active or key_id
    return keys, active


def _load_keys(env: str, data_dir: Path) -> tuple[dict[str, bytes], str]:
    raw = os.environ.get("CARE_ENCRYPTION_KEYS", "")
    key_file = os.environ.get("CARE_KEY_FILE", "")
    if not raw and key_file:
        raw = Path(key_file).read_text().strip()
    if not raw and env in {"dev", "test"}:
        # Development only: the start command writes this file; it never lives in the database.
        dev_file = data_dir / "encryption.keys"
        if dev_file.exists():
            raw = dev_file.read_text().strip()
    if not raw:
        raise SettingsError(
            "No encryption key: set CARE_ENCRYPTION_KEYS or CARE_KEY_FILE "
            "(run `python -m care_messaging.cli make-key`)."
        )
    return _parse_keys(raw)


def _origin(name: str, default: str) -> str:
    """An origin from the environment, normalised (no trailing slash, no path)."""
    raw = (os.environ.get(name, "") or default).strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path:
        raise SettingsError(f"{name} must be an origin like https://care.example.org, got {raw!r}")
    return raw


def _port_of(origin: str, default: int) -> int:
    parts = urlsplit(origin)
    return parts.port or default


def load_settings() -> Settings:
    """Build settings from the environment, failing loudly on unsafe combinations."""
    env = os.environ.get("CARE_ENV", "dev")
    data_dir = Path(os.environ.get("CARE_DATA_DIR", str(DEFAULT_DATA_DIR)))
    port = _env_int("CARE_PORT", 3000)
    database_url = os.environ.get("DATABASE_URL", f"sqlite:///{data_dir / 'care.db'}")
    keys, active = _load_keys(env, data_dir)
    public_origin = _origin("CARE_PUBLIC_ORIGIN", f"http://localhost:{port}")
    backend_origin = _origin("CARE_BACKEND_ORIGIN", public_origin)
    try:
        check_same_site(public_origin, backend_origin)
    except CrossSiteError as exc:
        raise SettingsError(str(exc)) from None
    settings = Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=os.environ.get("REFLEX_REDIS_URL", os.environ.get("CARE_REDIS_URL", "")),
        port=port,
        public_origin=public_origin,
        backend_origin="" if backend_origin == public_origin else backend_origin,
        backend_port=_env_int("CARE_BACKEND_PORT", _port_of(backend_origin, port)
                              if backend_origin != public_origin else port),
        # Other origins the same deployment is reached at (comma-separated), e.g. a second
        # hostname behind the proxy; CORS and the sign-in origin check accept them too.
        extra_origins=tuple(
            o.strip() for o in os.environ.get("CARE_EXTRA_ORIGINS", "").split(",") if o.strip()
        ),
        idle_timeout_seconds=_env_int("CARE_IDLE_TIMEOUT_SECONDS", 15 * 60),
        absolute_session_seconds=_env_int("CARE_ABSOLUTE_SESSION_SECONDS", 12 * 60 * 60),
        idle_warning_seconds=_env_int("CARE_IDLE_WARNING_SECONDS", 60),
        login_max_failures=_env_int("CARE_LOGIN_MAX_FAILURES", 5),
        login_lockout_seconds=_env_int("CARE_LOGIN_LOCKOUT_SECONDS", 15 * 60),
        max_attachment_bytes=_env_int("CARE_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024),
        attachment_dir=Path(os.environ.get("CARE_ATTACHMENT_DIR", str(data_dir / "attachments"))),
        encryption_keys=keys,
        active_key_id=active,
        cookie_secure=public_origin.startswith("https://"),
        login_ip_limit=os.environ.get("CARE_LOGIN_IP_LIMIT", "") or "30 per 10 minutes",
        admin_totp_required=os.environ.get(
            "CARE_ADMIN_TOTP_REQUIRED", "0" if env in {"dev", "test"} else "1") == "1",
        notify_delay_seconds=_env_int("CARE_NOTIFY_DELAY_SECONDS", 300),
        smtp_url=os.environ.get("CARE_SMTP_URL", ""),
        mail_from=os.environ.get("CARE_MAIL_FROM", "") or "Care Messaging <no-reply@localhost>",
        reminder_hours=_env_int("CARE_REMINDER_HOURS", 48),
        digest_hour_utc=_env_int("CARE_DIGEST_HOUR_UTC", 13) % 24,
        jobs_in_app=os.environ.get("CARE_JOBS_IN_APP", "1") not in {"0", "false", "no"},
        job_poll_seconds=float(os.environ.get("CARE_JOB_POLL_SECONDS", "") or 1.0),
        job_lease_seconds=_env_int("CARE_JOB_LEASE_SECONDS", 120),
        retract_window_minutes=_env_int("CARE_RETRACT_WINDOW_MINUTES", 15),
        fhir_admin_text=os.environ.get("CARE_FHIR_ADMIN_TEXT", "0") in {"1", "true", "yes"},
        hash_lock_file=os.environ.get("CARE_HASH_LOCK_FILE", ""),
    )
    return settings


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
