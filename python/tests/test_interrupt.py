"""Long waits and imports stay interruptible: a signal handler's exception (what Ctrl-C's
KeyboardInterrupt is) is raised while a subscription waits or an import runs with the
GIL released, and stops them."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

import cidb


class Interrupted(Exception):
    pass


@pytest.fixture
def alarm() -> Iterator[None]:
    if sys.platform == "win32":
        pytest.skip("no SIGALRM")

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def test_recv_without_timeout_is_interruptible(acme: cidb.Tenant, alarm: None) -> None:
    sub = acme.subscribe()
    t0 = time.monotonic()
    with pytest.raises(Interrupted):
        sub.recv()
    assert time.monotonic() - t0 < 5
    with pytest.raises(Interrupted):
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        for _ in sub:
            pass
    sub.close()


def test_import_is_interruptible(acme: cidb.Tenant, alarm: None) -> None:
    rows = ({"id": f"c{i}"} for i in range(2_000_000))  # far more than 0.3 s of work
    with pytest.raises(Interrupted):
        acme.import_records("customers", rows, batch_size=1000)
    n = acme.count_customers()
    assert n < 2_000_000  # stopped early (batches committed before the signal stay)
