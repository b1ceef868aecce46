"""The states a job and a chunk can be in, named once for the job mechanism, the database's
CHECK constraints and every view that filters on them."""

from __future__ import annotations

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE = JOB_STATES[:2]  # a job that may still run: queued or running
TERMINAL = JOB_STATES[2:]  # a job that is over, one way or another
CHUNK_STATES = ("queued", "running", "done", "failed")
OPEN_CHUNK = CHUNK_STATES[:2]  # a chunk that has not finished


def sql_in(column: str, states: tuple[str, ...]) -> str:
    """``column IN ('a', 'b')`` for CHECK constraints and partial indexes."""
    return f"{column} IN ({', '.join(repr(s) for s in states)})"
