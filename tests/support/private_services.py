"""Private PostgreSQL and RabbitMQ instances a test may stop and start at will.

The shared services (PostgreSQL :5432, RabbitMQ :5672) serve other tests running at the
same time, so a fault test never restarts them: it starts its own on a free port with its
data in a temporary folder, and removes it afterwards. When the binaries are missing the
test skips with the reason. As root, each server runs as its own system user (PostgreSQL
refuses root; rabbitmq-server switches to ``rabbitmq``), so its folder is theirs.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.celery import is_up, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _own_folder(user: str) -> Path:
    """A fresh folder ``user`` owns (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=f"wl-{user}-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` on a free port; ``restart()`` is a fast shutdown and start."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
        self.bin = found[-1].parent
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no postgres user to run initdb as")
        self.folder = _own_folder("postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self._as_owner("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_owner(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: open sessions are terminated, as in a server restart."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free port without persistence, as the docs recommend."""

    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server not installed: cannot run a private broker")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: is_up("127.0.0.1", self.port), 30, "private redis")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def close(self) -> None:
        self.stop()


class PrivateRabbit:
    """A RabbitMQ node of its own (name, ports, config, data and logs in a temp folder)."""

    def __init__(self) -> None:
        if not shutil.which("rabbitmq-server") or not shutil.which("rabbitmqctl"):
            pytest.skip("rabbitmq-server/rabbitmqctl not installed: cannot run a private node")
        self.folder = _own_folder("rabbitmq")
        self.port, dist = free_port(), free_port()
        self.node = f"wltest{self.port}@localhost"
        config = self.folder / "rabbit.conf"
        # The machine's rabbitmq.conf names the shared listener (:5672): replace it.
        config.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        plugins = self.folder / "plugins"
        plugins.write_text("[].\n")
        if os.geteuid() == 0:
            for path in (config, plugins):
                shutil.chown(path, "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist),
            "RABBITMQ_CONFIG_FILE": str(config),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_PID_FILE": str(self.folder / "pid"),
        }
        self.start()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True)
        wait_until(lambda: is_up("127.0.0.1", self.port), 60, f"RabbitMQ node {self.node}")

    def stop(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, "stop"],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )
        wait_until(lambda: not is_up("127.0.0.1", self.port), 30, "RabbitMQ node stopped")

    def close(self) -> None:
        if is_up("127.0.0.1", self.port):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
