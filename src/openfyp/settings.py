"""One typed settings object for a deployment, read from ``OPENFYP_*`` environment variables.

Every default works on a fresh machine: SQLite in WAL mode, media in a local folder and jobs in
process, all under one data directory.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REGION_PATTERN = r"^[a-z]{2}(-[a-z0-9]{1,8})?$"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENFYP_", extra="ignore")

    region: str = Field("us", pattern=REGION_PATTERN, description="The region this deployment serves.")
    data_dir: Path = Field(Path("openfyp-data"), description="Home of the database, media, models and keys.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default is SQLite in data_dir.")
    media_backend: Literal["local", "s3"] = "local"
    media_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str = "openfyp-media"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    event_stream: Literal["sql", "redis"] = "sql"
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"

    max_upload_bytes: int = Field(200 * 1024 * 1024, gt=0)
    max_video_seconds: float = Field(600.0, gt=0)
    max_event_batch: int = Field(500, gt=0)
    transcode_short_edge: int = Field(720, ge=144)
    transcode_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        "veryfast", description="x264 speed/size trade-off for uploads (the demo uses a faster one).")
    job_workers: int = Field(1, ge=0, description="In-process background job threads; 0 disables them.")
    web_workers: int = Field(1, ge=1, le=64, description=(
        "Server processes `openfyp serve` starts (each a whole app on the shared database; one of them leads "
        "the background work; without Redis each enforces its share of the write rate limit)."))
    retrain_interval_minutes: float = Field(0.0, ge=0, description="Retrain this often in the server; 0 = off.")
    retrain_min_new_events: int = Field(1000, ge=1, description="Scheduled retraining waits for this many events.")
    realtime_checkpoint_seconds: float = Field(30.0, gt=0, description="How often the online learner checkpoints.")

    secret_key: str | None = Field(None, description="Signs cursors; generated into data_dir when unset.")
    session_days: int = Field(30, gt=0)
    cookie_secure: bool = False
    write_rate_per_minute: int = Field(120, gt=0, description="Per-user budget for write requests.")

    adult_age: int = Field(18, gt=0)
    minimum_age: int = Field(13, gt=0)
    # Below this age an account gets the strongest protections (followers-only uploads, no contact from
    # adults it does not follow); see openfyp.moderation.minors.
    protected_minor_age: int = Field(16, gt=0)
    minor_daily_screen_minutes: int = Field(60, ge=0, description="Daily feed limit for minors; 0 = none.")

    # Regions whose deployments may read this region's *public* video metadata.
    public_metadata_shared_with: list[str] = Field(default_factory=list)

    @field_validator("data_dir", "media_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'openfyp.db'}"

    @property
    def resolved_media_dir(self) -> Path:
        return self.media_dir or self.data_dir / "media"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            # Written whole under a temporary name and linked into place, which fails if another server process
            # got there first: every process of a deployment ends up signing with the same key.
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".secret.key.{os.getpid()}.tmp")
            temporary.write_text(secrets.token_urlsafe(48))
            temporary.chmod(0o600)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        return path.read_text().strip()

    def ensure_dirs(self) -> None:
        for folder in (self.data_dir, self.resolved_media_dir, self.models_dir, self.keys_dir):
            folder.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
