"""Type stubs for ``cidb._cidb``, the native half of ``cidb`` (checked against the built
module by mypy's stubtest in ``python/run-tests.sh``)."""

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, final

from cidb.types import (
    Customer,
    CustomerInput,
    EngineStats,
    Message,
    MessageInput,
    Role,
    Score,
    ScoreInput,
    Timestamp,
)

__version__: Final[str]
__all__ = [
    "open",
    "Engine",
    "Tenant",
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

def open(path: str | os.PathLike[str], profile: str = "development") -> Engine:
    """Open (creating if missing) the database directory ``path``.

    ``profile`` is ``"development"`` or ``"production"``. Raises ``AlreadyOpenError`` when
    another engine, in this or another process, has the directory open, and ``ConfigError``
    for an unknown profile. Use the engine as a context manager so it closes.
    """

@final
class Engine:
    """An open cidb database (from ``cidb.open``); a context manager that closes on exit."""

    def tenant(self, name: str) -> Tenant:
        """A handle on the tenant ``name`` (1 to 256 bytes)."""
    def stats(self) -> EngineStats:
        """Row counts of every store (all tenants) and writer counters."""
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
