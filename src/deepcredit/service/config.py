"""Service settings: read once from the environment, passed explicitly everywhere else.

Secrets (the pseudonym key, the operator key) come only from the environment, never from files in the
repository or the database, so that a copy of the database alone cannot re-identify anyone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DATABASE_URL = "sqlite:///runs/service/deepcredit.db"
MIN_KEY_BYTES = 32


class ConfigError(ValueError):
    """A missing or unusable setting; the message names the environment variable."""


def utcnow() -> datetime:
    """Naive UTC (the database stores naive UTC timestamps on every backend)."""
    return datetime.now(UTC).replace(tzinfo=None)


def naive_in(dt: datetime, zone: str | None = None) -> datetime:
    """A timestamp as the naive wall-clock time of `zone` (None: UTC): aware ones are converted, naive ones
    are taken as already in it.

    A valid RFC 3339 time within a day of year 1 or 9999 can fall off the calendar (0001-01-01T01:00 at
    +10:00, in UTC); it becomes the calendar's first or last instant, which every rule then treats as the
    past or the far future it is, rather than an overflow."""
    if not dt.tzinfo:
        return dt
    try:
        return dt.astimezone(ZoneInfo(zone) if zone else UTC).replace(tzinfo=None)
    except OverflowError:
        return datetime.min if dt.year == 1 else datetime.max



def retention_start(now: datetime, years: int) -> datetime:
    """The earliest moment a record still counts at `now` under a retention period of `years` (365.25 days a
    year, rounded to whole days). One rule for the retention job and for reported events: an event older than
    this is refused, since retention would retire it at once."""
    return now - timedelta(days=round(365.25 * years))


@dataclass
class Clock:
    """The service's notion of now: the data set's wall-clock time, optionally shifted back to its era.

    Why the zone: a data set declared in Asia/Shanghai holds Shanghai wall-clock times; a clock in UTC
    would call an event of 07:00 that morning eight hours in the future, and stamp reported events on
    another calendar than the stored ones. `zone` is the data set's (Dataset.time_zone), recorded at
    `serve-init`; None keeps UTC.
    Why a shift: a demo on historical data (UCI is from 2005) must score "now" in that data's time, or
    every recency feature would read twenty years. `offset` is fixed at `serve-init` and stored, so time
    still runs forward and events stay ordered across restarts.
    """

    offset: timedelta = timedelta(0)
    source: Callable[[], datetime] = utcnow
    zone: str | None = None

    def now(self) -> datetime:
        return self.unshifted() - self.offset

    def unshifted(self) -> datetime:
        """The wall-clock time in the data set's zone, before any shift to its era (source: naive UTC)."""
        return naive_in(self.source().replace(tzinfo=UTC), self.zone)

    def naive(self, dt: datetime) -> datetime:
        """A client's timestamp in the service's time: an aware one converted to the zone's wall clock, a
        naive one taken as already in it."""
        return naive_in(dt, self.zone)


@dataclass
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    pseudonym_key: bytes = b""
    admin_key: str = ""
    dispute_deadline_days: int = 20
    replay_window_hours: int = 24
    report_window_days: int = 180
    """A merchant may report an outcome for an order up to this many days after deciding it (events.py)."""
    max_body_bytes: int = 1 << 20
    """Larger request bodies are refused with 413 before they are read (limits.py)."""
    threshold_changes_per_day: int = 3
    """Threshold settings (new policies included) a merchant may make in any rolling 24 hours."""
    threshold_step: int = 10
    """Thresholds must be multiples of this: the finest resolution a merchant can ever probe at."""
    probe_thresholds_per_person: int = 3
    """Distinct thresholds one merchant may apply to one person within `probe_window_days`."""
    probe_window_days: int = 30
    max_consent_days: int = 366
    recalculation_days: int = 30
    """Every score is recalculated at least this often (`deepcredit retention` runs it); new records sooner."""
    webhook_interval_s: int = 0
    """Seconds between rounds of sending alerts to webhooks (0: no background sender; `serve` uses 10)."""
    webhook_allow_http: bool = False
    """Webhook URLs must be HTTPS unless this is set (a local receiver in development and tests)."""
    webhook_allow_private: bool = False
    """Webhooks go to public internet addresses on the scheme's default port (443, 80) only unless this is
    set (DEEPCREDIT_WEBHOOK_ALLOW_PRIVATE=1: a receiver on this machine, a private network or another port;
    service/outbound.py)."""
    model_check_s: float = 5
    """A running service looks at most this often for a promoted model, or a data copy serve-init wrote again,
    to serve (service/served_model.py)."""
    strict_versions: bool = False
    """Refuse to serve a model written under other library versions than the running ones
    (DEEPCREDIT_STRICT_VERSIONS=1; models/artifacts.check_versions), rather than warn: its scores need not be
    those it was validated with. `serve-init`, a start and a promotion are then refused, naming the versions."""
    retention_years: int = 5
    """Negative records older than this stop counting (`deepcredit retention`); FCRA / PBoC rules: 5 years."""
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, require_keys: bool = True) -> Settings:
        """Settings from DEEPCREDIT_* variables; the pseudonym key is required unless require_keys=False."""
        env = dict(os.environ if env is None else env)
        key = env.get("DEEPCREDIT_PSEUDONYM_KEY", "")
        if require_keys and len(key.encode()) < MIN_KEY_BYTES:
            raise ConfigError(f"DEEPCREDIT_PSEUDONYM_KEY must be set to a secret of at least {MIN_KEY_BYTES} "
                              "bytes (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        s = cls(database_url=env.get("DEEPCREDIT_DATABASE_URL", DEFAULT_DATABASE_URL),
                pseudonym_key=key.encode(), admin_key=env.get("DEEPCREDIT_ADMIN_KEY", ""))
        s.webhook_interval_s = 10
        s.webhook_allow_private = env.get("DEEPCREDIT_WEBHOOK_ALLOW_PRIVATE", "").lower() in {"1", "true", "yes"}
        s.strict_versions = env.get("DEEPCREDIT_STRICT_VERSIONS", "").lower() in {"1", "true", "yes"}
        ints = {"webhook_interval_s": "DEEPCREDIT_WEBHOOK_INTERVAL_SECONDS",
                "dispute_deadline_days": "DEEPCREDIT_DISPUTE_DEADLINE_DAYS",
                "replay_window_hours": "DEEPCREDIT_REPLAY_WINDOW_HOURS",
                "report_window_days": "DEEPCREDIT_REPORT_WINDOW_DAYS",
                "max_body_bytes": "DEEPCREDIT_MAX_BODY_BYTES",
                "threshold_changes_per_day": "DEEPCREDIT_THRESHOLD_CHANGES_PER_DAY",
                "threshold_step": "DEEPCREDIT_THRESHOLD_STEP",
                "probe_thresholds_per_person": "DEEPCREDIT_PROBE_THRESHOLDS_PER_PERSON",
                "recalculation_days": "DEEPCREDIT_RECALCULATION_DAYS",
                "retention_years": "DEEPCREDIT_RETENTION_YEARS",
                "model_check_s": "DEEPCREDIT_MODEL_CHECK_SECONDS"}
        for attr, var in ints.items():
            if var in env:
                try:
                    value = int(env[var])
                except ValueError:
                    raise ConfigError(f"{var} must be a whole number, not {env[var]!r}") from None
                if value < 1:
                    raise ConfigError(f"{var} must be at least 1")
                setattr(s, attr, value)
        if s.admin_key and len(s.admin_key) < 16:
            raise ConfigError("DEEPCREDIT_ADMIN_KEY must be at least 16 characters")
        return s
