"""`wildloop serve` as a real process: binds 127.0.0.1 by default, serves pages and the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import wildloop
from wildloop.project import Project

SRC = Path(wildloop.__file__).parents[1]


@pytest.mark.slow
def test_serve_runs_the_app_on_localhost(project: Project) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen(
        [sys.executable, "-m", "wildloop", "serve", "-p", str(project.root), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "wildloop serve did not start"
                time.sleep(0.2)
        assert login.status_code == 200 and "Log in" in login.text
        api = httpx.get(f"http://127.0.0.1:{port}/api/v1/media")
        assert api.status_code == 401 and api.json()["error"]["type"] == "Unauthenticated"
        assert (project.root / "secret.key").stat().st_mode & 0o077 == 0  # owner-only key
    finally:
        server.terminate()
        server.wait(10)
