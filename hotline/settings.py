"""Typed settings read from the environment, with strict parsing and safe development defaults."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

DEV_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEV_AUTH_TOKEN = "dev-auth-token-0000000000000000"
DEV_PHONE_NUMBER = "+8653266660000"
DEV_SECRET_KEY = "dev-secret-key-not-for-production"


class SettingsError(ValueError):
    """Raised when an environment variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Everything the app, the worker and the CLI read from the environment."""

    database_url: str
    redis_url: str | None
    twilio_account_sid: str
    twilio_auth_token: str
    twilio_phone_number: str
    twilio_api_base: str | None
    public_base_url: str
    secret_key: str
    timezone: ZoneInfo
    queues: tuple[str, ...] = ("dispatch", "outbound", "default")

    @property
    def is_sqlite(self) -> bool:
        """True when the case store is a SQLite file (development)."""
        return self.database_url.startswith("sqlite")


def redact(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _database_url(value: str | None) -> str:
    if not value:
        return f"sqlite:///{INSTANCE_DIR / 'hotline.db'}"

    if value.startswith("postgres://"):
        value = "postgresql://" + value.removeprefix("postgres://")
    if value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
        raise SettingsError(
            f"DATABASE_URL must be a sqlite or postgresql URL, got {redact(value)!r}"
        )
    return value


def _redis_url(value: str | None) -> str | None:
    if not value:
        return None
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(
            f"REDIS_URL must be redis://, rediss:// or unix://, got {redact(value)!r}"
        )
    return value


def _base_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {value!r}")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise SettingsError(f"{name} must be an origin without a path, got {value!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _phone_number(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise SettingsError(f"TWILIO_PHONE_NUMBER must be E.164, got {value!r}") from error
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SettingsError(f"HOTLINE_TIMEZONE is not a known time zone: {value!r}") from error


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from `environ` (default: the process environment).

    Keyword overrides replace single fields after parsing, for tests and embedded runs.
    Raises SettingsError when a variable is set to a value that cannot be used.
    """
    env = os.environ if environ is None else environ

    settings = Settings(
        database_url=_database_url(env.get("DATABASE_URL")),
        redis_url=_redis_url(env.get("REDIS_URL")),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or DEV_ACCOUNT_SID,
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN,
        twilio_phone_number=_phone_number(env.get("TWILIO_PHONE_NUMBER") or DEV_PHONE_NUMBER),
        twilio_api_base=(
            _base_url("TWILIO_API_BASE", env["TWILIO_API_BASE"])
            if env.get("TWILIO_API_BASE")
            else None
        ),
        public_base_url=_base_url(
            "PUBLIC_BASE_URL", env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"
        ),
        secret_key=env.get("SECRET_KEY") or DEV_SECRET_KEY,
        timezone=_timezone(env.get("HOTLINE_TIMEZONE") or "Asia/Shanghai"),
    )

    if overrides:
        from dataclasses import replace

        settings = replace(settings, **overrides)  # type: ignore[arg-type]
    return settings
