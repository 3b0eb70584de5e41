"""Threads of a web worker take turns running the application (labelkeep.wsgi.Turns)."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from labelkeep.wsgi import Turns


class Recorder:
    """A WSGI app that records how many calls overlap and what body each one read."""

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.running = 0
        self.most = 0
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        length = environ.get("CONTENT_LENGTH") or ""
        body = environ["wsgi.input"].read(int(length)) if length.isdigit() else b""
        time.sleep(self.hold)
        with self.lock:
            self.running -= 1
            self.bodies.append(body)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class SlowInput(io.RawIOBase):
    """A request body that arrives slowly, as from a client on a poor network."""

    def __init__(self, data: bytes, delay: float) -> None:
        self.data, self.delay = data, delay

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.delay)
        chunk, self.data = self.data[:size] if size >= 0 else self.data, b""
        return chunk


def _environ(body: bytes = b"", **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST" if body else "GET",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": io.BytesIO(body),
        **extra,
    }


def _run_together(app: Any, environs: list[dict[str, Any]]) -> float:
    def call(environ: dict[str, Any]) -> None:
        assert list(app(environ, lambda status, headers: None)) == [b"ok"]

    threads = [threading.Thread(target=call, args=(e,)) for e in environs]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return time.monotonic() - start


def test_requests_of_one_process_run_one_at_a_time() -> None:
    inner = Recorder(hold=0.05)
    elapsed = _run_together(Turns(inner, wait=5, body_limit=1024), [_environ()] * 4)
    assert inner.most == 1
    assert elapsed >= 0.2


def test_a_request_waits_no_longer_than_the_wait_then_runs_anyway() -> None:
    inner = Recorder(hold=0.5)
    elapsed = _run_together(Turns(inner, wait=0.05, body_limit=1024), [_environ()] * 3)
    assert inner.most >= 2
    assert elapsed < 1.2


def test_without_a_wait_there_are_no_turns() -> None:
    inner = Recorder(hold=0.1)
    _run_together(Turns(inner, wait=0, body_limit=1024), [_environ()] * 3)
    assert inner.most == 3


def test_small_bodies_are_read_before_the_turn_and_reach_the_app_whole() -> None:
    inner = Recorder()
    slow = _environ(b"x" * 100)
    slow["wsgi.input"] = SlowInput(b"x" * 100, delay=0.3)
    turns = Turns(inner, wait=5, body_limit=1024)
    # While the slow body arrives, another request is served: the turn is not yet taken.
    reader = threading.Thread(target=lambda: list(turns(slow, lambda s, h: None)))
    reader.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert list(turns(_environ(b"{}"), lambda s, h: None)) == [b"ok"]
    assert time.monotonic() - started < 0.2
    reader.join(5)
    assert sorted(inner.bodies) == [b"x" * 100, b"{}"]


def test_large_and_chunked_bodies_run_without_a_turn() -> None:
    inner = Recorder(hold=0.1)
    big = _environ(b"y" * 2048)
    chunked = _environ(HTTP_TRANSFER_ENCODING="chunked")
    _run_together(Turns(inner, wait=5, body_limit=1024), [big, chunked, _environ()])
    assert inner.most >= 2
    assert b"y" * 2048 in inner.bodies


def test_an_unreadable_length_is_left_to_the_application() -> None:
    inner = Recorder()
    turns = Turns(inner, wait=5, body_limit=1024)
    assert list(turns(_environ(CONTENT_LENGTH="ten"), lambda s, h: None)) == [b"ok"]
    assert inner.bodies == [b""]


def test_the_turn_is_released_when_the_application_raises() -> None:
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("view failed")

    turns = Turns(broken, wait=5, body_limit=1024)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            turns(_environ(), lambda s, h: None)
    assert turns._turn.acquire(timeout=0.01)


def test_a_request_waiting_aside_lets_another_take_the_turn() -> None:
    """While one request waits aside (on the database server), another runs; the first
    takes the turn back when its wait is over, and both finish with the turn free."""
    events: list[str] = []
    turns: Turns
    second_ran = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        name = environ["NAME"]
        events.append(f"{name} runs")
        if name == "first":
            with turns.aside():
                events.append("first waits aside")
                assert second_ran.wait(5), "the second request never got the turn"
            events.append("first is back")
        else:
            second_ran.set()
        start_response("200 OK", [])
        return [b"ok"]

    turns = Turns(app, wait=5.0, body_limit=0)
    first = threading.Thread(target=turns, args=(_environ(NAME="first"), lambda *a: None))
    first.start()
    while "first waits aside" not in events:
        time.sleep(0.001)
    turns(_environ(NAME="second"), lambda *a: None)
    first.join(5)
    assert events == ["first runs", "first waits aside", "second runs", "first is back"]
    assert turns._turn.acquire(blocking=False), "the turn was left taken"


def test_aside_without_the_turn_changes_nothing() -> None:
    turns = Turns(Recorder(), wait=0.05, body_limit=0)
    with turns.aside():  # not in a request: nothing to hand on
        assert turns._turn.acquire(blocking=False)
        turns._turn.release()
