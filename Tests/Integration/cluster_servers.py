"""Redis and nginx for the cluster tests: throwaway servers on loopback, on their own ports and
directories, stopped by the PID they wrote (never by name)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mcp_helpers import LOOPBACK, free_port


def _wait_listening(port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not listen on {LOOPBACK}:{port} within {timeout}s\n{detail}")


def _stop_pid_file(pid_file: Path, timeout: float = 10.0, sig: int = signal.SIGTERM) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


@dataclass
class RedisTLSFiles:
    """PEM files for redis-server's TLS port: its certificate and key, and the CA that signed it."""

    certificate: Path
    key: Path
    ca: Path


@dataclass
class RedisServer:
    """redis-server on 127.0.0.1:`port`, no persistence; `stop()` and `start()` keep the port.
    With `tls`, `port` is a TLS port and plain TCP is off (`--port 0`)."""

    directory: Path
    port: int
    tls: RedisTLSFiles | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{LOOPBACK}:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.directory / "redis.pid"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (the Makefile installs it: make deps)")
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        listen = ["--port", str(self.port)]
        if self.tls:
            listen = [
                "--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.certificate),
                "--tls-key-file", str(self.tls.key), "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]
        subprocess.run(
            [
                binary, *listen, "--bind", LOOPBACK, "--daemonize", "yes",
                "--pidfile", str(self.pid_file), "--logfile", str(log), "--dir", str(self.directory),
                "--save", "", "--appendonly", "no",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
        )
        _wait_listening(self.port, 10, "redis-server", log)

    def stop(self) -> None:
        _stop_pid_file(self.pid_file)

    def command(self, *args: str) -> str:
        """Runs one command with redis-cli and returns its raw output."""
        tls = ["--tls", "--cacert", str(self.tls.ca)] if self.tls else []
        done = subprocess.run(
            ["redis-cli", "-h", LOOPBACK, "-p", str(self.port), *tls, "--raw", *args],
            capture_output=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
        return done.stdout.decode(errors="replace").strip()


def start_redis(directory: Path, tls: RedisTLSFiles | None = None) -> RedisServer:
    """redis-server on a free loopback port; with `tls`, TLS only (clients need no certificate)."""
    server = RedisServer(directory=directory, port=free_port(), tls=tls)
    server.start()
    return server


@dataclass
class Nginx:
    """nginx round-robin (no affinity) in front of `backends`, SSE-safe (no buffering, long reads)."""

    directory: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        _stop_pid_file(self.directory / "nginx.pid")


def start_nginx(directory: Path, backends: list[int]) -> Nginx:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed (the Makefile installs it: make deps)")
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / sub).mkdir(exist_ok=True)
    port = free_port()
    servers = "\n".join(f"        server {LOOPBACK}:{p} max_fails=0;" for p in backends)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
daemon on;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream gateways {{
{servers}
        keepalive 64;
    }}
    server {{
        listen {LOOPBACK}:{port};
        location / {{
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"""
    )
    subprocess.run(
        [binary, "-c", str(conf), "-p", str(directory)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
    )
    _wait_listening(port, 10, "nginx", directory / "error.log")
    return Nginx(directory=directory, port=port)
