"""cidb: an embedded customer-intelligence data engine.

Customers, score history and conversation messages for many tenants, kept in one local
directory and read and written in-process (no server). Open a database with
:func:`cidb.open`, take a :class:`cidb.Tenant` handle with :meth:`Engine.tenant`, and read
and write records as plain dicts::

    import cidb

    with cidb.open("./data") as db:
        acme = db.tenant("acme")
        acme.upsert_customer(id="c1", email="ada@example.com", department="sales")
        acme.add_score(customer_id="c1", score_type="churn_risk", score=0.8, confidence=0.9)
        print(acme.latest_score("c1", "churn_risk"))

Timestamps are accepted as ``int`` milliseconds since the Unix epoch or as ``datetime``
(naive ones are read as UTC) and are returned as timezone-aware UTC ``datetime`` objects.
Every error is a :class:`cidb.Error`; each failure kind has its own subclass (for example
:class:`cidb.InvalidScoreError`, also a ``ValueError``).

The engine works with the GIL released, so threads sharing one engine run in parallel.
"""

import atexit

from . import _cidb
from ._cidb import *  # noqa: F403  (the public names are listed in _cidb.__all__)

__version__: str = _cidb.__version__

# Before the interpreter finalizes, stop engine threads (feed deliveries, alerts) from
# calling into Python and let callbacks in progress finish; see python/src/callback.rs.
atexit.register(_cidb._shutdown)
