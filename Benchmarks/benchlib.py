"""Helpers shared by the benchmark scripts: ports, and a release-build gateway on a temporary
SQLite store with a minted bearer token. Loopback only."""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = ROOT / ".build/release/mcpgateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"nothing listening on {port}")


@dataclass
class RunningGateway:
    process: subprocess.Popen
    port: int
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def gateway(extra_env: dict[str, str] | None = None) -> Iterator[RunningGateway]:
    """The release gateway, serving until the block ends."""
    if not GATEWAY.exists():
        raise SystemExit("build first: swift build -c release --product mcpgateway")
    with tempfile.TemporaryDirectory() as work:
        port = free_port()
        env = {**os.environ, "PORT": str(port), "DATABASE_URL": f"sqlite:///{work}/gw.db",
               "JWT_SECRET_KEY": secrets.token_hex(32), "LOG_LEVEL": "warning",
               # Benchmarks drive loopback upstreams far beyond a client's fair share.
               "SSRF_ALLOW_LOCALHOST": "true", "RATE_LIMIT_ENABLED": "false", **(extra_env or {})}
        token = subprocess.run([str(GATEWAY), "token", "--username", "bench"], env=env, capture_output=True,
                               check=True).stdout.decode().strip()
        process = subprocess.Popen([str(GATEWAY), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr)
        try:
            wait_port(port)
            yield RunningGateway(process=process, port=port, token=token)
        finally:
            process.terminate()
            process.wait(10)
