"""Interoperability with IBM ContextForge (PyPI `mcp-contextforge-gateway`, pinned in
requirements-contextforge.txt), both ways, with real processes and the official SDK as client.

- ContextForge as OUR upstream: ContextForge has an SDK upstream registered ("Forge Upstream");
  our gateway registers ContextForge's global `/mcp` (streamable HTTP), a ContextForge virtual
  server's `/servers/{id}/mcp` (echo and add only) and its legacy `/sse`, each with a
  ContextForge bearer token. An SDK client on our `/mcp` lists the tools, named twice over
  (`<our slug>-forge-upstream-<tool>`), and calls them: text, structuredContent and isError
  results come back unchanged. Without ContextForge's token the registration is refused (502).
- ContextForge registering US: ContextForge's `POST /gateways` takes our `/mcp` with one of our
  admin tokens; an SDK client on ContextForge's `/mcp` (ContextForge token) lists our tools as
  `swift-gateway-<our name, slugified>` and calls them; our own `/metrics` counts exactly those
  calls and shows ContextForge speaking 2026-07-28 to us (`server/discover`). A token we did
  not sign, or none, makes ContextForge's registration fail (502, "HTTP 401").

ContextForge runs once for the module from its own Python 3.12 venv: `CONTEXTFORGE_VENV`, by
default `<repo>/.venv-contextforge` (made by `make deps`); a missing venv fails the tests.
It starts in an empty directory (it would read a stray `.env`) with its secrets from its own
`init_secrets`, SQLite there, loopback allowed for its SSRF guard, and no UI, admin API or rate
limits; its admin token comes from its `create_jwt_token`. At teardown it is stopped by PID,
and any worker process it forked that outlives it is killed by PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.types import TextContent
from prometheus_client.parser import text_string_to_metric_families

import mcp_helpers as h

pytestmark = pytest.mark.timeout(180)  # ContextForge takes 10-25 s to start

REQUIREMENTS = h.HERE / "requirements-contextforge.txt"
ADMIN_EMAIL = "admin@example.com"
READY_TIMEOUT = 120.0
ECHO_TEXT = "héllo, ContextForge ✓ — 42"

FORGE_UPSTREAM = "Forge Upstream"  # our SDK upstream, as registered on ContextForge
FORGE_UPSTREAM_SLUG = h.slugify(FORGE_UPSTREAM)
# How our gateway registers ContextForge: name -> (path on ContextForge, transport)
FORGE_ENDPOINTS = {
    "mcp": ("Forge MCP", "STREAMABLEHTTP"),
    "server-mcp": ("Forge Server", "STREAMABLEHTTP"),
    "sse": ("Forge SSE", "SSE"),
}
VIRTUAL_TOOLS = ["echo", "add"]  # the ContextForge virtual server's tools

OUR_UPSTREAM = "Swift Upstream"  # the upstream of the gateway ContextForge registers
OUR_UPSTREAM_SLUG = h.slugify(OUR_UPSTREAM)
OURS_ON_FORGE = "Swift Gateway"  # our gateway, as registered on ContextForge
OURS_ON_FORGE_SLUG = h.slugify(OURS_ON_FORGE)


def forge_name(gateway_slug: str, tool: str) -> str:
    """ContextForge's name for a federated tool: `<gateway slug>-<tool name slugified>`
    (so `ask_briefly` becomes `ask-briefly`; its `originalName` keeps the underscore)."""
    return f"{gateway_slug}-{h.slugify(tool)}"


# --------------------------------------------------------------------------------------------
# ContextForge process
# --------------------------------------------------------------------------------------------


def pinned_version() -> str:
    match = re.search(r"^mcp-contextforge-gateway==(\S+)$", REQUIREMENTS.read_text(), re.MULTILINE)
    assert match, f"{REQUIREMENTS} does not pin mcp-contextforge-gateway"
    return match.group(1)


def contextforge_venv() -> Path:
    configured = os.environ.get("CONTEXTFORGE_VENV")
    venv = Path(configured) if configured else h.REPO_ROOT / ".venv-contextforge"
    for tool in ("python", "mcpgateway"):
        path = venv / "bin" / tool
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise RuntimeError(
                f"ContextForge venv not found: {path} is missing (CONTEXTFORGE_VENV={configured or 'unset'}).\n"
                f"Run `make deps` (it creates .venv-contextforge with Python 3.12 from {REQUIREMENTS.name}) "
                "or point CONTEXTFORGE_VENV at such a venv."
            )
    return venv


def process_tree(pid: int) -> list[tuple[int, str]]:
    """(pid, start time) of every descendant of `pid`, read from /proc."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def start_time(pid: int) -> str | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass
class ContextForge:
    venv: Path
    port: int
    env: dict[str, str]
    process: h.ManagedProcess
    workdir: Path
    token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{h.LOOPBACK}:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def rest(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=60.0
        )

    def run_module(self, module: str, *args: str) -> str:
        """`python -m module args` in ContextForge's venv and environment; its stdout."""
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-m", module, *args],
            env=self.env, cwd=self.workdir, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise RuntimeError(f"`python -m {module}` exited with {done.returncode}:\n"
                               f"{done.stderr.decode(errors='replace')[-3000:]}")
        return done.stdout.decode()

    def stop(self) -> None:
        """SIGTERM to ContextForge, then SIGKILL to any process it forked that is still there
        (matched by PID and start time, so a reused PID is never touched)."""
        tree = process_tree(self.process.popen.pid) if self.process.running() else []
        self.process.stop()
        deadline = time.monotonic() + 10
        for pid, started in tree:
            while start_time(pid) == started and time.monotonic() < deadline:
                time.sleep(0.1)
            if start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def generate_secrets(python: Path, cwd: Path, base_env: dict[str, str]) -> dict[str, str]:
    """ContextForge's own `init_secrets --stdout`: JWT_SECRET_KEY, AUTH_ENCRYPTION_SECRET and
    the passwords, as KEY=VALUE lines."""
    done = subprocess.run(
        [str(python), "-m", "mcpgateway.scripts.init_secrets", "--stdout"],
        env=base_env, cwd=cwd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"init_secrets exited with {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    found = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)$", done.stdout.decode(), re.MULTILINE))
    if "JWT_SECRET_KEY" not in found or "AUTH_ENCRYPTION_SECRET" not in found:
        raise RuntimeError(f"init_secrets printed no JWT_SECRET_KEY/AUTH_ENCRYPTION_SECRET: {sorted(found)}")
    return found


def start_contextforge(workdir: Path) -> ContextForge:
    venv = contextforge_venv()
    home, temp = workdir / "home", workdir / "tmp"  # its lock files go to TMPDIR, not /tmp
    cwd = workdir / "run"  # empty but for its log and database: no stray .env
    for path in (home, temp, cwd):
        path.mkdir(parents=True)
    port = h.free_port()
    # A clean environment: nothing of the caller's (DATABASE_URL, PORT, REDIS_URL, ...) leaks in.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(temp),
           "PYTHONUNBUFFERED": "1"}
    env.update(generate_secrets(venv / "bin" / "python", cwd, env))
    env.update(
        HOST=h.LOOPBACK,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{cwd / 'mcp.db'}",
        AUTH_REQUIRED="true",
        MCP_CLIENT_AUTH_ENABLED="true",
        PLATFORM_ADMIN_EMAIL=ADMIN_EMAIL,
        SSRF_ALLOW_LOCALHOST="true",  # its upstreams (ours) are on loopback
        MCPGATEWAY_UI_ENABLED="false",
        MCPGATEWAY_ADMIN_API_ENABLED="false",
        RATE_LIMITING_ENABLED="false",
        CACHE_TYPE="database",  # never looks for a Redis
    )
    argv = [str(venv / "bin" / "mcpgateway"), "--host", h.LOOPBACK, "--port", str(port), "--workers", "1"]
    proc = h.spawn(f"contextforge-{port}", argv, log_dir=cwd, env=env)
    forge = ContextForge(venv=venv, port=port, env=env, process=proc, workdir=cwd)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if not proc.running():
                raise RuntimeError(f"ContextForge exited with {proc.popen.returncode} during start-up:\n{proc.log()}")
            try:
                resp = httpx.get(f"{forge.base_url}/health", timeout=2.0)
                if resp.status_code == 200:
                    break
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.25)
        else:
            raise RuntimeError(f"ContextForge not healthy within {READY_TIMEOUT}s (last: {last}):\n{proc.log()}")
        token = forge.run_module(
            "mcpgateway.utils.create_jwt_token", "--username", ADMIN_EMAIL, "--exp", "60"
        ).strip()
        if token.count(".") != 2 or "\n" in token:
            raise RuntimeError(f"create_jwt_token printed something that is not one JWT: {token[:80]!r}")
        forge.token = token
    except BaseException:
        forge.stop()
        raise
    return forge


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContextForge]:
    """ContextForge, running, with its admin token; its version is the pinned one."""
    instance = h.or_fail(lambda: start_contextforge(tmp_path_factory.mktemp("contextforge")))
    try:
        with instance.rest() as api:
            version = h.ok_json(api.get("/version"))["app"]["version"]
        assert version == pinned_version(), (
            f"ContextForge {version} runs from {instance.venv}, but {REQUIREMENTS.name} pins "
            f"{pinned_version()}: run `make deps`"
        )
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def forge_upstream(forge: ContextForge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An SDK upstream registered on ContextForge as "Forge Upstream"; ContextForge's REST
    tools of it by original name."""
    upstream = h.or_fail(lambda: h.start_upstream(
        "streamable-http", log_dir=tmp_path_factory.mktemp("forge-upstream"), namespace="forge"))
    try:
        with forge.rest() as api:
            body = {"name": FORGE_UPSTREAM, "url": upstream.url, "transport": "STREAMABLEHTTP"}
            registered = h.ok_json(api.post("/gateways", json=body), 200, 201)

            def probe() -> dict[str, Any] | None:
                tools = {t["originalName"]: t for t in h.ok_json(api.get("/tools", params={"limit": 0}))
                         if t.get("gatewaySlug") == FORGE_UPSTREAM_SLUG}
                return tools if len(tools) >= len(h.UPSTREAM_TOOLS) else None

            tools = h.wait_until(probe, timeout=30, what="ContextForge's tools of Forge Upstream")
        assert registered["slug"] == FORGE_UPSTREAM_SLUG, registered
        yield tools
    finally:
        upstream.stop()


@dataclass
class OursOverForge:
    """Our gateway with ContextForge registered three times (see FORGE_ENDPOINTS)."""

    gateway: h.Gateway
    registrations: dict[str, dict[str, Any]]  # endpoint -> our REST body

    def name(self, endpoint: str, tool: str) -> str:
        """Our name for an upstream tool behind ContextForge: our slug, then ContextForge's."""
        return h.prefixed(self.registrations[endpoint]["slug"], forge_name(FORGE_UPSTREAM_SLUG, tool))

    def expected(self, endpoint: str) -> set[str]:
        originals = VIRTUAL_TOOLS if endpoint == "server-mcp" else h.UPSTREAM_TOOLS
        return {self.name(endpoint, tool) for tool in originals}


@pytest.fixture(scope="module")
def ours_over_forge(
    forge: ContextForge, forge_upstream: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OursOverForge]:
    with forge.rest() as api:
        server = {"name": f"Forge Pair {uuid.uuid4().hex[:6]}", "description": "echo and add",
                  "associated_tools": [forge_upstream[tool]["id"] for tool in VIRTUAL_TOOLS]}
        virtual_id = h.ok_json(api.post("/servers", json={"server": server}), 200, 201)["id"]
    paths = {"mcp": "/mcp", "server-mcp": f"/servers/{virtual_id}/mcp", "sse": "/sse"}
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path_factory.mktemp("ours-over-forge")))
    try:
        registrations = {}
        with h.rest_client(gateway) as api:
            for endpoint, (name, transport) in FORGE_ENDPOINTS.items():
                body = {"name": name, "url": forge.base_url + paths[endpoint], "transport": transport,
                        "auth_type": "bearer", "auth_token": forge.token}
                registrations[endpoint] = h.ok_json(api.post("/gateways", json=body), 200, 201)
        yield OursOverForge(gateway=gateway, registrations=registrations)
    finally:
        gateway.stop()


@dataclass
class ForgeOverOurs:
    """Our gateway (with its own SDK upstream) registered on ContextForge as "Swift Gateway"."""

    gateway: h.Gateway
    registration: dict[str, Any]  # ContextForge's REST body

    @staticmethod
    def name(tool: str) -> str:
        """ContextForge's name for one of our upstream's tools."""
        return forge_name(OURS_ON_FORGE_SLUG, h.prefixed(OUR_UPSTREAM_SLUG, tool))


@pytest.fixture(scope="module")
def forge_over_ours(forge: ContextForge, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeOverOurs]:
    workdir = tmp_path_factory.mktemp("forge-over-ours")
    with h.private_stack(workdir, OUR_UPSTREAM) as stack:
        token = h.mint_token(stack.gateway, "contextforge@example.com")
        with forge.rest() as api:
            body = {"name": OURS_ON_FORGE, "url": stack.gateway.mcp_url, "transport": "STREAMABLEHTTP",
                    "auth_type": "bearer", "auth_token": token}
            registration = h.ok_json(api.post("/gateways", json=body), 200, 201)
        yield ForgeOverOurs(gateway=stack.gateway, registration=registration)


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def text_of(result: Any) -> str:
    assert result.content and isinstance(result.content[0], TextContent), f"unexpected result: {result}"
    return result.content[0].text


def metrics(gateway: h.Gateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10)
    assert resp.status_code == 200, f"GET /metrics -> {resp.status_code}: {resp.text[:500]}"
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def metric(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


# --------------------------------------------------------------------------------------------
# ContextForge as our upstream
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(FORGE_ENDPOINTS))
def test_ours_lists_the_tools_behind_contextforge(ours_over_forge: OursOverForge, endpoint: str) -> None:
    env = ours_over_forge
    registration = env.registrations[endpoint]
    assert registration["reachable"] is True, registration
    prefix = h.prefixed(registration["slug"], FORGE_UPSTREAM_SLUG + "-")

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token) as client:
            tools = {t.name: t for t in await h.list_all(client, "tools") if t.name.startswith(prefix)}
        assert set(tools) == env.expected(endpoint), (
            f"tools behind ContextForge's {endpoint} endpoint, as our gateway lists them: {sorted(tools)}"
        )
        echo = tools[env.name(endpoint, "echo")]
        assert echo.description == "Echo the given text back unchanged.", echo
        assert echo.input_schema["properties"]["text"]["type"] == "string", echo.input_schema
        assert echo.input_schema.get("required") == ["text"], echo.input_schema

    h.run(body)
    # Our REST catalog keeps ContextForge's name of each tool as its originalName.
    with h.rest_client(env.gateway) as api:
        ours = {t["name"]: t for t in h.tools_of(api, registration["id"])}
    echo = ours[env.name(endpoint, "echo")]
    assert echo["originalName"] == forge_name(FORGE_UPSTREAM_SLUG, "echo"), echo


@pytest.mark.parametrize("mode", ["modern", "legacy"])
@pytest.mark.parametrize("endpoint", list(FORGE_ENDPOINTS))
def test_ours_calls_a_tool_behind_contextforge(ours_over_forge: OursOverForge, endpoint: str, mode: str) -> None:
    env = ours_over_forge

    async def body() -> None:
        async with h.connect(env.gateway.mcp_url, token=env.gateway.token, mode=mode) as client:
            echoed = await client.call_tool(env.name(endpoint, "echo"), {"text": ECHO_TEXT})
            assert echoed.is_error is False, echoed
            assert text_of(echoed) == ECHO_TEXT, echoed
            added = await client.call_tool(env.name(endpoint, "add"), {"a": 19, "b": 23})
            assert added.is_error is False, added
            assert added.structured_content == {"sum": 42}, added

    h.run(body)


def test_a_failing_tool_behind_contextforge_is_an_error_result(ours_over_forge: OursOverForge) -> None:
    async def body() -> None:
        async with h.connect(ours_over_forge.gateway.mcp_url, token=ours_over_forge.gateway.token) as client:
            result = await client.call_tool(ours_over_forge.name("mcp", "fail"), {})
            assert result.is_error is True, result
            assert "intentional failure from the upstream" in text_of(result), result

    h.run(body)


def test_ours_refuses_contextforge_without_its_token(forge: ContextForge, ours_over_forge: OursOverForge) -> None:
    name = f"Forge Anonymous {uuid.uuid4().hex[:6]}"
    with h.rest_client(ours_over_forge.gateway) as api:
        body = {"name": name, "url": forge.mcp_url, "transport": "STREAMABLEHTTP"}
        problem = h.assert_problem(api.post("/gateways", json=body), 502)
        assert "401" in problem["detail"], problem
        assert name not in {g["name"] for g in h.list_rest(api, "gateways")}, "a refused registration was stored"


# --------------------------------------------------------------------------------------------
# ContextForge registering our gateway
# --------------------------------------------------------------------------------------------


def test_contextforge_catalogs_our_tools(forge: ContextForge, forge_over_ours: ForgeOverOurs) -> None:
    registration = forge_over_ours.registration
    assert registration["reachable"] is True and registration["slug"] == OURS_ON_FORGE_SLUG, registration
    assert "tools" in registration["capabilities"], registration["capabilities"]
    with forge.rest() as api:
        tools = h.ok_json(api.get("/tools", params={"limit": 0}))
    by_original = {t["originalName"]: t for t in tools if t.get("gatewaySlug") == OURS_ON_FORGE_SLUG}
    # ContextForge keeps our names as originalName and slugifies them into its own.
    assert set(by_original) == {h.prefixed(OUR_UPSTREAM_SLUG, tool) for tool in h.UPSTREAM_TOOLS}, sorted(by_original)
    for tool in h.UPSTREAM_TOOLS:
        assert by_original[h.prefixed(OUR_UPSTREAM_SLUG, tool)]["name"] == forge_over_ours.name(tool)


@pytest.mark.parametrize("mode", ["modern", "legacy"])
def test_a_contextforge_client_lists_and_calls_our_tools(
    forge: ContextForge, forge_over_ours: ForgeOverOurs, mode: str
) -> None:
    gateway = forge_over_ours.gateway
    upstream_label = {"upstream": OUR_UPSTREAM, "outcome": "success"}
    before = metrics(gateway)

    async def body() -> None:
        async with h.connect(forge.mcp_url, token=forge.token, mode=mode) as client:
            tools = {t.name: t for t in await h.list_all(client, "tools")
                     if t.name.startswith(OURS_ON_FORGE_SLUG + "-")}
            assert set(tools) == {forge_over_ours.name(tool) for tool in h.UPSTREAM_TOOLS}, sorted(tools)
            assert tools[forge_over_ours.name("echo")].description == "Echo the given text back unchanged."
            echoed = await client.call_tool(forge_over_ours.name("echo"), {"text": ECHO_TEXT})
            assert echoed.is_error is False, echoed
            assert text_of(echoed) == ECHO_TEXT, echoed
            added = await client.call_tool(forge_over_ours.name("add"), {"a": 40, "b": 2})
            assert added.is_error is False, added
            assert added.structured_content == {"sum": 42}, added

    h.run(body)
    after = metrics(gateway)

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    calls = "mcpgateway_mcp_calls_total"
    # Each client call reached our gateway exactly once, and our upstream answered it.
    assert moved(calls, tool=h.prefixed(OUR_UPSTREAM_SLUG, "echo"), **upstream_label) == 1
    assert moved(calls, tool=h.prefixed(OUR_UPSTREAM_SLUG, "add"), **upstream_label) == 1
    # ContextForge talks to us in the stateless 2026-07-28 era, whatever its client used.
    assert moved("mcpgateway_mcp_requests_total", method="server/discover") >= 1, (
        "ContextForge sent no server/discover: "
        f"{ {dict(ls).get('method'): v for (n, ls), v in after.items() if n == 'mcpgateway_mcp_requests_total'} }"
    )


@pytest.mark.parametrize("credential", ["none", "foreign"])
def test_contextforge_cannot_register_ours_without_our_token(
    forge: ContextForge, forge_over_ours: ForgeOverOurs, credential: str
) -> None:
    name = f"Swift Refused {uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"name": name, "url": forge_over_ours.gateway.mcp_url, "transport": "STREAMABLEHTTP"}
    if credential == "foreign":  # well-formed, but signed with a key our gateway does not have
        _, claims = h.jwt_parts(forge_over_ours.gateway.token)
        body.update(auth_type="bearer", auth_token=h.jwt_encode({"alg": "HS256", "typ": "JWT"}, claims,
                                                                 h.random_secret()))
    with forge.rest() as api:
        resp = api.post("/gateways", json=body)
        assert resp.status_code == 502 and "HTTP 401" in resp.text, (
            f"ContextForge's POST /gateways -> {resp.status_code}: {resp.text[:1000]}"
        )
        names = {g["name"] for g in h.ok_json(api.get("/gateways", params={"limit": 0}))}
    assert name not in names, "ContextForge stored a registration our gateway refused"
