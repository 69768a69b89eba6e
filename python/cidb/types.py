"""Shapes of the dicts cidb returns and accepts, as ``TypedDict`` classes for type checkers.

cidb hands records over as plain ``dict`` objects; these classes only describe them (they
are not separate runtime types). Timestamps come back as timezone-aware UTC ``datetime``
and go in as ``int`` milliseconds since the epoch or ``datetime`` (naive = UTC).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, TypedDict, Union

__all__ = [
    "Timestamp",
    "Role",
    "Customer",
    "Score",
    "Message",
    "CustomerInput",
    "ScoreInput",
    "MessageInput",
    "JsonObject",
    "Seconds",
    "EngineStats",
    "BreakerStats",
    "Setting",
    "ContextEntry",
    "ContextEntryInput",
    "Context",
    "Event",
    "Missed",
    "Delivery",
    "Crossing",
    "TierStats",
    "HourCount",
    "CacheStats",
    "FingerprintStats",
    "SlowQuery",
    "Alert",
    "MonitorStats",
    "ImportReject",
    "ImportReport",
    "ImportProgress",
    "BackupReport",
    "HelpedQuery",
    "Recommendation",
    "UnindexedForeignKey",
    "UnusedIndex",
    "Advice",
    "IndexSampleCheck",
    "Health",
    "FailedRecommendation",
    "OptimizeReport",
    "IndexUsage",
    "Metrics",
]

#: A point in time as cidb accepts it: ``int`` milliseconds since the Unix epoch (UTC) or a
#: ``datetime`` (naive = UTC). Valid range: 1970-01-01 to 9999-12-31.
Timestamp = Union[int, datetime]

#: A message role: one of ``"user"``, ``"assistant"``, ``"system"``, ``"agent"``, ``"tool"``.
Role = str

#: A duration as cidb accepts it (TTLs, timeouts): seconds as ``int`` / ``float``, or a
#: ``timedelta``.
Seconds = Union[int, float, timedelta]

#: A JSON object (``attributes``, ``metadata``): str keys; values are dict, list, str, int,
#: float, bool or None.
JsonObject = Dict[str, Any]


class Customer(TypedDict):
    """A customer as returned by ``Tenant.get_customer``."""

    id: str
    email: str | None
    name: str | None
    department: str
    status: str
    created_at: datetime
    updated_at: datetime
    attributes: JsonObject


class Score(TypedDict):
    """A score as returned by ``Tenant.latest_score`` / ``Tenant.score_history``."""

    customer_id: str
    score_type: str
    score: float
    confidence: float
    created_at: datetime
    model: str | None


class Message(TypedDict):
    """A stored message (with its engine-assigned ``id``)."""

    id: int
    customer_id: str
    conversation_id: str
    role: Role
    timestamp: datetime
    content: str
    metadata: JsonObject


class _CustomerRequired(TypedDict):
    id: str


class CustomerInput(_CustomerRequired, total=False):
    """A customer to upsert: ``id`` is required; timestamps default to now."""

    email: str | None
    name: str | None
    department: str | None
    status: str | None
    created_at: Timestamp | None
    updated_at: Timestamp | None
    attributes: JsonObject | None


class _ScoreRequired(TypedDict):
    customer_id: str
    score_type: str
    score: float
    confidence: float


class ScoreInput(_ScoreRequired, total=False):
    """A score to add: ``created_at`` defaults to now."""

    created_at: Timestamp | None
    model: str | None


class _MessageRequired(TypedDict):
    customer_id: str
    conversation_id: str
    role: Role
    content: str


class MessageInput(_MessageRequired, total=False):
    """A message to append: ``timestamp`` defaults to now, ``metadata`` to ``{}``."""

    timestamp: Timestamp | None
    metadata: JsonObject | None


class BreakerStats(TypedDict):
    """The storage circuit breaker, in ``EngineStats``."""

    state: str  # "closed", "open" or "half_open"
    failures: int
    opened: int
    rejected: int
    last_error: Optional[str]


class EngineStats(TypedDict):
    """Counts returned by ``Engine.stats``. Row counts are None while storage cannot be
    read (the writer counters are still reported)."""

    customers: Optional[int]
    scores: Optional[int]
    latest_scores: Optional[int]
    messages: Optional[int]
    commits: int
    writes: int
    failed_writes: int
    max_commit_group: int
    breaker: BreakerStats


class Setting(TypedDict):
    """One effective configuration value, from ``cidb.config()``."""

    key: str
    value: str
    source: str  # "profile:<name>", "machine", "file:<path>", "env:CIDB_<KEY>", "argument", "default"


class ContextEntry(TypedDict):
    """One entry of a conversation context."""

    role: Role
    content: str
    timestamp: datetime
    metadata: JsonObject


class _ContextEntryRequired(TypedDict):
    role: Role
    content: str


class ContextEntryInput(_ContextEntryRequired, total=False):
    """An entry for ``Tenant.update_context``: ``timestamp`` defaults to now."""

    timestamp: Timestamp | None
    metadata: JsonObject | None


class Context(TypedDict):
    """A conversation context, from ``Tenant.update_context`` / ``get_context``."""

    conversation_id: str
    entries: List[ContextEntry]
    updated_at: datetime
    expires_at: datetime


class Event(TypedDict):
    """One committed change. ``new`` / ``old`` are the record after / before it: a row
    keyed by SQL column name (timestamps as ``datetime``), or a ``Context`` for the
    ``conversation_context`` table."""

    seq: int
    at: datetime
    tenant: str
    table: str
    op: str  # "insert", "update" or "delete"
    key: str
    new: Optional[Dict[str, Any]]
    old: Optional[Dict[str, Any]]


class Missed(TypedDict):
    """Events dropped because the subscriber fell behind; resume with ``events_since``."""

    count: int
    from_seq: int


class Delivery(TypedDict, total=False):
    """What a subscription delivers: exactly one of ``event`` or ``missed``."""

    event: Event
    missed: Missed


class _CrossingRequired(TypedDict):
    score_type: str
    threshold: float


class Crossing(_CrossingRequired, total=False):
    """A ``subscribe(crossing=...)`` filter: latest scores moving above (or, with
    ``above=False``, back to or below) ``threshold``."""

    above: bool


class TierStats(TypedDict):
    """One cache tier's figures."""

    hits: int
    misses: int
    hit_ratio: float
    entries: int
    bytes: int
    promotions: int
    demotions: int
    evictions: int
    expirations: int


class HourCount(TypedDict):
    """Cache accesses in one clock hour."""

    hour_start: datetime
    accesses: int


class CacheStats(TypedDict):
    """Returned by ``Engine.cache_stats``."""

    l1: TierStats
    l2: TierStats
    l3: TierStats
    hourly: List[HourCount]
    result_hits: int
    result_misses: int
    stale_fills_refused: int
    warmed: int


class FingerprintStats(TypedDict):
    """Statistics of one statement shape (``Engine.top``)."""

    id: str
    query: str
    calls: int
    errors: int
    total_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rows_examined: int
    rows_returned: int
    index_scans: int
    table_scans: int
    joins: int
    peak_mem_bytes: int


class SlowQuery(TypedDict):
    """One entry of the slow-query log."""

    at: datetime
    sql: str
    fingerprint: str
    elapsed_ms: float
    plan: Optional[str]


class Alert(TypedDict):
    """One alert, as passed to ``Engine.on_alert`` callbacks."""

    kind: str  # "slow_query", "table_scan_ratio", "query_memory" or "error_rate"
    at: datetime
    value: float
    threshold: float
    fingerprint: Optional[str]
    message: str


class MonitorStats(TypedDict):
    """Returned by ``Engine.monitor_stats``."""

    fingerprints: List[FingerprintStats]
    evicted_fingerprints: int
    slow_queries: List[SlowQuery]
    alerts: List[Alert]


class ImportReject(TypedDict):
    """One rejected row: its line (CSV, JSONL) or 1-based position (records)."""

    line: int
    kind: str  # an error kind, e.g. "invalid_score"
    reason: str


class ImportReport(TypedDict):
    """What an import did."""

    imported: int
    rejected: int
    rejects: List[ImportReject]
    batches: int
    elapsed_ms: float
    notes: List[str]
    stopped_early: bool


class ImportProgress(TypedDict):
    """Passed to an import's ``progress`` callback."""

    rows_read: int
    bytes_read: int
    imported: int
    rejected: int
    total_rows: Optional[int]


class BackupReport(TypedDict):
    """Returned by ``Engine.backup``."""

    tables: int
    entries: int
    bytes: int


class HelpedQuery(TypedDict):
    """A recorded statement a recommendation helps, with its estimated cost per call."""

    fingerprint: str  # the fingerprint id (hex), as FingerprintStats["id"]
    query: str  # the normalised statement
    calls: int
    cost_before: float
    cost_after: float
    plan_before: str
    plan_after: str


class Recommendation(TypedDict):
    """An index the advisor proposes (``Engine.advise``, ``advise_apply``, ``optimize``).
    ``cost_before`` / ``cost_after`` are the estimated cost of the helped queries (per-call
    cost times calls) without and with it; ``gain`` is ``1 - cost_after / cost_before``."""

    name: str
    table: str
    columns: List[str]
    predicate: Optional[str]  # set for a partial index
    create_sql: str  # CREATE INDEX CONCURRENTLY ...
    cost_before: float
    cost_after: float
    gain: float
    queries: List[HelpedQuery]


class UnindexedForeignKey(TypedDict):
    """A ``customer_id`` column no index or primary key can search by."""

    table: str
    column: str
    references: str
    create_sql: str


class UnusedIndex(TypedDict):
    """An index no recorded statement used."""

    name: str
    table: str
    entries: int
    unique: bool
    drop_sql: str


class Advice(TypedDict):
    """Returned by ``Engine.advise``."""

    recommendations: List[Recommendation]
    unindexed_foreign_keys: List[UnindexedForeignKey]
    unused_indexes: List[UnusedIndex]
    queries_considered: int


class IndexSampleCheck(TypedDict):
    """A sampled consistency check of one index, in ``Health``."""

    index: str
    rows_checked: int
    entries_checked: int
    missing: int
    extra: int


class Health(TypedDict):
    """Returned by ``Engine.health``."""

    healthy: bool
    status: str  # "ok", "degraded" or "unhealthy"
    storage_writable: bool
    storage_error: Optional[str]
    breaker: BreakerStats
    cache_open: bool
    indexes: List[IndexSampleCheck]
    active_alerts: List[Alert]
    problems: List[str]


class FailedRecommendation(TypedDict):
    """A recommendation ``Engine.optimize`` could not build, and why."""

    recommendation: Recommendation
    error: str


class OptimizeReport(TypedDict):
    """Returned by ``Engine.optimize``."""

    analyze_ms: float
    applied: List[Recommendation]
    skipped: List[Recommendation]
    failed: List[FailedRecommendation]
    unindexed_foreign_keys: List[UnindexedForeignKey]
    unused_indexes: List[UnusedIndex]
    warmed: int
    elapsed_ms: float


class IndexUsage(TypedDict):
    """How many recorded executions read one index, in ``Metrics``."""

    name: str
    table: str
    uses: int


class Metrics(TypedDict):
    """Returned by ``Engine.metrics``."""

    engine: EngineStats
    cache: CacheStats
    monitor: MonitorStats
    index_usage: List[IndexUsage]
