#!/usr/bin/env python3
"""Relayed-notification latency: an upstream emits progress notifications at a fixed rate on a
tools/call's SSE answer, each stamped with the wall clock when it is written; the client reads
them through the gateway (or directly, for the baseline) and records receive time minus stamp.

The upstream here is a minimal asyncio HTTP server (not the SDK, whose own overhead would
dominate): initialize, notifications/initialized, tools/list with one tool `ticker`, and
tools/call answered as SSE with `count` progress notifications `interval` apart, then the
result. Everything is on loopback; the gateway is the release build.

Environment: RELAY_RATE (notifications per second, default 100), RELAY_COUNT (default 1000).
"""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import urllib.request

from benchlib import free_port, gateway, wait_port

RATE = int(os.environ.get("RELAY_RATE", "100"))
COUNT = int(os.environ.get("RELAY_COUNT", "1000"))


# ---------------------------------------------------------------------------------------------
# The notifying upstream
# ---------------------------------------------------------------------------------------------

TOOL = {"name": "ticker", "description": "Streams progress", "inputSchema": {"type": "object"}}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method = lines[0].split(" ")[0]
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if method != "POST":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                continue
            message = json.loads(body)
            if "id" not in message:
                writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
                continue
            result: object
            if message["method"] == "initialize":
                result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}}, "serverInfo": {"name": "ticker", "version": "1"}}
            elif message["method"] == "tools/list":
                result = {"tools": [TOOL]}
            elif message["method"] == "tools/call":
                await stream_call(message, writer)
                continue
            else:
                result = {}
            payload = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(payload), payload))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def stream_call(message: dict, writer: asyncio.StreamWriter) -> None:
    token = (message.get("params") or {}).get("_meta", {}).get("progressToken", "t")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n")
    interval = 1 / RATE
    start = time.perf_counter()
    for index in range(COUNT):
        delay = start + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event = {"jsonrpc": "2.0", "method": "notifications/progress",
                 "params": {"progressToken": token, "progress": index + 1, "total": COUNT, "message": str(time.time_ns())}}
        writer.write(b"event: message\ndata: " + json.dumps(event).encode() + b"\n\n")
        await writer.drain()
    final = {"jsonrpc": "2.0", "id": message["id"], "result": {"content": [{"type": "text", "text": "done"}]}}
    writer.write(b"event: message\ndata: " + json.dumps(final).encode() + b"\n\n")
    await writer.drain()
    writer.close()


def serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


def measure(url: str, tool: str, headers: dict) -> list[float]:
    """Calls the tool with a progress token (2026-07-28) and returns each notification's latency in ms."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "progressToken": "bench"}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}, "_meta": meta}}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool, **headers})
    latencies: list[float] = []
    with urllib.request.urlopen(request, timeout=120) as response:
        for raw in response:
            if not raw.startswith(b"data: "):
                continue
            received = time.time_ns()
            message = json.loads(raw[6:])
            if message.get("method") == "notifications/progress":
                latencies.append((received - int(message["params"]["message"])) / 1e6)
            elif "result" in message or "error" in message:
                break
    return latencies


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]
    return (f"{name:<10} n={len(ordered):5d}  p50 {pct(0.50):6.3f} ms  p90 {pct(0.90):6.3f} ms  "
            f"p99 {pct(0.99):6.3f} ms  max {ordered[-1]:6.3f} ms")


def main() -> None:
    upstream_port = free_port()
    threading.Thread(target=serve, args=(upstream_port,), daemon=True).start()
    wait_port(upstream_port)
    upstream_url = f"http://127.0.0.1:{upstream_port}/mcp"
    direct = measure(upstream_url, "ticker", {})
    with gateway() as running:
        auth = {"Authorization": f"Bearer {running.token}"}
        registration = urllib.request.Request(
            f"{running.base}/gateways", method="POST",
            data=json.dumps({"name": "ticker", "url": upstream_url, "transport": "STREAMABLEHTTP"}).encode(),
            headers={"Content-Type": "application/json", **auth})
        urllib.request.urlopen(registration, timeout=30).read()
        through = measure(f"{running.base}/mcp", "ticker-ticker", auth)
    print(f"{COUNT} progress notifications at {RATE}/s, upstream write -> client read (wall clock):")
    print(summary("direct", direct))
    print(summary("gateway", through))


if __name__ == "__main__":
    main()
