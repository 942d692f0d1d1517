"""The service's configuration: one pydantic-settings object, built once in main() and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ExecutorName = Literal["local", "ray"]


class Settings(BaseSettings):
    """Every setting reads SCALINGLAW_<NAME> from the environment; CLI flags override."""

    model_config = SettingsConfigDict(env_prefix="SCALINGLAW_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535)
    data_dir: Path = Path("./scalinglaw-data")
    database_url: str = ""  # empty: SQLite in data_dir
    database_pool_size: int = Field(10, ge=1)  # PostgreSQL connections this server keeps at most
    token: str = ""  # non-empty: every call but health needs "authorization: Bearer <token>"
    reflection: bool = True  # serve gRPC reflection; with a token set it needs the token too
    tls_cert: Path | None = None  # with tls_key: serve TLS; neither: plaintext
    tls_key: Path | None = None
    tls_ca: Path | None = None  # the CLI trusts these PEM certificates to reach a TLS server
    max_jobs: int = Field(1, ge=1)
    # names this server among replicas sharing one database; on restart it fails only its own jobs
    replica_id: str = ""
    executor: ExecutorName = "local"
    ray_address: str = ""  # executor "ray": the cluster; empty: as ray.init() finds one, else a Ray in the server
    max_points: int = Field(50_000_000, ge=1, le=2**31 - 1)  # per curve (n_points is a 32-bit column)
    max_concurrent_uploads: int = Field(64, ge=1)  # UploadCurve streams open at once
    # bytes of points (8 per value) held by all open uploads together; a full-size curve fits
    max_upload_bytes_in_flight: int = Field(2 * 2**30, ge=1)
    max_bootstrap: int = Field(10_000, ge=0)  # resamples one fit, comparison, report or job may ask for
    # points in the fitting range x max(1, resamples), over a request's curves (160-350 bytes each at peak)
    max_point_resamples: int = Field(5_000_000, ge=1)
    max_curves_per_request: int = Field(10_000, ge=1)  # curve ids in one FitCurves, CompareCurves, RenderReport
    max_horizons: int = Field(1_000, ge=1)  # horizons, and target losses, of one comparison
    max_chunk_points: int = Field(1_048_576, ge=1)  # points in one upload or download chunk
    max_name_bytes: int = Field(1_024, ge=1)  # a curve's name, policy, study, split, ..., a label's key
    max_label_bytes: int = Field(16_384, ge=1)  # a label's value
    max_labels: int = Field(64, ge=0)  # labels on one curve
    max_extra_columns: int = Field(16, ge=0)  # named input columns on one curve
    max_queued_jobs: int = Field(32, ge=0)  # jobs accepted but not yet running, on this server
    max_job_memory_bytes: int = Field(16 * 2**30, ge=1)  # a job's estimated peak memory (trainers/footprint.py)
    corpus_dir: Path | None = None  # transformer.corpus names a file in here; unset: no corpus files
    upload_idle_seconds: float = Field(60.0, gt=0)  # an upload silent this long is ended and frees its slot
    max_message_bytes: int = Field(64 * 2**20, ge=65_536)
    chunk_points: int = Field(65_536, ge=1)  # points per streamed chunk
    # worker processes for fits, comparisons and reports at once (service/server/compute.py)
    fit_workers: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1), ge=1)
    # memory (RLIMIT_DATA) each of those workers may use; over it the request gets RESOURCE_EXHAUSTED; 0: no limit
    fit_memory_bytes: int = Field(8 * 2**30, ge=0)
    grace_seconds: float = Field(10.0, ge=0)
    # Job leases (service/server/jobs/leases.py): every lease_renew_seconds this server renews its
    # lease on the jobs it holds; a job whose holder has not renewed for lease_seconds is taken by
    # a live server sharing the database. job_retries: how often such a job (or one stopped by a
    # drain) is restarted from its start before it is marked FAILED; 0: never.
    lease_renew_seconds: float = Field(5.0, gt=0, le=3600)
    lease_seconds: float = Field(20.0, gt=0, le=86400)
    job_retries: int = Field(0, ge=0, le=100)

    @field_validator("executor", mode="before")
    @classmethod
    def _known_executor(cls, value: object) -> object:
        """Named after the variable people set, which pydantic's own message would not say."""
        if value not in get_args(ExecutorName):
            raise ValueError(f"SCALINGLAW_EXECUTOR must be one of {', '.join(get_args(ExecutorName))}, got {value!r}")
        return value

    @field_validator("tls_cert", "tls_key", "tls_ca", "corpus_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable means unset (as documented), not Path("."), which would count as set."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        """Half a TLS configuration would otherwise serve plaintext without a word."""
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("CERT", "KEY") if self.tls_key is None else ("KEY", "CERT")
            raise ValueError(
                f"SCALINGLAW_TLS_{given} is set but SCALINGLAW_TLS_{missing} is not: "
                "set both to serve TLS, or neither for plaintext"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlives_renewals(self) -> Settings:
        """A lease that a single late renewal lets expire would hand live jobs to another replica."""
        if self.lease_seconds < 2 * self.lease_renew_seconds:
            raise ValueError(
                f"SCALINGLAW_LEASE_SECONDS ({self.lease_seconds:g}) must be at least twice "
                f"SCALINGLAW_LEASE_RENEW_SECONDS ({self.lease_renew_seconds:g}): one late renewal must not lose a lease"
            )
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "scalinglaw.sqlite3"
