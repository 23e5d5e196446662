"""Waiting in tests for state that other threads or processes write."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], *, timeout_s: float = 20.0, interval_s: float = 0.25,
               message: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (for state that other threads write)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval_s)
