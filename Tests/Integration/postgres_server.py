"""A throwaway PostgreSQL for the store tests: its own data directory under a temp dir, on a free
port of 127.0.0.1, trust authentication for the `postgres` user, fsync off. Stopped with
`pg_ctl -m fast stop` on that data directory (never by name).

initdb refuses to run as root, so as root the server runs as the `postgres` system user (the
temp dir is handed to it); as anyone else it runs as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from mcp_helpers import LOOPBACK, free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def _binary(name: str) -> str:
    path = PG_BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} not found in {PG_BIN} or PATH (apt-get install postgresql-15)")
    return found


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the server's owner: `postgres` when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(argv: list[str], what: str, timeout: float = 60.0) -> str:
    done = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        detail = (done.stdout + done.stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed with exit code {done.returncode}:\n{detail}")
    return done.stdout.decode(errors="replace")


@dataclass
class PostgresServer:
    """PostgreSQL on 127.0.0.1:`port` with data in `directory`/data; `stop()` and `start()` keep
    the port and the data, `remove()` deletes the directory."""

    directory: Path
    port: int
    database: str = "gateway"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """The URL of the database made at start-up."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}?sslmode=disable"

    def log(self, limit: int = 5000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return "<no log>"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses={LOOPBACK} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        argv = _as_server_user() + [
            _binary("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60",
            "-o", options, "start",
        ]
        try:
            _run(argv, "pg_ctl start", timeout=90)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log:\n{self.log()}") from None

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended); no-op when it is not running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        argv = _as_server_user() + [_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        _run(argv, "pg_ctl stop", timeout=60)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def psql(self, sql: str, database: str | None = None) -> str:
        """Runs `sql` and returns its rows unaligned (`-At`), one per line."""
        argv = [
            _binary("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", LOOPBACK, "-p", str(self.port),
            "-U", "postgres", "-d", database or self.database, "-c", sql,
        ]
        return _run(argv, "psql", timeout=60).strip()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (named `name`, or a unique name); returns its URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and _ only")
        self.psql(f'CREATE DATABASE "{name}"', database="postgres")
        return self.url_for(name)


def start_postgres(port: int | None = None) -> PostgresServer:
    """initdb a fresh cluster in a new temp dir, start it, and create its `gateway` database.

    The temp dir sits directly under the system temp dir (pytest's own is private to root, and
    the server user must be able to reach its data)."""
    directory = Path(tempfile.mkdtemp(prefix="mcpgw-postgres-"))
    server = PostgresServer(directory=directory, port=port or free_port())
    try:
        if os.geteuid() == 0:
            shutil.chown(directory, user="postgres", group="postgres")
        _run(
            _as_server_user() + [_binary("initdb"), "-D", str(server.data_dir), "-A", "trust", "-U", "postgres",
                                 "-E", "UTF8", "--no-sync"],
            "initdb",
            timeout=120,
        )
        server.start()
        server.psql(f'CREATE DATABASE "{server.database}"', database="postgres")
    except BaseException:
        server.remove()
        raise
    return server
