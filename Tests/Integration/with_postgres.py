"""Runs a command with a throwaway PostgreSQL on loopback: `with_postgres.py CMD ARGS...`.

The command sees GATEWAY_TEST_POSTGRES_URL, naming a new empty database, so the Swift store tests
that need a real server (Tests/GatewayStoreTests/PostgresStoreTests.swift) run in `make test`.
The server is stopped and its directory removed afterwards, whatever the command's outcome; the
command's exit status is returned.
"""

from __future__ import annotations

import os
import subprocess
import sys

import postgres_server


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: with_postgres.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    server = postgres_server.start_postgres()
    try:
        env = dict(os.environ, GATEWAY_TEST_POSTGRES_URL=server.create_database())
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL).returncode
    finally:
        server.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
