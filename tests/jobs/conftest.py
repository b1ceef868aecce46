"""Fixtures for job tests that start worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DEER_CLASSES
from tests.support.private_services import PrivatePostgres
from wildloop.project import Project


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test started; each is killed (its whole group) when the test ends."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    server = PrivatePostgres()
    yield server
    server.close()


@pytest.fixture
def pg_project(private_pg: PrivatePostgres, tmp_path: Path) -> Iterator[Project]:
    """A project on the test's own PostgreSQL."""
    project = Project.init(tmp_path / "project", "test", DEER_CLASSES, database_url=private_pg.url)
    yield project
    project.close()
