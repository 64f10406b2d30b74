"""Every knob of the server, read from `GRADPROBE_*` environment variables (docs/configuration.md).

The defaults are the embedded deployment: SQLite and a filesystem broker under
`$GRADPROBE_HOME`, so that `gradprobe-server up` needs no other server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gradprobe.spec import Caps


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADPROBE_", extra="ignore")

    home: Path = Field(Path(".gradprobe"), description="Data folder of the embedded deployment.")
    database_url: str = Field(
        "", description="SQLAlchemy URL of the store; default sqlite under home."
    )
    broker_url: str = Field(
        "", description="Celery broker URL; default the filesystem broker under home."
    )
    broker_poll_s: float = Field(
        0.05, gt=0, description="Polling interval of the filesystem broker (seconds)."
    )
    queues: str = Field("gpu,cpu", description="Queues a worker consumes, comma-separated.")
    default_queue: str = Field("cpu", description="Queue a job goes to: gpu or cpu.")
    torch_threads: int = Field(
        0,
        ge=0,
        description="CPU threads per job (torch intra-op); 0: the machine's cores divided by "
        "the worker's concurrency, so that pool processes do not oversubscribe the CPU.",
    )
    gpus: str = Field(
        "",
        description="GPU ids a worker spreads its pool processes over, one each (e.g. 0,1,2,3 "
        "with --concurrency 4); empty: every process sees every visible GPU.",
    )
    lease_s: float = Field(30.0, gt=0, description="A running job's lease; renewed every third.")
    sweep_s: float = Field(10.0, gt=0, description="How often a worker looks for lost jobs.")
    republish_after_s: float = Field(
        600.0, gt=0, description="Re-publish a job queued this long (lost message)."
    )
    max_attempts: int = Field(3, ge=1, description="Attempts before a job whose worker died fails.")
    soft_time_limit_s: int = Field(3600, ge=1, description="A job's soft time limit.")
    hard_time_limit_s: int = Field(3900, ge=1, description="A job's hard time limit.")
    max_body_bytes: int = Field(
        1 * 2**20, ge=1024, description="Largest request body accepted (413 over it)."
    )
    job_views: bool = Field(
        True,
        description=(
            "Keep job views in each API process, fresh through PostgreSQL's LISTEN/NOTIFY"
            " (GET /v1/jobs/{id} then skips the store). Turn off behind a pooler in"
            " transaction mode (PgBouncer), where LISTEN hears nothing."
        ),
    )
    rate_per_s: float = Field(20.0, gt=0, description="Requests per second per tenant (429).")
    rate_burst: int = Field(100, ge=1, description="Burst of requests allowed per tenant.")
    max_active_jobs: int = Field(
        20, ge=1, description="Queued + running jobs per tenant (429 over it)."
    )
    max_study_cells: int = Field(
        64, ge=1, description="Cells (jobs) one study may have (422 over it)."
    )
    max_parameters: int = Field(
        Caps().max_parameters, ge=1, description="Per-job cap: trainable parameters."
    )
    max_activation_bytes: int = Field(
        Caps().max_activation_bytes,
        ge=1,
        description="Per-job cap: estimated activation memory (bytes).",
    )
    max_steps: int = Field(Caps().max_steps, ge=1, description="Per-job cap: training steps.")
    max_seq_len: int = Field(Caps().max_seq_len, ge=1, description="Per-job cap: sequence length.")
    max_upload_bytes: int = Field(
        Caps().max_upload_bytes,
        ge=1,
        description="Per-job cap: size of an uploaded data file (bytes).",
    )

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'gradprobe.db'}"

    @property
    def broker(self) -> str:
        return self.broker_url or "gradprobefs://localhost//"

    @property
    def broker_folder(self) -> Path:
        return self.home.resolve() / "broker"

    def caps(self) -> Caps:
        return Caps(
            max_parameters=self.max_parameters,
            max_activation_bytes=self.max_activation_bytes,
            max_steps=self.max_steps,
            max_seq_len=self.max_seq_len,
            max_upload_bytes=self.max_upload_bytes,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
