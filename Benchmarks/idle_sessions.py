#!/usr/bin/env python3
"""Memory per idle session: opens IDLE_SESSIONS stateful sessions (initialize, then the GET
stream each session keeps open), waits, and reports the gateway's RSS before and after and the
difference per session. One asyncio client holds every connection; loopback only.

Environment: IDLE_SESSIONS (default 10000), IDLE_SECONDS (time to hold them, default 20),
IDLE_MODE (`stream`, the default; or `connection`: plain kept-alive connections after one
`GET /health`, the baseline cost of an idle HTTP/1.1 connection in the server stack).
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import time
from pathlib import Path

from benchlib import gateway

SESSIONS = int(os.environ.get("IDLE_SESSIONS", "10000"))
HOLD = float(os.environ.get("IDLE_SECONDS", "20"))
MODE = os.environ.get("IDLE_MODE", "stream")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def request(port: int, raw: bytes) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    return head, reader, writer


async def open_session(port: int, token: str, held: list) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "idle", "version": "1"}}}).encode()
    head, reader, writer = await request(port, (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n").encode() + body)
    session = next(line.split(":", 1)[1].strip() for line in head.decode().split("\r\n")
                   if line.lower().startswith("mcp-session-id:"))
    writer.close()
    head, reader, writer = await request(port, (
        f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: text/event-stream\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n").encode())
    assert b" 200 " in head.split(b"\r\n")[0], head
    held.append((reader, writer))


async def open_connection(port: int, held: list) -> None:
    head, reader, writer = await request(port, f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    await reader.readexactly(int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))))
    held.append((reader, writer))


async def drive(port: int, token: str, pid: int, stop: "subprocess.Popen[bytes]") -> None:
    held: list = []
    before = rss_kb(pid)
    started = time.time()
    semaphore = asyncio.Semaphore(256)

    async def one() -> None:
        async with semaphore:
            if MODE == "connection":
                await open_connection(port, held)
            else:
                await open_session(port, token, held)

    await asyncio.gather(*(one() for _ in range(SESSIONS)))
    opened = time.time() - started
    await asyncio.sleep(HOLD)
    after = rss_kb(pid)
    what = "kept-alive connections after GET /health" if MODE == "connection" else "idle sessions with open GET streams"
    print(f"{len(held)} {what} (opened in {opened:.1f} s, held {HOLD:.0f} s)")
    print(f"gateway RSS before {before / 1024:.1f} MB, after {after / 1024:.1f} MB: "
          f"{(after - before) / max(1, len(held)):.1f} KB each")
    # Graceful shutdown with every stream still open: the streams end, the process exits.
    started = time.time()
    stop.terminate()
    while stop.poll() is None and time.time() - started < 30:
        await asyncio.sleep(0.05)
    print(f"SIGTERM to exit with {len(held)} open streams: {time.time() - started:.2f} s")
    for _, writer in held:
        writer.close()


def main() -> None:
    # Each side holds one descriptor per session; the hard limit here may be fixed (20000 in
    # this sandbox), so the soft limit is raised only as far as it allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SESSIONS + 1024
    if hard != resource.RLIM_INFINITY and hard < wanted:
        raise SystemExit(f"IDLE_SESSIONS={SESSIONS} needs {wanted} descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    with gateway() as running:
        time.sleep(0.5)
        asyncio.run(drive(running.port, running.token, running.process.pid, stop=running.process))


if __name__ == "__main__":
    main()
