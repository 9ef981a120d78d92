"""`mcpgateway translate`, both ways, with the official SDK on each side.

Forward: a stdio MCP server (the SDK's MCPServer over stdio) served over streamable HTTP and
legacy SSE, one process per client session, and usable as a gateway upstream. Reverse: the
gateway served on a process's stdin/stdout, started by the SDK's stdio client as desktop
clients do.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import mcp_helpers as h

STDIO_COMMAND = shlex.join([sys.executable, str(h.UPSTREAM_SCRIPT), "--transport", "stdio"])


@dataclass
class Bridge:
    process: h.ManagedProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://{h.LOOPBACK}:{self.port}"


def start_bridge(workdir, *extra: str) -> Bridge:  # type: ignore[no-untyped-def]
    port = h.free_port()
    argv = [str(h.check_gateway_binary()), "translate", "--stdio", STDIO_COMMAND, "--port", str(port), *extra]
    process = h.spawn(f"translate-{port}", argv, log_dir=workdir)
    h.wait_for_port(process, port)
    return Bridge(process=process, port=port)


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    started = h.or_fail(lambda: start_bridge(tmp_path_factory.mktemp("translate")))
    yield started
    started.process.stop()


@pytest.mark.parametrize("mode", ["legacy", "modern"])
def test_stdio_server_over_streamable_http(bridge: Bridge, mode: str) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def body() -> None:
        # The modern client finds no 2026-07-28 and falls back to initialize.
        async with h.connect(f"{bridge.base}/mcp", mode="legacy") if mode == "legacy" else Client(
            f"{bridge.base}/mcp", cache=None
        ) as client:
            names = {tool.name for tool in await h.list_all(client, "tools")}
            assert names == set(h.UPSTREAM_TOOLS), "the bridge shows the stdio server's own names"
            assert (await client.call_tool("echo", {"text": "bridged"})).content[0].text == "bridged"
            done = await client.call_tool("progress", {"steps": 2}, progress_callback=on_progress)
            assert done.content[0].text == "done 2" and progress == [1.0, 2.0]

    h.run(body)


def test_stdio_server_over_sse(bridge: Bridge) -> None:
    async def body() -> None:
        async with h.connect(f"{bridge.base}/sse", mode="legacy", transport="sse") as client:
            assert (await client.call_tool("echo", {"text": "sse bridged"})).content[0].text == "sse bridged"

    h.run(body)


def test_each_session_gets_its_own_process(bridge: Bridge) -> None:
    before = bridge.process.log(1_000_000).count("serving on stdio")

    async def body() -> None:
        async with h.connect(f"{bridge.base}/mcp", mode="legacy") as first, h.connect(
            f"{bridge.base}/mcp", mode="legacy"
        ) as second:
            await first.call_tool("echo", {"text": "1"})
            await second.call_tool("echo", {"text": "2"})

    h.run(body)
    assert bridge.process.log(1_000_000).count("serving on stdio") - before == 2


def test_the_bridge_is_a_gateway_upstream(bridge: Bridge, tmp_path_factory: pytest.TempPathFactory) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path_factory.mktemp("translate-gw")))
    try:
        with h.rest_client(gateway) as api:
            registered = h.ok_json(
                api.post("/gateways", json={"name": "Bridged", "url": f"{bridge.base}/mcp", "transport": "STREAMABLEHTTP"}),
                200,
                201,
            )
            h.wait_for_tools(api, registered["id"], len(h.UPSTREAM_TOOLS))

        async def body() -> None:
            async with h.connect(gateway.mcp_url, token=gateway.token, mode="modern") as client:
                result = await client.call_tool(h.prefixed("bridged", "echo"), {"text": "two hops"})
                assert result.content[0].text == "two hops"

        h.run(body)
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("translate-remote"), "Remote Upstream") as stack:
        yield stack


@pytest.mark.parametrize("flag", ["--connect-streamable-http", "--connect-sse"])
def test_gateway_served_on_stdio(gateway: h.Stack, flag: str) -> None:
    url = gateway.gateway.mcp_url if flag == "--connect-streamable-http" else f"{gateway.gateway.base_url}/sse"
    params = StdioServerParameters(
        command=str(h.check_gateway_binary()),
        args=["translate", flag, url, "--oauth2Bearer", gateway.gateway.token, "--log-level", "warning"],
    )

    async def body() -> None:
        async with Client(params, mode="legacy", cache=None) as client:
            names = {tool.name for tool in await h.list_all(client, "tools")}
            assert gateway.tool("echo") in names
            result = await client.call_tool(gateway.tool("echo"), {"text": "desktop"})
            assert result.content[0].text == "desktop"

    h.run(body)


def test_bridge_refuses_requests_without_its_token(tmp_path_factory: pytest.TempPathFactory) -> None:
    secured = h.or_fail(lambda: start_bridge(tmp_path_factory.mktemp("translate-auth"), "--auth-token", "t0ken-value"))
    try:
        init = h.request("initialize", {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}, 0)
        headers = {"Accept": h.ACCEPT_BOTH}
        assert httpx.post(f"{secured.base}/mcp", json=init, headers=headers).status_code == 401
        wrong = httpx.post(f"{secured.base}/mcp", json=init, headers={**headers, "Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = httpx.post(f"{secured.base}/mcp", json=init, headers={**headers, "Authorization": "Bearer t0ken-value"}, timeout=30)
        assert ok.status_code == 200 and ok.headers.get("mcp-session-id")
        assert httpx.get(f"{secured.base}/healthz").status_code == 200
    finally:
        secured.process.stop()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--stdio", "x", "--connect-sse", "http://127.0.0.1:1/sse"],
        ["--stdio", "x", "--host", "0.0.0.0"],
        ["--connect-streamable-http", "ftp://example/mcp"],
        ["--stdio", "x", "--port", "0"],
    ],
)
def test_translate_refuses_bad_arguments(args: list[str]) -> None:
    done = subprocess.run(
        [str(h.check_gateway_binary()), "translate", *args], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert done.returncode != 0
    assert done.stderr.strip(), "a refusal says why"


def test_the_bridged_process_gets_none_of_the_bridges_secrets(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`translate --stdio` gives its process the STDIO_ENV_ALLOWLIST variables only: not the
    bridge's token, nor anything else the bridge was started with."""
    import json
    import os

    port = h.free_port()
    command = shlex.join([sys.executable, str(h.UPSTREAM_SCRIPT), "--transport", "stdio", "--expose-environment"])
    secret = "bridge-secret-" + h.random_secret(24)  # pragma: allowlist secret
    env = {**os.environ, "TRANSLATE_AUTH_TOKEN": secret, "SOME_SERVICE_PASSWORD": secret, "LANG": "C.UTF-8"}
    argv = [str(h.check_gateway_binary()), "translate", "--stdio", command, "--port", str(port)]
    process = h.spawn(f"translate-{port}", argv, log_dir=tmp_path_factory.mktemp("translate-env"), env=env)
    try:
        h.wait_for_port(process, port)

        async def body() -> dict[str, str]:
            async with h.connect(f"http://{h.LOOPBACK}:{port}/mcp", token=secret, mode="legacy") as client:
                return json.loads((await client.call_tool("environment", {})).content[0].text)

        seen = h.run(body)
        assert secret not in seen.values(), sorted(seen)
        assert seen.get("PATH") == os.environ["PATH"] and seen.get("LANG") == "C.UTF-8"
        # PWD is the shell's own (the command runs under `sh -c`).
        assert set(seen) <= {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "PWD"}, sorted(seen)
    finally:
        process.stop()
