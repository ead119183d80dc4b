"""Settings, read from the environment with the ``DOKAZ_`` prefix.

Every limit the service enforces is here, so an operator can tune it without code.
``Settings.insecure_reasons()`` lists what would make a production deployment unsafe;
``dokaz serve`` refuses to start in production while that list is non-empty.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A value anyone can read in this repository is not a secret; production refuses it.
DEVELOPMENT_SECRET = "dokaz-development-secret-not-for-production"  # noqa: S105

MiB = 1024 * 1024
GiB = 1024 * MiB

# The bound most limits share: a count, size or period of at least one, and a duration in
# seconds above zero. A setting with another bound (zero allowed, an upper limit) says so.
OneOrMore = Annotated[int, Field(ge=1)]
AboveZero = Annotated[float, Field(gt=0)]

ClientIdentitySetting = Literal["address", "proxy-protocol", "none"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOKAZ_", env_file=None, extra="ignore")

    environment: Literal["development", "production"] = "development"
    debug: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes")
    # With a staff port and workers > 1 the staff surface runs in processes of its own, so
    # an intake surge (Argon2, encryption, uploads) in the public ones cannot slow triage.
    staff_workers: int = Field(default=1, ge=1, le=64, description=(
        "staff-surface processes beside DOKAZ_WORKERS public ones, with a staff port"))
    # The scheduler's share of the same cores: under contention the few staff requests go
    # first, and intake (uploads, encryption) takes the rest, which is nearly all of it.
    public_nice: int = Field(default=5, ge=0, le=19, description=(
        "with separate process groups: how far below the staff processes the public ones "
        "run (Linux nice steps)"))
    # With workers > 1 the supervisor pings each worker and replaces one that does not
    # answer in time; uvicorn's 5 s is shorter than a worker's start on a busy small host
    # (a spawned interpreter imports the whole app before it can answer).
    worker_healthcheck_seconds: int = Field(default=30, ge=1, le=600, description=(
        "seconds a worker process may take to answer the supervisor's health check"))
    # A second listener for the staff routes (api/core/surfaces.py): set, DOKAZ_PORT serves
    # only the public surface; unset, one port serves everything.
    staff_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="port of the staff surface (sign-in, cases, admin); unset: none")
    staff_host: str | None = Field(default=None, description="default: DOKAZ_HOST")

    data_dir: Path = Path("./dokaz-data")
    database_url: str | None = None
    database_pool_size: OneOrMore = 10

    # Used to sign CSRF tokens and other non-content integrity checks. It protects no
    # content: case data is encrypted with per-case keys that no server secret can open.
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)

    # Attachments: "local" keeps ciphertext blobs under data_dir/blobs, "s3" in a bucket.
    storage_backend: Literal["local", "s3"] = "local"
    # api/storage/local.py: blobs bypass the page cache where the filesystem allows it.
    storage_direct_io: bool = Field(default=True, description=(
        "local storage writes blobs with direct I/O (O_DIRECT) where the filesystem "
        "allows it, instead of through the page cache"))
    s3_endpoint_url: str | None = None
    s3_bucket: str = "dokaz"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None

    # Who "one client" is for per-client limits (api/core/privacy.py, docs/deployment-tor.md):
    # "address": the TCP peer (a direct deployment, a laptop); "proxy-protocol": every
    # connection starts with a PROXY protocol v1 header and the client is the Tor circuit
    # (or the address) it names; "none": no per-client identity at all, for a proxy that
    # hides its clients, where keying limits on the one shared peer would let any one
    # client shut out all the others.
    client_identity: ClientIdentitySetting = "address"

    onion_address: str | None = Field(
        default=None, description="e.g. abc...xyz.onion; sent as Onion-Location on pages"
    )

    # Argon2id cost for receipts and sealed staff keys. "fast-insecure-for-tests" exists only
    # so the test suite runs in minutes; production refuses it.
    kdf_profile: Literal["standard", "fast-insecure-for-tests"] = "standard"

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    # ---- limits (enforced while bytes arrive, never after) ----
    max_json_bytes: int = Field(default=1 * MiB, ge=1024)
    max_file_bytes: OneOrMore = 2 * GiB
    max_submission_bytes: OneOrMore = 4 * GiB
    max_files_per_submission: int = Field(default=20, ge=0)
    # Files are judged by their bytes (api/ingress/filetypes.py); these detected types are
    # refused whatever the file is called. Programs by default: the one kind of file that
    # can harm the caseworker who opens it by mistake. An empty list accepts everything.
    refused_file_types: list[str] = Field(default_factory=lambda: [
        "application/x-msdownload", "application/x-executable", "application/x-mach-binary",
        "application/x-ms-shortcut"])
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    header_timeout_seconds: AboveZero = Field(
        default=20.0, description="time a client has to send its request headers"
    )
    request_body_timeout_seconds: AboveZero = Field(
        default=4 * 3600.0, description="a slow phone over Tor may need hours"
    )
    min_free_disk_bytes: int = Field(default=1 * GiB, ge=0)
    # A body must keep arriving: at least this many bytes in every window, or 408. The
    # default (4 KiB a minute, ~70 B/s) is far below a phone on Tor at 1 KB/s, and a
    # pause of a whole window is allowed; a body trickling a byte every few seconds is not.
    min_body_bytes_per_window: int = Field(default=4 * 1024, ge=0, description=(
        "bytes a request body must deliver in every window of body_rate_window_seconds "
        "(0: no minimum rate)"))
    body_rate_window_seconds: AboveZero = 60.0
    # Open connections and bodies in flight (api/core/server.py, api/ingress/inflight.py).
    # Each connection costs a file descriptor, an upload in flight a second one (its blob);
    # the upload caps sit well under the connection cap, so /healthz and a report without
    # files still get a connection while idle uploads hold every upload slot.
    max_connections: OneOrMore = Field(default=512, description=(
        "open connections per API process; beyond it a new connection is answered 503 "
        "and closed"))
    max_connections_per_client: OneOrMore = Field(default=16, description=(
        "open connections per client on a PROXY-protocol port (one Tor circuit), per "
        "process; beyond it a connection is closed right after its PROXY header"))
    max_uploads_in_flight: OneOrMore = Field(default=128, description=(
        "upload bodies (tus PATCH, multipart) streaming at once in all API processes; "
        "beyond it 503"))
    max_uploads_in_flight_per_client: OneOrMore = Field(default=6, description=(
        "upload bodies one client streams at once; beyond it 429 (a browser opens at "
        "most 6 connections to one site)"))
    upload_idle_seconds: float = Field(default=2.0, ge=0, description=(
        "when every upload slot is taken, a tus PATCH that has kept below the minimum "
        "body rate this long gives its slot to a newcomer (its client resumes; tus keeps "
        "what arrived), a report form's body only after four times as long; 0: never. "
        "Slots are renewed every second while a body keeps the minimum rate"))
    # Shared state for several API processes (api.core.shared): global budgets and Tor
    # circuit counters. Unset: in process memory (the embedded default, one process).
    redis_url: str | None = Field(default=None, description="e.g. redis://127.0.0.1:6379/0")
    redis_timeout_seconds: AboveZero = 0.5
    redis_key_prefix: str = Field(default="dokaz:", min_length=1, max_length=64,
                                  description="keeps deployments sharing one Redis apart")
    # Web origins (scheme://host[:port]) whose pages may upload by tus from the browser
    # (CORS on /api/v1/uploads only, api/uploads/protocol.py); comma-separated. None by
    # default: then no CORS header is sent or answered.
    tus_cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    upload_expiry_hours: OneOrMore = Field(default=72, description=(
        "Hours an unfinished tus upload is kept; its expiry is rounded up to the next "
        "00:00 UTC, so it is kept at day precision."))
    intake_replay_hours: OneOrMore = Field(default=24, description=(
        "Hours a report's form token or Idempotency-Key is remembered, so a reload or a "
        "retried request files nothing new (api/intake/replays.py); rounded up to the "
        "next 00:00 UTC, then deleted"))
    intake_rate_per_client_per_hour: OneOrMore = 30
    intake_rate_global_per_minute: OneOrMore = 600
    receipt_attempts_per_hour: OneOrMore = 5
    # Staff sign-in (api/auth/throttle.py): failures slow the sender, then the account, with
    # a delay that doubles per failure after a free allowance and never exceeds its cap;
    # a counter is forgotten after a quiet period. No fixed lock-out window.
    login_free_failures_per_client: OneOrMore = Field(default=5, description=(
        "failed sign-ins one client (address or Tor circuit) may make before each further "
        "attempt must wait"))
    login_free_failures_per_account: OneOrMore = Field(default=10, description=(
        "failed sign-ins for one username, from anywhere, before each further attempt "
        "must wait"))
    login_first_delay_seconds: AboveZero = Field(default=1.0, description=(
        "the wait after the free failures are used up; it doubles with each further failure"))
    login_max_delay_per_client_seconds: AboveZero = Field(default=300.0, description=(
        "the longest wait a client is ever asked for"))
    login_max_delay_per_account_seconds: AboveZero = Field(default=300.0, description=(
        "the longest wait a username is ever asked for"))
    login_failures_forgotten_after_seconds: AboveZero = Field(default=3600.0, description=(
        "a client's or username's failures are forgotten after this long without a new "
        "one; at least both caps, so waiting out a delay never resets the count"))
    login_attempts_global_per_minute: OneOrMore = 120
    # For the whole host, not per process (api/ingress/argon2.py): unset, one core is left
    # for everything else, so a surge of receipts cannot slow the staff surface.
    max_concurrent_argon2: OneOrMore | None = Field(default=None, description=(
        "Argon2id runs at once on this host, all processes together (64 MiB each); "
        "unset: the usable cores less one, at least one"))
    receipt_stock: int = Field(default=2, ge=0, le=64, description=(
        "receipts each API process keeps hashed ahead, in memory only, so a submission "
        "whose receipt could not be hashed while its body streamed gets one at once"))
    receipt_stock_seconds: AboveZero = Field(default=60.0, description=(
        "a receipt kept ready longer than this is dropped unused"))
    argon2_nice: int = Field(default=10, ge=0, le=19, description=(
        "how far below the rest the Argon2 threads run (Linux nice steps; 0: as the rest)"))
    argon2_poll_seconds: AboveZero = Field(default=0.02, description=(
        "how often a waiting Argon2 run looks for a slot freed by another process"))
    # glibc malloc (api/core/memory.py): fewer arenas and a fixed mmap threshold, so the
    # buffers of finished uploads are returned to the system instead of staying resident.
    malloc_arena_max: int = Field(default=2, ge=0, description=(
        "glibc malloc arenas per API process (0: glibc's default, 8 per core)"))
    malloc_mmap_threshold_bytes: int = Field(default=256 * 1024, ge=0, le=32 * 1024 * 1024,
                                             description=(
        "allocations from this size up get their own mapping, returned on free (0: "
        "glibc's default, which grows with the largest buffer freed)"))
    malloc_trim_threshold_bytes: int = Field(default=4 * 1024 * 1024, ge=0,
                                             le=256 * 1024 * 1024, description=(
        "free memory at the top of a malloc heap is kept up to this much before it is "
        "returned to the system (0: glibc's default, 128 KiB)"))

    session_idle_minutes: OneOrMore = 30
    session_absolute_hours: OneOrMore = 12
    followup_token_minutes: OneOrMore = 30

    # ---- staff console (api/console) ----
    console_max_form_bytes: int = Field(default=256 * 1024, ge=1024, description=(
        "largest form a console page may post; refused with 413 while it arrives"))
    console_page_size: int = Field(default=50, ge=1, le=200, description=(
        "cases per queue page"))
    console_count_cap: int = Field(default=1000, ge=1, description=(
        "queue tab counts stop at this number and show it as 'N+'"))
    console_count_ttl_seconds: float = Field(default=10.0, ge=0, description=(
        "queue tab counts are reused this long per person and filters (0: count every page)"))

    # ---- cases (api/cases) ----
    # Service level per workflow state, in hours from entering it (due date of the state);
    # urgent cases get the same hours divided by case_sla_urgent_divisor. JSON in the env.
    case_sla_hours: dict[str, int] = Field(default_factory=lambda: {
        "new": 24, "triage": 48, "in_review": 120, "needs_info": 336,
        "verified": 168, "referred": 720}, description=(
        "Hours per open state from entering it to its due date, rounded up to whole days "
        "from the day the state was entered (case times are kept at day precision); a "
        "case is overdue once its due day has passed."))
    case_sla_urgent_divisor: OneOrMore = Field(default=4, description=(
        "Urgent cases get their state's hours divided by this (then rounded up to days)."))
    case_list_max_page: OneOrMore = 200
    # Metadata stripping decrypts into memory (never to disk): the largest file it takes.
    derivative_max_bytes: OneOrMore = 64 * MiB
    # Clean copies are decoded in a child process under these caps (api/cases/files/clean_copy.py),
    # so a hostile file can use up the child, never the API process.
    clean_copy_max_pixels: OneOrMore = Field(
        default=50_000_000, description="largest image (width x height, checked from the "
        "header before decoding) a clean copy is made of; also Pillow's MAX_IMAGE_PIXELS")
    clean_copy_max_frames: OneOrMore = Field(
        default=1000, description="most frames/pages an image file (GIF, APNG, WebP, "
        "TIFF) may have; only the first is kept, the count is checked before any is decoded")
    clean_copy_max_pages: OneOrMore = Field(
        default=2000, description="most pages a PDF may have, checked from the page "
        "tree's /Count before any page is parsed")
    clean_copy_max_output_bytes: OneOrMore = Field(
        default=256 * MiB, description="largest clean copy accepted back from the child")
    clean_copy_memory_bytes: int = Field(
        default=1 * GiB, ge=128 * MiB, description="address-space cap (RLIMIT_AS) of the child "
        "process that decodes and re-encodes one file")
    clean_copy_timeout_seconds: AboveZero = Field(
        default=60.0, description="wall-clock limit of one child; its CPU-time limit "
        "(RLIMIT_CPU) is the same number of seconds, rounded up")
    clean_copy_max_concurrent: OneOrMore = Field(
        default=2, description="children running at once per API process; each may use "
        "up to clean_copy_memory_bytes")
    clean_copy_queue_seconds: float = Field(
        default=10.0, ge=0, description="how long a request waits for a free child slot before "
        "it is answered 503 (try again)")
    # ---- intake / uploads (api/intake, api/uploads) ----
    # Blobs with no committed row older than this are deleted by the orphan sweep; must be
    # longer than the slowest request (request_body_timeout_seconds).
    orphan_blob_min_age_hours: AboveZero = 6.0

    # ---- background jobs (api/jobs, workers/) ----
    job_lease_seconds: OneOrMore = Field(default=120, description="a dead worker's job "
                                   "is re-claimed after this")
    job_max_attempts: OneOrMore = 8
    job_backoff_base_seconds: AboveZero = 10.0
    job_backoff_max_seconds: AboveZero = 3600.0
    job_poll_seconds: AboveZero = 2.0
    job_keep_finished_days: OneOrMore = 14
    staff_session_keep_days: int = Field(
        default=7, ge=1, le=365,
        description="Days an ended staff session (expired, signed out or revoked) is kept "
        "before the daily purge deletes it; until then its token is refused with the reason "
        "it ended rather than as unknown.",
    )
    # Notification emails carry counts and a link only, never case content.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "dokaz@localhost"
    smtp_timeout_seconds: AboveZero = 10.0
    staff_url: str = Field(default="http://127.0.0.1:8000/", description="link in emails")
    digest_check_minutes: OneOrMore = 5
    approval_expiry_days: int = Field(
        default=7, ge=1, le=90,
        description="Days a two-person approval request (coordinator role, intake duty, "
        "case grant, reader account) waits for a coordinator before it expires and does "
        "nothing; the requester may ask again.",
    )
    # Crypto-shredding by state: days after the case entered the state; None keeps it.
    retention_days_spam: int | None = Field(default=30, ge=0)
    retention_days_rejected: int | None = Field(default=365, ge=0)
    retention_days_closed: int | None = Field(default=None, ge=0)
    # Public web form: how long a form's CSRF token stays valid (typing plus a slow upload
    # over Tor can take hours), and the longest narrative one form accepts.
    web_form_token_hours: OneOrMore = 24
    web_max_text_chars: int = Field(default=200_000, ge=1000)

    # ---- the audit chainer (api/audit/service.py) ----
    # Requests append audit entries unchained; one chainer at a time numbers and hashes them
    # right after the commit, and every API process and the worker run it periodically too.
    # Until then an entry could be edited or removed unnoticed, so the tail is bounded.
    audit_chain_max_age_seconds: float = Field(
        default=2.0, gt=0, le=300, description="Longest an audit entry may stay unchained: "
        "the periodic chainer runs at half this interval, and `dokaz audit verify` fails "
        "naming any entry unchained for longer.")
    audit_chain_max_pending: int = Field(
        default=200, ge=1, le=100_000, description="After this many of a process's commits "
        "skipped chaining (another process was chaining), the next one waits for its turn, "
        "so the unchained tail also stays small under a burst.")

    # ---- audit checkpoints shipped off the server (api/audit/shipping.py) ----
    # The database holds the audit log and could be rewritten by whoever holds it; a copy of
    # the chain head kept elsewhere is what detects that. Targets: a write-once S3 bucket
    # (Object Lock, compliance mode), mail, or both. Best give the bucket its own account and
    # credentials allowed only s3:PutObject, s3:GetObject*, s3:ListBucketVersions.
    audit_ship_interval_minutes: OneOrMore = Field(
        default=15, description="How often the worker ships the audit chain head off the "
        "server (only when it moved since the last checkpoint shipped).")
    audit_ship_s3_bucket: str | None = Field(
        default=None, description="Write-once bucket (created with Object Lock enabled) that "
        "receives one object per checkpoint; unset: no S3 shipping.")
    audit_ship_s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of the checkpoint bucket; unset: the AWS default. "
        "Independent of DOKAZ_S3_ENDPOINT_URL, so it can be another provider.")
    audit_ship_s3_region: str = Field(default="us-east-1",
                                      description="Region of the checkpoint bucket.")
    audit_ship_s3_access_key_id: SecretStr | None = Field(
        default=None, description="Access key for the checkpoint bucket only.")
    audit_ship_s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key for the checkpoint bucket only.")
    audit_ship_s3_prefix: str = Field(
        default="dokaz-audit/", max_length=200, pattern=r"^[A-Za-z0-9._/-]*$",
        description="Key prefix of checkpoint objects; the key ends with the sequence number.")
    audit_ship_retention_days: int = Field(
        default=3650, ge=1, le=36500, description="Object Lock retention (COMPLIANCE mode) "
        "of each checkpoint object: nobody, not even the bucket owner, can delete or replace "
        "it before then.")
    audit_ship_max_hashes: int = Field(
        default=100_000, ge=1, le=10_000_000, description="A checkpoint object also lists "
        "the hash of every entry since the previous one (so verify names the first rewritten "
        "entry), at most this many; the head is always included.")
    audit_ship_mail_to: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$",
        description="Address that receives each checkpoint by mail (plain text: sequence "
        "number and hash only), via the DOKAZ_SMTP_* server.")
    audit_ship_opt_out: bool = Field(
        default=False, description="Run in production without shipping checkpoints off the "
        "server. Then a rewritten audit log is detected only against checkpoints the "
        "operator copies elsewhere by hand.")

    # ---- partner statistics (api/stats) ----
    # Cells below this many are hidden; 5 is the floor (case-metadata.md), 10 as the ONS.
    stats_min_cell: int = Field(default=10, description="refused below 5")
    # Case states counted in statistics (verified and later by default).
    stats_countable_states: list[str] = Field(
        default_factory=lambda: ["verified", "referred", "closed"])
    # First month of the fixed month grid; earlier events fall in one "earlier" bin.
    stats_first_month: str = Field(default="2020-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    stats_pulls_per_key_per_hour: OneOrMore = 120
    # Rendered partner pulls kept per API process (api/stats/rendered.py); 0 turns it off.
    stats_pull_cache_mib: float = Field(default=32.0, ge=0, le=4096)
    # Defaults for a partner switched to differential privacy (per-partner in the database).
    stats_dp_epsilon_per_pull: float = Field(default=0.5, gt=0, le=10)
    stats_dp_epsilon_budget: AboveZero = 10.0
    # Releases kept; older ones are deleted at refresh.
    stats_releases_kept: OneOrMore = 3
    # A new release at most this often: changes between releases come in batches.
    stats_release_interval_hours: float = Field(default=168.0, ge=0)

    @model_validator(mode="after")
    def _login_forgetting_outlasts_delays(self) -> Settings:
        caps = max(self.login_max_delay_per_client_seconds,
                   self.login_max_delay_per_account_seconds)
        if self.login_failures_forgotten_after_seconds < caps:
            raise ValueError(
                "DOKAZ_LOGIN_FAILURES_FORGOTTEN_AFTER_SECONDS must be at least the longest "
                f"sign-in delay ({caps:g} s): otherwise waiting out a delay would reset "
                "the count of failures")
        return self

    @field_validator("tus_cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError("DOKAZ_TUS_CORS_ORIGINS: a comma-separated list of origins")
        origins = []
        for item in items:
            origin = str(item).strip().rstrip("/")
            if not origin:
                continue
            scheme, sep, host = origin.partition("://")
            if (not sep or scheme not in ("http", "https") or not host
                    or any(c in host for c in "/?#*@ ")):
                raise ValueError(
                    f"DOKAZ_TUS_CORS_ORIGINS: {origin!r} is not an origin; give each as "
                    "scheme://host or scheme://host:port (no path, no wildcard)")
            origins.append(f"{scheme}://{host.lower()}")
        return tuple(origins)

    @field_validator("stats_min_cell")
    @classmethod
    def _min_cell_floor(cls, value: int) -> int:
        if value < 5:
            raise ValueError(
                "DOKAZ_STATS_MIN_CELL must be at least 5: smaller published cells can "
                "identify people (see case-metadata.md, aggregation rule)."
            )
        return value

    @model_validator(mode="after")
    def _headroom(self) -> Settings:
        # Uploads that idle at their cap must leave connections over for everyone else.
        if self.max_uploads_in_flight >= self.max_connections:
            raise ValueError(
                "DOKAZ_MAX_UPLOADS_IN_FLIGHT must be below DOKAZ_MAX_CONNECTIONS, so that "
                "health checks and reports still get a connection while uploads hold theirs.")
        if self.max_uploads_in_flight_per_client >= self.max_connections_per_client:
            raise ValueError(
                "DOKAZ_MAX_UPLOADS_IN_FLIGHT_PER_CLIENT must be below "
                "DOKAZ_MAX_CONNECTIONS_PER_CLIENT, so that a client's uploads leave it a "
                "connection for its report.")
        return self

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if value and value.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the only PostgreSQL driver we ship.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @property
    def resolved_max_concurrent_argon2(self) -> int:
        if self.max_concurrent_argon2 is not None:
            return self.max_concurrent_argon2
        return max(1, len(os.sched_getaffinity(0)) - 1)

    @property
    def resolved_staff_host(self) -> str:
        return self.staff_host or self.host

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dokaz.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def insecure_reasons(self) -> list[str]:
        """What makes this configuration unsafe for production, one sentence each."""
        reasons: list[str] = []
        if self.debug:
            reasons.append("DOKAZ_DEBUG is on: debug output can leak request data.")
        secret = self.secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET:
            reasons.append("DOKAZ_SECRET_KEY is the development default: set a random value.")
        elif len(secret) < 32:
            reasons.append("DOKAZ_SECRET_KEY is shorter than 32 characters.")
        if self.kdf_profile != "standard":
            reasons.append("DOKAZ_KDF_PROFILE is not 'standard': receipts would be cheap to guess.")
        if self.data_dir.exists():
            mode = self.data_dir.stat().st_mode
            if mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IXOTH):
                reasons.append(
                    f"The data directory {self.data_dir} is accessible to other users "
                    f"(mode {stat.S_IMODE(mode):o}); run: chmod 700 {self.data_dir}"
                )
        if self.storage_backend == "s3":
            if not self.s3_endpoint_url and not os.environ.get("AWS_ENDPOINT_URL"):
                reasons.append("DOKAZ_STORAGE_BACKEND=s3 needs DOKAZ_S3_ENDPOINT_URL.")
            if self.s3_secret_access_key is None:
                reasons.append("DOKAZ_STORAGE_BACKEND=s3 needs DOKAZ_S3_SECRET_ACCESS_KEY.")
        if not self.audit_ship_opt_out:
            if not self.audit_ship_s3_bucket and not self.audit_ship_mail_to:
                reasons.append(
                    "No audit checkpoint leaves the server: set DOKAZ_AUDIT_SHIP_S3_BUCKET "
                    "(a write-once bucket) and/or DOKAZ_AUDIT_SHIP_MAIL_TO, or accept that a "
                    "rewritten audit log goes unnoticed with DOKAZ_AUDIT_SHIP_OPT_OUT=true."
                )
            if self.audit_ship_mail_to and not self.smtp_host:
                reasons.append("DOKAZ_AUDIT_SHIP_MAIL_TO needs DOKAZ_SMTP_HOST to send mail.")
        return reasons

    @property
    def audit_ship_targets(self) -> list[str]:
        """The configured off-server targets for audit checkpoints ("s3", "mail")."""
        targets = []
        if self.audit_ship_s3_bucket:
            targets.append("s3")
        if self.audit_ship_mail_to and self.smtp_host:
            targets.append("mail")
        return targets


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
