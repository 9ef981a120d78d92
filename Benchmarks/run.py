#!/usr/bin/env python3
"""tools/call throughput and latency: directly against an upstream and through the gateway.

Starts (release builds) the FastUpstream responder, the gateway on a temporary SQLite store and
the official Python SDK upstream, registers the upstreams, and drives wrk (Benchmarks/mcp_call.lua)
at concurrency 1, 16 and 64. Prints req/s, p50, p99, the through/direct ratio, the gateway's CPU
per call (utime+stime from /proc), its RSS, and start-to-ready time. Loopback only.

Environment: BENCH_DURATION (seconds per run, default 10), BENCH_CONCURRENCY ("1,16,64").
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchlib import free_port, wait_port

ROOT = Path(__file__).resolve().parent.parent
# BENCH_GATEWAY compares another build (e.g. an older commit's) under the same load.
GATEWAY = Path(os.environ.get("BENCH_GATEWAY", ROOT / ".build/release/mcpgateway"))
FAST = ROOT / ".build/release/FastUpstream"
PYTHON = ROOT / ".venv/bin/python"
LUA = ROOT / "Benchmarks/mcp_call.lua"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1,16,64").split(",")]
TICKS = os.sysconf("SC_CLK_TCK")


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def to_ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, concurrency: int, env: dict) -> dict:
    threads = 1 if concurrency == 1 else 2
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{DURATION}s", "--latency", "-s", str(LUA), url],
        capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = int(re.search(r"^errors (\d+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or non2xx:
        raise SystemExit(f"benchmark measured failures ({errors} errors):\n{out}")
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "requests": requests,
    }


def start(argv: list, env: dict | None = None, log: Path | None = None) -> subprocess.Popen:
    sink = open(log, "wb") if log else subprocess.DEVNULL
    return subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=sink, stderr=sink)


def legacy_session(url: str, headers: dict) -> str:
    accept = {"Accept": "application/json, text/event-stream", **headers}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    status, response_headers, _ = http("POST", url, init, accept)
    session = {k.lower(): v for k, v in response_headers.items()}.get("mcp-session-id")
    assert status == 200 and session, (status, response_headers)
    http("POST", url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
         {**accept, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    return session


def main() -> None:
    for binary in (GATEWAY, FAST):
        if not binary.exists():
            raise SystemExit(f"{binary} missing: run `make bench` (release builds)")
    work = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    processes: list[subprocess.Popen] = []
    try:
        fast_port, sdk_port, gw_port = free_port(), free_port(), free_port()
        processes.append(start([str(FAST), str(fast_port)]))
        processes.append(start([str(PYTHON), str(ROOT / "Tests/Integration/upstream_server.py"), "--port", str(sdk_port),
                                "--transport", "streamable-http"], log=work / "sdk.log"))
        secret = secrets.token_hex(32)
        env = {"PORT": str(gw_port), "DATABASE_URL": f"sqlite:///{work}/gw.db", "JWT_SECRET_KEY": secret, "LOG_LEVEL": "warning",
               # Loopback upstreams, and load far beyond a client's fair share.
               "SSRF_ALLOW_LOCALHOST": "true", "RATE_LIMIT_ENABLED": "false"}
        token = subprocess.run([str(GATEWAY), "token", "--username", "bench"], env={**os.environ, **env},
                               capture_output=True, text=True, check=True).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{gw_port}"

        # First start creates the database; the second measures start-to-ready on an existing one.
        gateway = start([str(GATEWAY), "serve"], env, work / "gw1.log")
        wait_port(gw_port)
        gateway.terminate(); gateway.wait()
        began = time.monotonic()
        gateway = start([str(GATEWAY), "serve"], env, work / "gw.log")
        processes.append(gateway)
        while True:
            try:
                if http("GET", base + "/ready")[0] == 200:
                    break
            except OSError:
                time.sleep(0.005)
        ready_ms = (time.monotonic() - began) * 1000
        wait_port(fast_port); wait_port(sdk_port)
        for name, url in (("fast", f"http://127.0.0.1:{fast_port}/mcp"), ("sdk", f"http://127.0.0.1:{sdk_port}/mcp")):
            status, _, body = http("POST", base + "/gateways", {"name": name, "url": url, "transport": "STREAMABLEHTTP"}, auth)
            assert status == 200, body
        idle_rss = rss_mb(gateway.pid)

        rows = []
        for concurrency in CONCURRENCY:
            direct = wrk(f"http://127.0.0.1:{fast_port}/mcp", concurrency, {"BENCH_TOOL": "echo"})
            before = cpu_ticks(gateway.pid)
            through = wrk(base + "/mcp", concurrency, {"BENCH_TOOL": "fast-echo", "BENCH_TOKEN": token})
            cpu_us = (cpu_ticks(gateway.pid) - before) * 1_000_000 / TICKS / through["requests"]
            rows.append(("fast upstream, 2026-07-28", concurrency, direct, through, cpu_us, rss_mb(gateway.pid)))

        session = legacy_session(base + "/mcp", auth)
        before = cpu_ticks(gateway.pid)
        c = max(CONCURRENCY)
        through = wrk(base + "/mcp", c, {"BENCH_MODE": "session", "BENCH_SESSION": session, "BENCH_TOOL": "fast-echo", "BENCH_TOKEN": token})
        cpu_us = (cpu_ticks(gateway.pid) - before) * 1_000_000 / TICKS / through["requests"]
        direct = wrk(f"http://127.0.0.1:{fast_port}/mcp", c, {"BENCH_MODE": "session", "BENCH_SESSION": "x"})
        rows.append(("fast upstream, 2025-11-25 session", c, direct, through, cpu_us, rss_mb(gateway.pid)))

        sdk_session = legacy_session(f"http://127.0.0.1:{sdk_port}/mcp", {})
        direct = wrk(f"http://127.0.0.1:{sdk_port}/mcp", c, {"BENCH_MODE": "session", "BENCH_SESSION": sdk_session, "BENCH_UNIQUE_IDS": "1"})
        before = cpu_ticks(gateway.pid)
        through = wrk(base + "/mcp", c, {"BENCH_TOOL": "sdk-echo", "BENCH_TOKEN": token, "BENCH_UNIQUE_IDS": "1"})
        cpu_us = (cpu_ticks(gateway.pid) - before) * 1_000_000 / TICKS / through["requests"]
        rows.append(("Python SDK upstream", c, direct, through, cpu_us, rss_mb(gateway.pid)))

        print(f"tools/call, {DURATION}s per run, wrk with {LUA.name}; gateway release build")
        print(f"{'scenario':34} {'conc':>4} {'direct rps':>10} {'p50 ms':>7} {'p99 ms':>7} | {'gateway rps':>11} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} {'+p50 ms':>7} {'CPU/call':>9} {'RSS MB':>6}")
        for name, conc, d, t, cpu, rss in rows:
            print(f"{name:34} {conc:>4} {d['rps']:>10.0f} {d['p50']:>7.3f} {d['p99']:>7.3f} | {t['rps']:>11.0f} {t['p50']:>7.3f} {t['p99']:>7.3f} | "
                  f"{t['rps'] / d['rps']:>5.2f} {t['p50'] - d['p50']:>7.3f} {cpu:>7.0f}us {rss:>6.1f}")
        print(f"gateway RSS idle {idle_rss:.1f} MB, peak {rss_mb(gateway.pid, 'VmHWM'):.1f} MB; start to /ready on an existing database {ready_ms:.0f} ms")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
