#!/usr/bin/env python3
"""Cluster benchmarks (release build, loopback only): what the cluster costs and how it fails over.

1. Throughput through nginx round-robin: one node against three, each on PostgreSQL + Redis, the
   FastUpstream responder behind them, wrk with mcp_call.lua (2026-07-28 calls and 2025-11-25
   session calls) at BENCH_CONCURRENCY (default 64). On this 2-core machine three nodes cannot add
   cores, so the target is that they cost almost nothing: at least 90% of one node's req/s.
2. Cross-node delivery of a server-to-client message: a client holds its GET stream on node A and
   subscribes to a resource through node A (same node) or node B (cross node); each round calls
   the upstream's `touch` tool, whose notifications/resources/updated reaches the subscribing
   node's upstream session and, cross node, goes through Redis to node A. Prints p50/p99 from the
   call's start to the event's arrival, and from the moment the gateway numbered the event (its
   id carries the microsecond) to its arrival at the client: cross node, that is the hop through
   the replay log, Redis pub/sub and node A.
3. Leader failover: BENCH_KILLS (default 20) times, kill -9 the leader and time until a survivor
   reports a new leader with a higher epoch (polling /cluster every 20 ms); the node is restarted.

Environment: BENCH_DURATION (seconds per wrk run, default 10), BENCH_CONCURRENCY ("64"),
BENCH_ROUNDS (delivery rounds, default 300), BENCH_KILLS (20), BENCH_PHASES ("throughput,delivery,failover").
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests/Integration"))
sys.path.insert(0, str(ROOT / "Benchmarks"))

import httpx  # noqa: E402

import cluster_servers  # noqa: E402
import postgres_server  # noqa: E402
from benchlib import free_port, wait_port  # noqa: E402
from run import FAST, GATEWAY, PYTHON, legacy_session, start, wrk  # noqa: E402

CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "64").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
KILLS = int(os.environ.get("BENCH_KILLS", "20"))
PHASES = os.environ.get("BENCH_PHASES", "throughput,delivery,failover").split(",")


class Cluster:
    def __init__(self, work: Path, database_url: str, redis_url: str) -> None:
        self.work = work
        self.env = {
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "JWT_SECRET_KEY": secrets.token_hex(32),
            "AUTH_ENCRYPTION_SECRET": secrets.token_hex(32), "LOG_LEVEL": "warning", "SSRF_ALLOW_LOCALHOST": "true",
            "RATE_LIMIT_ENABLED": "false", "MCPGATEWAY_ADMIN_API_ENABLED": "true", "SSE_KEEPALIVE_INTERVAL": "5",
        }
        self.nodes: list[tuple[subprocess.Popen, int, int]] = []  # process, port, admin port
        self.token = subprocess.run([str(GATEWAY), "token", "--username", "bench", "--admin"],
                                    env={**os.environ, **self.env}, capture_output=True, text=True, check=True).stdout.strip()
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def start_node(self) -> int:
        port, admin = free_port(), free_port()
        env = {**self.env, "PORT": str(port), "ADMIN_PORT": str(admin)}
        process = start([str(GATEWAY), "serve"], env, self.work / f"node-{port}.log")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        else:
            raise SystemExit(f"node on {port} not ready; see {self.work}")
        self.nodes.append((process, port, admin))
        return len(self.nodes) - 1

    def view(self, index: int) -> dict:
        return httpx.get(f"http://127.0.0.1:{self.nodes[index][2]}/cluster", headers=self.auth, timeout=2).json()

    def stop(self) -> None:
        for process, _, _ in self.nodes:
            if process.poll() is None:
                process.terminate()
                process.wait(15)


def throughput(cluster: Cluster, fast_port: int) -> list[str]:
    base = f"http://127.0.0.1:{cluster.nodes[0][1]}"
    status = httpx.post(base + "/gateways", json={"name": "fast", "url": f"http://127.0.0.1:{fast_port}/mcp",
                                                  "transport": "STREAMABLEHTTP"}, headers=cluster.auth).status_code
    assert status == 200, status
    lines = []
    results: dict[tuple[int, str, int], dict] = {}
    for count in (1, 3):
        while len(cluster.nodes) < count:
            cluster.start_node()
        nginx = cluster_servers.start_nginx(cluster.work / f"nginx-{count}", [p for _, p, _ in cluster.nodes[:count]])
        try:
            url = nginx.base_url + "/mcp"
            session = legacy_session(url, cluster.auth)
            for c in CONCURRENCY:
                results[(count, "2026-07-28", c)] = wrk(url, c, {"BENCH_TOOL": "fast-echo", "BENCH_TOKEN": cluster.token})
                results[(count, "session", c)] = wrk(url, c, {"BENCH_MODE": "session", "BENCH_SESSION": session,
                                                              "BENCH_TOOL": "fast-echo", "BENCH_TOKEN": cluster.token})
        finally:
            nginx.stop()
    lines.append("nodes  mode        conc      req/s    p50 ms   p99 ms   vs one node")
    for (count, mode, c), r in sorted(results.items()):
        ratio = r["rps"] / results[(1, mode, c)]["rps"]
        lines.append(f"{count:5}  {mode:10} {c:5} {r['rps']:10.0f} {r['p50']:9.2f} {r['p99']:8.2f}   {ratio:6.2f}")
    return lines


def sse_events(response: httpx.Response, sink: list, stop: threading.Event) -> None:
    """Appends, per resources/updated event, (arrival, milliseconds since the gateway numbered
    it): event ids are `<stream>-<microseconds since 1970 on the numbering node>`, and every node
    runs on this machine's clock."""
    event_id = None
    try:
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:") and "resources/updated" in line and event_id:
                now = time.time()
                numbered = int(event_id.split("-", 1)[1]) / 1_000_000
                sink.append((time.perf_counter(), (now - numbered) * 1000))
    except httpx.HTTPError:
        return


def delivery(cluster: Cluster, sdk_port: int) -> list[str]:
    base_a = f"http://127.0.0.1:{cluster.nodes[0][1]}"
    status = httpx.post(base_a + "/gateways", json={"name": "sdk", "url": f"http://127.0.0.1:{sdk_port}/mcp",
                                                    "transport": "STREAMABLEHTTP"}, headers=cluster.auth).status_code
    assert status == 200, status
    resources = httpx.get(base_a + "/resources", headers=cluster.auth).json()
    uri = next(r["uri"] for r in resources if "greeting" in r["uri"] or r.get("name") == "greeting")
    lines = ["path         rounds   call->event p50/p99 ms   numbered->client p50/p99 ms"]
    for label, subscribe_on in (("same node", 0), ("cross node", 1)):
        with httpx.Client(timeout=httpx.Timeout(30, read=60), headers=cluster.auth) as http:
            session = legacy_session(base_a + "/mcp", cluster.auth)
            headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
            node_b = f"http://127.0.0.1:{cluster.nodes[subscribe_on][1]}/mcp"
            call = {"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": uri}}
            assert http.post(node_b, json=call, headers={**headers, "Accept": "application/json, text/event-stream"}).status_code == 200
            arrivals: list[float] = []
            stop = threading.Event()
            with http.stream("GET", base_a + "/mcp", headers={**headers, "Accept": "text/event-stream"}) as stream:
                reader = threading.Thread(target=sse_events, args=(stream, arrivals, stop), daemon=True)
                reader.start()
                samples: list[float] = []
                hops: list[float] = []
                touch = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "sdk-touch", "arguments": {"uri": uri}}}
                for _ in range(ROUNDS):
                    seen = len(arrivals)
                    began = time.perf_counter()
                    http.post(base_a + "/mcp", json=touch, headers={**headers, "Accept": "application/json, text/event-stream"})
                    deadline = time.monotonic() + 5
                    while len(arrivals) == seen and time.monotonic() < deadline:
                        time.sleep(0.0002)
                    if len(arrivals) > seen:
                        samples.append((arrivals[seen][0] - began) * 1000)
                        hops.append(arrivals[seen][1])
                stop.set()
            lines.append(f"{label:12} {len(samples):6} {percentile(samples, 50):8.2f} {percentile(samples, 99):8.2f}"
                         f"   {percentile(hops, 50):8.2f} {percentile(hops, 99):8.2f}")
    return lines


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def failover(cluster: Cluster) -> list[str]:
    while len(cluster.nodes) < 3:
        cluster.start_node()
    times = []
    for _ in range(KILLS):
        live = [i for i, (p, _, _) in enumerate(cluster.nodes) if p.poll() is None]
        view = cluster.view(live[0])
        while view["leader"] is None:
            time.sleep(0.05)
            view = cluster.view(live[0])
        leader_id, epoch = view["leader"]["id"], view["leader"]["epoch"]
        by_address = {n["address"]: n["id"] for n in view["nodes"]}
        leader = next(i for i in live if by_address.get(f"127.0.0.1:{cluster.nodes[i][1]}") == leader_id)
        survivor = next(i for i in live if i != leader)
        process = cluster.nodes[leader][0]
        killed = time.monotonic()
        process.send_signal(signal.SIGKILL)
        process.wait()
        while True:
            current = cluster.view(survivor)["leader"]
            if current and current["epoch"] > epoch and current["id"] != leader_id:
                break
            time.sleep(0.02)
        times.append(time.monotonic() - killed)
        cluster.start_node()
    return [f"leader failover over {len(times)} kills (lease TTL 3 s, heartbeat 1 s): "
            f"min {min(times):.2f} s, median {statistics.median(times):.2f} s, max {max(times):.2f} s"]


def main() -> None:
    for binary in (GATEWAY, FAST):
        if not binary.exists():
            raise SystemExit(f"{binary} missing: run `make bench` (release builds)")
    work = Path(tempfile.mkdtemp(prefix="mcp-cluster-bench-"))
    postgres = postgres_server.start_postgres()
    redis = cluster_servers.start_redis(work / "redis")
    processes = []
    cluster = Cluster(work, postgres.create_database(), redis.url)
    report = [f"cluster benchmarks, release build, {os.cpu_count()} cores, loopback; logs in {work}"]
    try:
        fast_port, sdk_port = free_port(), free_port()
        processes.append(start([str(FAST), str(fast_port)]))
        processes.append(start([str(PYTHON), str(ROOT / "Tests/Integration/upstream_server.py"), "--port", str(sdk_port),
                                "--transport", "streamable-http"], log=work / "sdk.log"))
        wait_port(fast_port)
        wait_port(sdk_port)
        cluster.start_node()
        if "throughput" in PHASES:
            report += throughput(cluster, fast_port)
        while len(cluster.nodes) < 2:
            cluster.start_node()
        if "delivery" in PHASES:
            report += delivery(cluster, sdk_port)
        if "failover" in PHASES:
            report += failover(cluster)
    finally:
        cluster.stop()
        for process in processes:
            process.terminate()
        redis.stop()
        postgres.remove()
    print("\n".join(report))


if __name__ == "__main__":
    main()
