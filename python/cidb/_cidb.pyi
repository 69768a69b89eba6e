"""Type stubs for ``cidb._cidb``, the native half of ``cidb`` (checked against the built
module by mypy's stubtest in ``python/run-tests.sh``)."""

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from datetime import datetime
from types import TracebackType
from typing import Any, Final, final

from cidb.types import (
    Advice,
    Alert,
    BackupReport,
    CacheStats,
    Context,
    ContextEntryInput,
    Crossing,
    Customer,
    CustomerInput,
    Delivery,
    EngineStats,
    Event,
    FingerprintStats,
    Health,
    ImportProgress,
    ImportReport,
    Message,
    MessageInput,
    Metrics,
    MonitorStats,
    OptimizeReport,
    Recommendation,
    Role,
    Score,
    ScoreInput,
    Seconds,
    Setting,
    Timestamp,
)

_Path = str | os.PathLike[str]
#: What ``import_records`` accepts: an iterable of dicts, a ``pandas.DataFrame`` or a
#: ``pyarrow.Table`` / ``RecordBatch`` (typed loosely so neither library is needed).
_Records = Iterable[Mapping[str, Any]] | Any
_Progress = Callable[[ImportProgress], object]
#: One SQL parameter: bool is stored as 0/1, datetime as int ms, dict / list as JSON.
_Param = None | bool | int | float | str | datetime | dict[str, Any] | list[Any]
_Params = list[Any] | tuple[Any, ...] | None  # of _Param

__version__: Final[str]
__all__ = [
    "open",
    "config",
    "Engine",
    "Tenant",
    "Cache",
    "Subscription",
    "Result",
    "Statement",
    "Error",
    "InvalidIdError",
    "InvalidScoreError",
    "InvalidRoleError",
    "InvalidAttributesError",
    "ContentTooLargeError",
    "InvalidTimestampError",
    "InvalidInputError",
    "InvalidCacheKeyError",
    "ValueTooLargeError",
    "InvalidTtlError",
    "NotFoundError",
    "AlreadyExistsError",
    "AlreadyOpenError",
    "ClosedError",
    "ConstraintViolationError",
    "SqlSyntaxError",
    "UnknownTableError",
    "UnknownColumnError",
    "TypeMismatchError",
    "UnsupportedError",
    "InvalidParameterError",
    "UnavailableError",
    "StorageError",
    "CorruptedError",
    "ConfigError",
    "InternalError",
]

def _error_table() -> list[dict[str, Any]]:
    """The engine's error table (one dict per kind: kind, c_status, c_name, python_class,
    python_base, node_code). Private; for tests of the mapping."""

def _raise_error(kind: str, message: str) -> None:
    """Raise the exception a core error of ``kind`` with ``message`` becomes. Private; for
    tests of the mapping."""

def _datetime_path() -> str:
    """Which datetime constructor this process uses: ``"capi"`` (the ``datetime`` C API
    capsule) or ``"portable"`` (``fromisoformat``; forced by ``CIDB_PORTABLE_DATETIME=1``
    before the first timestamp is built). Private; for tests."""

def _chunked_result(columns: list[str], chunks: list[list[tuple[Any, ...]]]) -> Result:
    """A ``Result`` made of the given chunks of rows, as a parallel scan returns them (one
    chunk per thread); values as query parameters take them. Private; for tests of
    chunked results."""

def _shutdown() -> None:
    """Stop engine threads from calling into Python and wait for callbacks in progress.
    Registered with ``atexit`` by the package; private."""

def _record_statement(
    engine: Engine,
    sql: str,
    elapsed_ms: float,
    *,
    ok: bool = True,
    rows_examined: int = 0,
    rows_returned: int = 0,
    index_scans: int = 0,
    table_scans: int = 0,
    joins: int = 0,
    peak_mem_bytes: int = 0,
) -> None:
    """Record one execution of ``sql`` in the engine's statement monitor, as the SQL layer
    does (alerts fire as they would). Private; for tests until the SQL layer lands."""

def open(path: _Path, profile: str | None = None, config: _Path | None = None) -> Engine:
    """Open (creating if missing) the database directory ``path``.

    The configuration comes from ``profile`` (``"development"``, the default, or
    ``"production"``), then the TOML file ``config`` if given, then ``CIDB_*`` environment
    variables (``CIDB_PROFILE`` wins over ``profile``); ``cidb.config()`` shows the result.
    Raises ``AlreadyOpenError`` when another engine, in this or another process, has the
    directory open, and ``ConfigError`` for an unknown profile, an unreadable or invalid
    file, an unknown key or a malformed value. Use the engine as a context manager.
    """

def config(profile: str | None = None, config: _Path | None = None) -> list[Setting]:
    """The configuration ``open(path, profile, config)`` would use: one dict per setting
    with ``key``, ``value`` (text) and ``source`` (``profile:<name>``, ``machine``,
    ``file:<path>``, ``env:CIDB_<KEY>``, ``argument`` or ``default``). Raises
    ``ConfigError`` as ``open`` would."""

@final
class Engine:
    """An open cidb database (from ``cidb.open``); a context manager that closes on exit."""

    def tenant(self, name: str) -> Tenant:
        """A handle on the tenant ``name`` (1 to 256 bytes)."""
    def stats(self) -> EngineStats:
        """Row counts of every store (all tenants) and writer counters."""
    def cache_stats(self) -> CacheStats:
        """Per-tier cache figures (hits, misses, ratios, sizes, promotions, demotions,
        evictions, expirations) and accesses per hour for the last 24 hours."""
    def sweep_expired(self) -> int:
        """Delete expired conversation contexts (and feed events past retention) now;
        returns how many contexts went."""
    def subscribe(
        self,
        callback: Callable[[Delivery], object] | None = None,
        *,
        tables: str | Iterable[str] | None = None,
        ops: str | Iterable[str] | None = None,
        score_type: str | None = None,
        crossing: Crossing | Mapping[str, Any] | None = None,
    ) -> Subscription:
        """Subscribe to committed changes of every tenant; see ``Tenant.subscribe``."""
    def events_since(self, seq: int = 0, limit: int = 1000) -> list[Event]:
        """Logged events of every tenant with ``seq`` or later, oldest first, at most
        ``limit`` (kept for the retention window, 1 hour by default)."""
    def monitor_stats(self) -> MonitorStats:
        """Statement statistics per fingerprint, the slow-query log and the alert log."""
    def prometheus(self) -> str:
        """The statement statistics in the Prometheus text format (0.0.4)."""
    def top(self, n: int = 10) -> list[FingerprintStats]:
        """The ``n`` statement fingerprints with the most total time."""
    def on_alert(self, callback: Callable[[Alert], object]) -> int:
        """Call ``callback(alert)`` for every alert from now on, on an engine thread
        (exceptions go to ``sys.unraisablehook``); returns an id for
        ``remove_alert_callback``."""
    def remove_alert_callback(self, id: int) -> bool:
        """Stop calling the alert callback ``id``; True when it was registered."""
    def advise(self, *, min_gain: float = 0.5, min_calls: int = 1, max_recommendations: int = 10) -> Advice:
        """The index advisor's report from the recorded statements: ``recommendations``
        (best first, each with name, table, columns, predicate, create_sql, cost_before,
        cost_after, gain and the queries it helps), ``unindexed_foreign_keys``,
        ``unused_indexes``, ``queries_considered``. A recommendation must cut the estimated
        cost of the queries it helps by at least ``min_gain`` (0 to 1); statements with
        fewer than ``min_calls`` calls are ignored. Builds nothing. ``InvalidInputError``
        for a bad argument."""
    def advise_apply(self, min_gain: float = 0.5) -> list[Recommendation]:
        """Advise, then build online every recommendation with a gain of at least
        ``min_gain`` (0 to 1); returns those built."""
    def health(self) -> Health:
        """Whether the engine can do its job: a probe write, the breaker, the cache tiers, a
        sampled check of every ready index, active alerts; ``status`` is ``"ok"``,
        ``"degraded"`` (alerts) or ``"unhealthy"``, ``problems`` says why."""
    def optimize(self, min_gain: float = 0.5) -> OptimizeReport:
        """Run ANALYZE, build every recommendation with a gain of at least ``min_gain`` (0
        to 1) online, warm the cache; returns what was applied, skipped and failed."""
    def metrics(self) -> Metrics:
        """Engine counters (as ``stats``), cache figures (as ``cache_stats``), statement
        statistics (as ``monitor_stats``) and per-index usage, in one dict."""
    def metrics_prometheus(self) -> str:
        """``metrics()`` in the Prometheus text format (0.0.4)."""
    def backup(self, dest: _Path) -> BackupReport:
        """Write a consistent copy of the database into the new directory ``dest`` while
        reads and writes go on. ``AlreadyExistsError`` if ``dest`` holds a database."""
    def execute(self, sql: str) -> Result:
        """Run one DDL statement (``CREATE INDEX [CONCURRENTLY]``, ``DROP INDEX``,
        ``ANALYZE``)."""
    def indexes(self) -> list[dict[str, Any]]:
        """Every index as a dict (name, table, columns, unique, predicate, ready, entries,
        ...)."""
    def check_index(self, name: str) -> dict[str, int]:
        """Check index ``name`` against its table: entries, expected, missing, extra,
        stale."""
    def close(self) -> None:
        """Commit queued writes and close; every handle then raises ``ClosedError``.
        Closing twice does nothing."""
    @property
    def closed(self) -> bool:
        """True once the engine is closed."""
    @property
    def path(self) -> Path:
        """The database directory."""
    @property
    def profile(self) -> str:
        """The configuration profile the engine was opened with."""
    def __enter__(self) -> Engine:
        """Return the engine; raises ``ClosedError`` if it is closed."""
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool:
        """Close the engine; exceptions from the block propagate."""

@final
class Tenant:
    """One tenant's customers, scores and messages (from ``Engine.tenant``).

    Records are dicts keyed by field name. Timestamps go in as ``int`` milliseconds since
    the epoch or ``datetime`` (naive = UTC) and come back as timezone-aware UTC
    ``datetime``. Safe to share between threads; the GIL is released during engine work.
    """

    def query(self, sql: str, params: _Params = None) -> Result:
        """Run one SQL query with ``params`` (one value per ``?``); GIL released."""
    def prepare(self, sql: str) -> Statement:
        """Parse, bind and check ``sql`` once; run it with ``Statement.query``."""
    def explain(
        self,
        sql: str,
        params: _Params = None,
        analyze: bool = False,
        format: str = "text",
    ) -> Any:
        """The plan of ``sql``: ``str`` for ``format="text"``, a dict for ``"json"``;
        ``analyze=True`` runs the query and adds actual figures."""
    @property
    def name(self) -> str:
        """The tenant's name."""
    def upsert_customer(self, customer: CustomerInput | Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Insert or replace the customer with this ``id`` (the whole record).

        Pass a dict, keyword arguments, or both (keywords win). ``id`` is required;
        ``created_at`` / ``updated_at`` default to now, labels to ``""``, ``attributes``
        (a dict) to ``{}``.
        """
    def upsert_customers(self, customers: Iterable[CustomerInput | Mapping[str, Any]]) -> None:
        """Insert or replace many customers in one transaction: all land or none do."""
    def get_customer(self, id: str) -> Customer | None:
        """The customer with this id, or None."""
    def delete_customer(self, id: str) -> bool:
        """Delete the customer; True when it existed. Its scores and messages stay."""
    def count_customers(self) -> int:
        """The number of customers of this tenant."""
    def add_score(self, score: ScoreInput | Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Append a score and update the latest score.

        ``customer_id``, ``score_type``, ``score`` and ``confidence`` (floats in [0, 1]) are
        required; ``created_at`` defaults to now; ``model`` is optional.
        """
    def add_scores(self, scores: Iterable[ScoreInput | Mapping[str, Any]]) -> None:
        """Append many scores in one transaction: all land or none do."""
    def latest_score(self, customer_id: str, score_type: str) -> Score | None:
        """The latest score of ``score_type`` for the customer, or None."""
    def score_history(
        self,
        customer_id: str,
        score_type: str,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
    ) -> list[Score]:
        """Scores with ``start <= created_at < end``, oldest first (None = open side)."""
    def append_message(self, message: MessageInput | Mapping[str, Any] | None = None, /, **fields: Any) -> Message:
        """Append a message; returns it with its assigned ``id``.

        ``customer_id``, ``conversation_id``, ``role`` and ``content`` are required;
        ``timestamp`` defaults to now, ``metadata`` (a dict) to ``{}``.
        """
    def append_messages(self, messages: Iterable[MessageInput | Mapping[str, Any]]) -> list[Message]:
        """Append many messages in one transaction (ids in order); returns them."""
    def messages_for_customer(
        self,
        customer_id: str,
        start: Timestamp | None = None,
        end: Timestamp | None = None,
        role: Role | None = None,
        limit: int = 0,
    ) -> list[Message]:
        """The customer's messages with ``start <= timestamp < end``, optionally of one
        role, oldest first; at most ``limit`` (0 = all)."""
    def messages_for_conversation(self, conversation_id: str) -> list[Message]:
        """The conversation's messages in append order."""
    @property
    def cache(self) -> Cache:
        """This tenant's application key-value cache (keys are private to the tenant)."""
    def update_context(
        self,
        conversation_id: str,
        entries: Iterable[ContextEntryInput | Mapping[str, Any]],
        ttl: Seconds,
        max_history: int = 50,
    ) -> Context:
        """Merge ``entries`` into the conversation's context, keep the newest
        ``max_history`` by timestamp, expire it ``ttl`` from now; returns the new context.
        Atomic under concurrent callers; an expired context counts as empty."""
    def get_context(self, conversation_id: str) -> Context | None:
        """The conversation's context, or None when absent or expired."""
    def delete_context(self, conversation_id: str) -> bool:
        """Delete the conversation's context; True when a live one existed."""
    def subscribe(
        self,
        callback: Callable[[Delivery], object] | None = None,
        *,
        tables: str | Iterable[str] | None = None,
        ops: str | Iterable[str] | None = None,
        score_type: str | None = None,
        crossing: Crossing | Mapping[str, Any] | None = None,
    ) -> Subscription:
        """Subscribe to this tenant's committed changes.

        With ``callback``, it receives each delivery on a delivery thread (exceptions go to
        ``sys.unraisablehook``); without, iterate over the ``Subscription`` or call
        ``recv()``. Filters (None = all): ``tables``, ``ops`` (insert, update, delete),
        ``score_type``, ``crossing`` (latest scores crossing a threshold).
        """
    def events_since(self, seq: int = 0, limit: int = 1000) -> list[Event]:
        """This tenant's logged events with ``seq`` or later, oldest first, at most
        ``limit``."""
    def import_csv(
        self,
        table: str,
        path: _Path,
        *,
        delimiter: str | None = None,
        batch_size: int = 10_000,
        ignore_unknown_columns: bool = False,
        max_rejects: int = 1000,
        progress: _Progress | None = None,
    ) -> ImportReport:
        """Import a CSV file (header row required) into ``table`` (customers,
        customer_scores or conversation_messages); returns the report with rejected
        lines. ``progress(dict)`` is called every 1,000 rows; returning False stops."""
    def import_jsonl(
        self,
        table: str,
        path: _Path,
        *,
        batch_size: int = 10_000,
        ignore_unknown_columns: bool = False,
        max_rejects: int = 1000,
        progress: _Progress | None = None,
    ) -> ImportReport:
        """Import a JSON Lines file into ``table``; see ``import_csv``."""
    def import_records(
        self,
        table: str,
        rows: _Records,
        *,
        batch_size: int = 10_000,
        ignore_unknown_columns: bool = False,
        max_rejects: int = 1000,
        progress: _Progress | None = None,
    ) -> ImportReport:
        """Import dicts, a pandas DataFrame or a pyarrow Table into ``table``; None, NaN,
        ``pandas.NA`` and ``NaT`` are missing values. Rejects carry 1-based positions."""

@final
class Result:
    """The rows of one SQL statement. Iterating and ``fetch*`` share one cursor; the
    ``to_*`` exports always cover every row. Values: NULL -> None, INTEGER -> int, REAL
    -> float, TEXT -> str, JSON -> parsed dict / list."""

    @property
    def columns(self) -> list[str]:
        """Output column names."""
    @property
    def rowcount(self) -> int:
        """Number of rows returned."""
    @property
    def stats(self) -> dict[str, Any]:
        """Execution statistics (rows_examined, index_scans, elapsed_ns, plan, ...)."""
    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None."""
    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """Up to ``size`` next rows."""
    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
    def __iter__(self) -> Iterator[tuple[Any, ...]]: ...
    def __next__(self) -> tuple[Any, ...]: ...
    def __len__(self) -> int: ...
    def to_arrow(self) -> Any:
        """A ``pyarrow.Table`` (pyarrow >= 14) sharing the result's column buffers (no
        copy, through the Arrow C Data Interface): int64, float64, string (JSON as text),
        null; NULLs preserved. A large full scan that ran on several threads gives
        chunked columns, one chunk per thread, in row order."""
    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` (through ``to_arrow``)."""
    def to_polars(self) -> Any:
        """A ``polars.DataFrame`` (through ``to_arrow``)."""

@final
class Statement:
    """A prepared statement (from ``Tenant.prepare``). Safe to share between threads."""

    def query(self, params: _Params = None) -> Result:
        """Run with ``params`` (one value per ``?``)."""
    @property
    def param_count(self) -> int:
        """Number of ``?`` parameters."""
    @property
    def columns(self) -> list[str]:
        """Output column names."""
    @property
    def sql(self) -> str:
        """The SQL text."""

@final
class Cache:
    """One tenant's application key-value cache (``Tenant.cache``): str keys, bytes values."""

    def get(self, key: str) -> bytes | None:
        """The value of ``key``, or None when absent or expired."""
    def set(self, key: str, value: bytes | bytearray | memoryview, ttl: Seconds | None = None) -> None:
        """Set ``key`` to ``value``; ``ttl`` (seconds or timedelta) overrides the tier's
        default. Raises ``InvalidCacheKeyError``, ``ValueTooLargeError``, ``InvalidTtlError``."""
    def delete(self, key: str) -> bool:
        """Remove ``key``; True when a live entry existed."""
    def get_or_set(self, key: str, fn: Callable[[], bytes | bytearray | memoryview], ttl: Seconds | None = None) -> bytes:
        """The value of ``key``; when absent, store and return ``fn()``. Concurrent callers
        for the same key wait for the first, so ``fn`` runs once."""
    def tier_of(self, key: str) -> int:
        """Which tier holds ``key``: 1, 2 or 3, or 0 when absent (does not count as access)."""

@final
class Subscription:
    """A change-feed subscription (``Tenant.subscribe`` / ``Engine.subscribe``): an
    iterator of deliveries, or a callback's handle. A context manager that closes on exit."""

    @property
    def id(self) -> int:
        """The subscription's id."""
    @property
    def closed(self) -> bool:
        """True after ``close()``."""
    def recv(self, timeout: Seconds | None = None) -> Delivery | None:
        """The next delivery, waiting at most ``timeout`` (None: as long as it takes);
        None on timeout, after ``close()`` or once the engine closed and nothing is left."""
    def __iter__(self) -> Iterator[Delivery]:
        """Iterate over deliveries (``TypeError`` for a callback subscription)."""
    def __next__(self) -> Delivery:
        """Block (GIL released) until the next delivery."""
    def close(self) -> None:
        """Stop delivery; a callback in progress finishes first. Idempotent."""
    def __enter__(self) -> Subscription:
        """Return the subscription."""
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool:
        """Close the subscription; exceptions from the block propagate."""

class Error(Exception):
    """Base class of every cidb error. ``kind`` names the failure, ``c_status`` is the
    number the C API uses for it (both None on this base class)."""

    kind: str | None
    c_status: int | None

class InvalidIdError(Error, ValueError):
    """An id (customer, conversation, score type, tenant) is empty, over 256 bytes or has NUL."""

class InvalidScoreError(Error, ValueError):
    """A score or confidence is NaN, infinite or outside [0, 1]."""

class InvalidRoleError(Error, ValueError):
    """A message role is not user, assistant, system, agent or tool."""

class InvalidAttributesError(Error, ValueError):
    """``attributes`` / ``metadata`` is not a dict, or holds a value JSON cannot."""

class ContentTooLargeError(Error, ValueError):
    """Message content is larger than the limit (1 MiB by default)."""

class InvalidTimestampError(Error, ValueError):
    """A timestamp is outside 1970-01-01 .. 9999-12-31 (or beyond 64 bits)."""

class InvalidInputError(Error, ValueError):
    """Any other invalid argument: unknown or missing field, bad label, bad limit."""

class InvalidCacheKeyError(Error, ValueError):
    """A cache key is empty or longer than 1 KiB."""

class ValueTooLargeError(Error, ValueError):
    """A cache value is larger than the configured maximum."""

class InvalidTtlError(Error, ValueError):
    """A TTL of zero or less."""

class NotFoundError(Error, KeyError):
    """The requested record or object does not exist."""

class AlreadyExistsError(Error):
    """The object to create already exists."""

class AlreadyOpenError(Error, OSError):
    """The database directory is already open, in this or another process."""

class ClosedError(Error):
    """The engine was closed."""

class ConstraintViolationError(Error):
    """A unique index would hold the same key twice."""

class SqlSyntaxError(Error, ValueError):
    """SQL text that does not parse."""

class UnknownTableError(Error, ValueError):
    """A table that does not exist."""

class UnknownColumnError(Error, ValueError):
    """A column that does not exist."""

class TypeMismatchError(Error, TypeError):
    """A value of the wrong type for its place (column, parameter, operator)."""

class UnsupportedError(Error, NotImplementedError):
    """Valid SQL that cidb does not support."""

class InvalidParameterError(Error, ValueError):
    """A wrong number of parameters, or one that cannot be bound."""

class UnavailableError(Error, OSError):
    """Storage refused work: the circuit breaker is open."""

class StorageError(Error, OSError):
    """The storage layer failed (I/O, commit)."""

class CorruptedError(Error):
    """Stored data failed a consistency check."""

class ConfigError(Error, ValueError):
    """Configuration that cannot be used (for example an unknown profile)."""

class InternalError(Error):
    """A bug in cidb, or a panic caught at the boundary."""
