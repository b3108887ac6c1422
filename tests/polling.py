"""Waiting, in tests, for something another process does."""

import time


def wait_for(condition, what, *, timeout=60, poll=0.005):
    """The first true value of `condition()`, polled until `timeout` seconds pass; then fail
    naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
