"""Stdio upstreams: the gateway runs an MCP server process (the official SDK's MCPServer over
stdio) registered with a command, relays calls and in-call traffic to it, logs its standard
error, restarts it when it exits, and gives it up (unreachable) when it keeps failing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import CreateMessageResult, TextContent

import mcp_helpers as h

NAME = "Stdio Upstream"


@dataclass
class StdioEnv:
    gateway: h.Gateway
    gateway_id: str
    flag: Path  # while this file exists, the upstream process refuses to start

    def tool(self, original: str) -> str:
        return h.prefixed(h.slugify(NAME), original)


def stdio_body(name: str, flag: Path, *extra: str) -> dict[str, Any]:
    return {
        "name": name,
        "transport": "STDIO",
        "command": sys.executable,
        "args": [str(h.UPSTREAM_SCRIPT), "--transport", "stdio", "--fail-if-exists", str(flag), *extra],
        "env": {"STDIO_TEST_SECRET": "not-for-your-eyes"},
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StdioEnv]:
    workdir = tmp_path_factory.mktemp("stdio")
    flag = workdir / "refuse-to-start"
    gateway = h.or_fail(lambda: h.start_gateway(workdir))
    try:
        with h.rest_client(gateway) as api:
            registered = h.ok_json(api.post("/gateways", json=stdio_body(NAME, flag)), 200, 201)
        yield StdioEnv(gateway=gateway, gateway_id=registered["id"], flag=flag)
    finally:
        gateway.stop()


def test_registration_shows_the_command_but_not_the_environment(env: StdioEnv) -> None:
    with h.rest_client(env.gateway) as api:
        gateway = h.ok_json(api.get(f"/gateways/{env.gateway_id}"), 200)
        assert gateway["transport"] == "STDIO"
        assert gateway["command"] == sys.executable and "--transport" in gateway["args"]
        assert gateway["url"].startswith("stdio:")
        assert gateway["env"] == {"STDIO_TEST_SECRET": "*****"}
        assert "not-for-your-eyes" not in api.get("/gateways").text
        assert len(h.tools_of(api, env.gateway_id)) == len(h.UPSTREAM_TOOLS)


@pytest.mark.parametrize("mode", ["modern", "legacy"])
def test_calls_and_progress_through_a_stdio_upstream(env: StdioEnv, mode: str) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode=mode) as client:
            echoed = await client.call_tool(env.tool("echo"), {"text": "via stdio"})
            assert echoed.content[0].text == "via stdio"
            done = await client.call_tool(env.tool("progress"), {"steps": 3}, progress_callback=on_progress)
            assert done.content[0].text == "done 3"
            assert progress == [1.0, 2.0, 3.0]

    h.run(body)


def test_sampling_through_a_stdio_upstream(env: StdioEnv) -> None:
    async def sample(context: Any, params: Any) -> CreateMessageResult:
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text="stdio ok"), model="m")

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="legacy", sampling_callback=sample) as c:
            result = await c.call_tool(env.tool("ask_sampling"), {"prompt": "x"})
            assert result.content[0].text == "sampled: stdio ok"

    h.run(body)


def echo_once(env: StdioEnv) -> str | None:
    async def body() -> str | None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern") as client:
            try:
                return (await client.call_tool(env.tool("echo"), {"text": "again"})).content[0].text
            except MCPError:
                return None

    return h.run(body)


def crash(env: StdioEnv) -> None:
    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode="modern") as client:
            with pytest.raises(MCPError) as raised:
                await client.call_tool(env.tool("crash"), {})
            assert raised.value.error.code == -32001, raised.value.error

    h.run(body)


def test_a_crashed_process_is_restarted_and_its_stderr_logged(env: StdioEnv) -> None:
    crash(env)
    assert h.wait_until(lambda: echo_once(env), timeout=20, what="the restarted process to answer") == "again"
    log = env.gateway.process.log(200_000)
    assert log.count("serving on stdio") >= 2, "the upstream's standard error goes to the gateway's log"


def test_a_process_that_keeps_failing_is_given_up_and_revived_by_reactivation(env: StdioEnv) -> None:
    env.flag.write_text("no")
    try:
        crash(env)
        with h.rest_client(env.gateway) as api:

            def unreachable() -> bool | None:
                return (not h.ok_json(api.get(f"/gateways/{env.gateway_id}"), 200)["reachable"]) or None

            h.wait_until(unreachable, timeout=60, what="the gateway to be marked unreachable")
            started = time.monotonic()
            assert echo_once(env) is None
            assert time.monotonic() - started < 5, "a given-up upstream fails calls at once"
    finally:
        env.flag.unlink()
    with h.rest_client(env.gateway) as api:
        h.ok_json(api.post(f"/gateways/{env.gateway_id}/state?activate=false"), 200)
        h.ok_json(api.post(f"/gateways/{env.gateway_id}/state?activate=true"), 200)
        assert h.wait_until(lambda: echo_once(env), timeout=20, what="the revived process") == "again"
        h.wait_until(
            lambda: h.ok_json(api.get(f"/gateways/{env.gateway_id}"), 200)["reachable"] or None,
            timeout=10,
            what="the gateway to be reachable again",
        )


def test_registration_of_a_failing_command_stores_nothing(env: StdioEnv, tmp_path: Path) -> None:
    flag = tmp_path / "always"
    flag.write_text("x")
    with h.rest_client(env.gateway) as api:
        before = len(h.list_rest(api, "gateways"))
        started = time.monotonic()
        h.assert_problem(api.post("/gateways", json=stdio_body("Never Starts", flag)), 502)
        assert time.monotonic() - started < 15
        assert len(h.list_rest(api, "gateways")) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"command": None}, "command"),
        ({"command": ""}, "command"),
        ({"args": "not a list"}, "args"),
        ({"args": [1, 2]}, "args"),
        ({"env": {"BAD-NAME": "x"}}, "env"),
        ({"env": {"GOOD": 1}}, "env"),
        ({"env": ["A=1"]}, "env"),
    ],
)
def test_stdio_registration_rejects_bad_commands(env: StdioEnv, tmp_path: Path, change: dict, field: str) -> None:
    body = stdio_body(f"Bad {field} {time.monotonic_ns()}", tmp_path / "flag")
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    with httpx.Client(base_url=env.gateway.base_url, headers={"Authorization": f"Bearer {env.gateway.token}"}) as api:
        problem = h.assert_problem(api.post("/gateways", json=body), 422)
        assert problem.get("field") == field, problem


REFUSES_INITIALIZE = (
    "import json, sys, time\n"
    "request = json.loads(sys.stdin.readline())\n"
    "print(json.dumps({'jsonrpc': '2.0', 'id': request['id'], 'error': {'code': -32603, 'message': 'no'}}), flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_process_that_refuses_initialize_is_stopped_at_once(env: StdioEnv) -> None:
    """The process stays alive after refusing: the gateway must end it, not wait out a deadline."""
    body = {"name": f"Refuses {time.monotonic_ns()}", "transport": "STDIO", "command": sys.executable,
            "args": ["-c", REFUSES_INITIALIZE]}
    with h.rest_client(env.gateway) as api:
        started = time.monotonic()
        h.assert_problem(api.post("/gateways", json=body), 502)
        assert time.monotonic() - started < 10


def test_only_admin_tokens_may_run_a_command(env: StdioEnv, tmp_path: Path) -> None:
    """A stdio upstream is a process on the gateway's host: a non-admin token can neither register
    one nor change its command (403, nothing stored or changed)."""
    user = h.mint_token(env.gateway, "someone@example.com", admin=False)
    with h.rest_client(env.gateway, user) as api:
        before = h.list_rest(api, "gateways")
        h.assert_problem(api.post("/gateways", json=stdio_body("Not Yours", tmp_path / "none")), 403)
        h.assert_problem(api.put(f"/gateways/{env.gateway_id}", json={"command": "/bin/sh", "args": ["-c", "id"]}), 403)
        assert h.list_rest(api, "gateways") == before
        # Describing it is still an ordinary write.
        changed = h.ok_json(api.put(f"/gateways/{env.gateway_id}", json={"description": "described by a user"}))
        assert changed["description"] == "described by a user" and changed["command"] == sys.executable


# What a stdio process may see of the gateway's environment: the documented allow-list and its
# own registered `env`, nothing else (STDIO_ENV_ALLOWLIST's default).
DEFAULT_ALLOWLIST = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ"}
GATEWAY_SECRETS = {"METRICS_BEARER_TOKEN": "m" * 40, "AUTH_ENCRYPTION_SECRET": "e" * 40}


def environment_of(gateway: h.Gateway, tool: str) -> dict[str, str]:
    async def body() -> dict[str, str]:
        async with h.connect(gateway.mcp_url, token=gateway.token, mode="modern") as client:
            result = await client.call_tool(tool, {})
            return json.loads(result.content[0].text)

    return h.run(body)


def register_environment_printer(gateway: h.Gateway, tmp_path: Path) -> str:
    name = f"Env Printer {time.monotonic_ns()}"
    body = stdio_body(name, tmp_path / "flag", "--expose-environment")
    with h.rest_client(gateway) as api:
        h.ok_json(api.post("/gateways", json=body), 200, 201)
    return h.prefixed(h.slugify(name), "environment")


def test_a_stdio_process_gets_none_of_the_gateways_secrets(tmp_path: Path) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path / "gw", extra_env={**GATEWAY_SECRETS, "LANG": "C.UTF-8"}))
    try:
        seen = environment_of(gateway, register_environment_printer(gateway, tmp_path))
        assert seen["STDIO_TEST_SECRET"] == "not-for-your-eyes", "the registered env reaches the process"
        assert seen.get("PATH") == gateway.env["PATH"] and seen.get("LANG") == "C.UTF-8"
        assert set(seen) <= DEFAULT_ALLOWLIST | {"STDIO_TEST_SECRET"}, sorted(set(seen) - DEFAULT_ALLOWLIST)
        secrets = {"JWT_SECRET_KEY": gateway.env["JWT_SECRET_KEY"], "DATABASE_URL": gateway.env["DATABASE_URL"],
                   **GATEWAY_SECRETS}
        leaked = {key for key, value in secrets.items() if value in seen.values()}
        assert not leaked, f"the process saw the gateway's {sorted(leaked)}"
    finally:
        gateway.stop()


def test_the_allowlist_is_a_knob(tmp_path: Path) -> None:
    extra = {**GATEWAY_SECRETS, "STDIO_ENV_ALLOWLIST": "PATH,SHARED_WITH_SERVERS", "SHARED_WITH_SERVERS": "yes"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path / "gw", extra_env=extra))
    try:
        seen = environment_of(gateway, register_environment_printer(gateway, tmp_path))
        # Python sets LC_CTYPE itself when it starts without a locale (PEP 538's coercion).
        assert set(seen) - {"LC_CTYPE"} == {"PATH", "SHARED_WITH_SERVERS", "STDIO_TEST_SECRET"}, sorted(seen)
    finally:
        gateway.stop()


def test_an_allowlist_that_names_no_variable_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="STDIO_ENV_ALLOWLIST"):
        h.start_gateway(tmp_path, extra_env={"STDIO_ENV_ALLOWLIST": "PATH,BAD-NAME"})
