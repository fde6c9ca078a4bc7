"""The embedder's batches run on daemon threads, in parallel, results in order."""

from __future__ import annotations

import threading
import time

import pytest

from qa.embed import DaemonPool


def test_results_come_in_input_order_from_daemon_threads() -> None:
    pool = DaemonPool(2)
    names: set[str] = set()

    def slow_square(x: int) -> int:
        names.add(threading.current_thread().name)
        assert threading.current_thread().daemon  # a quitting app does not wait for them
        time.sleep(0.001 * (x % 3))
        return x * x

    assert list(pool.map(slow_square, range(20))) == [x * x for x in range(20)]
    assert names == {"qa-embed"} and pool.started == 2
    assert list(pool.map(slow_square, [])) == []


def test_an_error_reaches_the_caller_and_the_rest_is_dropped() -> None:
    pool = DaemonPool(1)
    ran: list[int] = []
    gate = threading.Event()

    def work(x: int) -> int:
        gate.wait(5)
        ran.append(x)
        if x == 0:
            raise ValueError("bad batch")
        time.sleep(0.01)
        return x

    results = pool.map(work, range(50))
    gate.set()
    with pytest.raises(ValueError, match="bad batch"):
        next(results)
    results.close()  # what encode's `closing` does: batches not started are cancelled
    assert list(pool.map(lambda x: x, [7])) == [7]  # the thread is still there for the next call
    assert len(ran) < 10  # 50 were queued
