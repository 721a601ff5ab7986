"""All configuration, read once from the environment (``LICHENG_*``).

Every knob lives here so that operators have one page to read; anything else
that needs a setting takes a ``Settings`` object instead of reading the
environment itself. A bad value fails loudly at start-up, not at first use.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "licheng-development-secret-change-me"


class Settings(BaseSettings):
    """Licheng's configuration. Environment variable = ``LICHENG_`` + field name."""

    model_config = SettingsConfigDict(env_prefix="LICHENG_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./licheng-data"),
        description="Where the embedded defaults keep the SQLite file and blobs.",
    )
    database_url: str = Field(
        default="",
        description="sqlite:///path/db.sqlite3 or postgres://user:pass@host:5432/db. "
        "Empty: a SQLite file in data_dir.",
    )
    storage_url: str = Field(
        default="",
        description="file:///path or s3://KEY:SECRET@host:port/bucket?secure=false&region=...&public=https://files.example.org "
        "(public=: the origin browsers reach the store by, when the app uses an internal name; download and "
        "upload links are signed for it). "
        "Empty: the folder blobs/ in data_dir.",
    )
    secret_key: str = Field(
        default=DEV_SECRET,
        description="Signs tokens. Must be set (32+ characters) when debug is off.",
    )
    data_key: str = Field(
        default="",
        description="Encrypts national ID numbers and plugin secrets at rest "
        "(32+ characters). Empty: derived from secret_key.",
    )
    oidc_private_key_file: Path | None = Field(
        default=None,
        description="PEM of the RSA (2048+ bits) key that signs id_tokens (RS256); in production from a "
        "Kubernetes secret, the same file on every pod. Unset: generated once into data_dir/oidc-rsa.pem.",
    )
    oidc_previous_key_file: Path | None = Field(
        default=None,
        description="PEM (private or public) of the key signing before a rotation: published in the JWKS, never used to sign.",
    )
    oidc_id_token_alg: Literal["RS256", "ES256"] = Field(
        default="RS256", description="How id_tokens are signed: RS256 (the RSA key) or ES256 (derived from secret_key).",
    )
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL of the app.")
    debug: bool = Field(default=False, description="GraphiQL on, errors unmasked. Never in production.")
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    max_failed_sign_ins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    plugins: str = Field(
        default="",
        description="Comma-separated plugin ids to load; empty loads every installed plugin.",
    )
    log_level: str = Field(default="INFO")
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Requests per minute per bearer token (or address) on the API; 0 turns limits off."
    )
    rate_limit_burst: int = Field(default=120, ge=1, description="Requests a caller may send at once before the rate applies.")
    upload_check_seconds: float = Field(
        default=20.0, ge=0.01, le=600,
        description="Time limit of one upload's structure check (a 10 MB file of any accepted kind takes well under 1 s).",
    )  # fmt: skip
    check_workers: int | None = Field(
        default=None, ge=1, le=64,
        description="Structure-check worker processes per app process. Unset: as many as CPUs, at most 4.",
    )  # fmt: skip
    schedule_periodic_jobs: bool = Field(
        default=True,
        description="Running workers enqueue periodic work (licheng.jobs.scheduler). Off: a worker only drains the queue.",
    )
    jobs_in_process: bool | None = Field(
        default=None,
        description="Run background jobs inside `licheng serve` (one worker task). Unset: on for the embedded "
        "SQLite default, off for PostgreSQL, where `licheng worker` processes run them.",
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="`licheng worker` serves Prometheus /metrics on this port. Unset: no metrics server.",
    )  # fmt: skip

    @field_validator("oidc_private_key_file", "oidc_previous_key_file", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("secret_key")
    @classmethod
    def _secret_long_enough(cls, value: str) -> str:
        if len(value) < 16:
            raise ValueError("LICHENG_SECRET_KEY must be at least 16 characters")
        return value

    @property
    def runs_jobs_in_process(self) -> bool:
        if self.jobs_in_process is not None:
            return self.jobs_in_process
        return self.resolved_database_url.startswith("sqlite")

    def check_production(self) -> None:
        """Refuse to serve for real with the development secret."""
        if not self.debug and self.secret_key == DEV_SECRET:
            raise ValueError(
                "LICHENG_SECRET_KEY is the development default; set a random value "
                "of 32+ characters (or LICHENG_DEBUG=true for local development)"
            )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'licheng.sqlite3').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{(self.data_dir / 'blobs').resolve()}"

    @cached_property
    def data_key_bytes(self) -> bytes:
        """32 bytes for AES-256-GCM, derived so that a passphrase of any length works."""
        material = self.data_key or ("data-key:" + self.secret_key)
        return hashlib.sha256(material.encode()).digest()

    @cached_property
    def lookup_key_bytes(self) -> bytes:
        """A separate key for keyed hashes (lookups), so encryption and hashing never share one."""
        material = self.data_key or self.secret_key
        return hashlib.sha256(("lookup-key:" + material).encode()).digest()

    @property
    def is_postgres(self) -> bool:
        return self.resolved_database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    def fingerprint(self) -> str:
        """A short non-secret identifier of the key material (for key-rotation checks)."""
        return base64.urlsafe_b64encode(hashlib.sha256(self.data_key_bytes).digest()[:6]).decode()
