"""Shapes of the dicts cidb returns and accepts, as ``TypedDict`` classes for type checkers.

cidb hands records over as plain ``dict`` objects; these classes only describe them (they
are not separate runtime types). Timestamps come back as timezone-aware UTC ``datetime``
and go in as ``int`` milliseconds since the epoch or ``datetime`` (naive = UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, TypedDict, Union

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
    "EngineStats",
]

#: A point in time as cidb accepts it: ``int`` milliseconds since the Unix epoch (UTC) or a
#: ``datetime`` (naive = UTC). Valid range: 1970-01-01 to 9999-12-31.
Timestamp = Union[int, datetime]

#: A message role: one of ``"user"``, ``"assistant"``, ``"system"``, ``"agent"``, ``"tool"``.
Role = str

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


class EngineStats(TypedDict):
    """Counts returned by ``Engine.stats``."""

    customers: int
    scores: int
    latest_scores: int
    messages: int
    commits: int
    writes: int
    failed_writes: int
    max_commit_group: int
