"""Shared helpers for the gateway's integration tests.

One place for: starting and stopping processes (gateway, upstream MCP servers), the REST
client and its assertions, the official SDK client in each protocol mode, and raw JSON-RPC
over HTTP (JSON or SSE response bodies) for the protocol tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import mcp.client.session as sdk_client_session
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
UPSTREAM_SCRIPT = HERE / "upstream_server.py"

sys.path.insert(0, str(HERE))
import upstream_server  # noqa: E402  (the upstream's own constants: texts, URIs, tool counts)

LOOPBACK = "127.0.0.1"
MODERN_VERSION = "2026-07-28"
LEGACY_VERSION = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
TOOL_SEPARATOR = "-"  # the gateway's default GATEWAY_TOOL_NAME_SEPARATOR

# Names of the upstream's tools: echo, add, fail and the filler tools t01..t12.
UPSTREAM_TOOLS = (
    ["echo", "add", "fail"]
    + upstream_server.RELAY_TOOLS
    + upstream_server.CHANGE_TOOLS
    + upstream_server.CRASH_TOOLS
    + upstream_server.HEADER_TOOLS
    + [f"t{i:02d}" for i in range(1, upstream_server.FILLER_TOOL_COUNT + 1)]
)
UPSTREAM_PROMPTS = ["greet", "hello"]

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections (bound and released, nothing listening)."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex((LOOPBACK, port)) != 0, f"port {port} unexpectedly accepts connections"
    return port


@dataclass
class ManagedProcess:
    """A child process whose stderr (and stdout) go to a log file; stopped with `stop()`."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self, limit: int = 20_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "<no log>"
        return text[-limit:]

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def spawn(name: str, argv: list[str], *, log_dir: Path, env: dict[str, str] | None = None) -> ManagedProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 (the child owns it; closed below for the parent)
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(log_dir),
        )
    finally:
        log_file.close()
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def wait_for_port(proc: ManagedProcess, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} before listening:\n{proc.log()}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError(f"{proc.name} did not listen on {LOOPBACK}:{port} within {timeout}s:\n{proc.log()}")


@contextlib.contextmanager
def loopback_namespace(prefix: str, hosts: str) -> Iterator[tuple[str, Path]]:
    """A network namespace with only loopback (up), whose /etc/hosts is `hosts` for whatever
    `ip netns exec` runs in it; yields (name, path of that hosts file, writable). Needs root."""
    if os.geteuid() != 0:
        raise AssertionError("`ip netns` needs root (CI runs as root)")
    name = f"{prefix}-{os.getpid()}"
    etc = Path("/etc/netns") / name
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(hosts)
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name, etc / "hosts"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(etc, ignore_errors=True)


def or_fail(start: Callable[[], T]) -> T:
    """Run a start-up step; a RuntimeError (missing binary, process that would not start) fails
    the test with its message instead of erroring with a traceback."""
    try:
        return start()
    except RuntimeError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


@dataclass
class Upstream:
    """A running upstream MCP server (upstream_server.py)."""

    transport: str  # "streamable-http" or "sse"
    port: int
    namespace: str | None
    page_size: int | None
    process: ManagedProcess

    @property
    def url(self) -> str:
        path = "/mcp" if self.transport == "streamable-http" else "/sse"
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def gateway_transport(self) -> str:
        """The value of the REST API's `transport` field for this upstream."""
        return "STREAMABLEHTTP" if self.transport == "streamable-http" else "SSE"

    @property
    def uris(self) -> dict[str, str]:
        return upstream_server.resource_uris(self.namespace)

    def stop(self) -> None:
        self.process.stop()


def start_upstream(
    transport: str,
    *,
    log_dir: Path,
    page_size: int | None = None,
    namespace: str | None = None,
    port: int | None = None,
    host: str | None = None,
    hostile: bool = False,
    refuse_initialize: bool = False,
) -> Upstream:
    """Start upstream_server.py on `port` (a free one by default) and wait until it listens.
    With `refuse_initialize`, it stands for an upstream that speaks only 2026-07-28."""
    port = port or free_port()
    argv = [sys.executable, str(UPSTREAM_SCRIPT), "--port", str(port), "--transport", transport]
    if refuse_initialize:
        argv.append("--refuse-initialize")
    if host is not None:
        argv += ["--host", host]
    if hostile:
        argv.append("--hostile")
    if page_size is not None:
        argv += ["--page-size", str(page_size)]
    if namespace is not None:
        argv += ["--namespace", namespace]
    name = f"upstream-{transport}-{namespace or 'default'}-{port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = spawn(name, argv, log_dir=log_dir, env=env)
    wait_for_port(proc, port)
    return Upstream(transport=transport, port=port, namespace=namespace, page_size=page_size, process=proc)


def gateway_binary() -> Path:
    """GATEWAY_BIN, or the debug build at <repo>/.build/debug/mcpgateway."""
    configured = os.environ.get("GATEWAY_BIN")
    return Path(configured) if configured else REPO_ROOT / ".build" / "debug" / "mcpgateway"


def check_gateway_binary() -> Path:
    path = gateway_binary()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"gateway binary not found or not executable: {path}\n"
            "Build it first (swift build) or point GATEWAY_BIN at it."
        )
    return path


@dataclass
class Gateway:
    """A running `mcpgateway serve` process."""

    binary: Path
    port: int
    env: dict[str, str]
    process: ManagedProcess
    workdir: Path
    token: str = ""

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def server_mcp_url(self, server_id: str) -> str:
        return f"{self.base_url}/servers/{server_id}/mcp"

    @property
    def secret(self) -> str:
        return self.env["JWT_SECRET_KEY"]

    def stop(self) -> None:
        self.process.stop()


def random_secret(length: int = 48) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def gateway_env(port: int, workdir: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "GATEWAY_TOOL_NAME_SEPARATOR")}
    env.update(
        HOST=LOOPBACK,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{workdir / 'gw.db'}",  # absolute path: sqlite:////tmp/...
        JWT_SECRET_KEY=secret,
        LOG_LEVEL="info",
        SWIFT_BACKTRACE="enable=no",
        # Upstreams live on loopback; ContextForge's SSRF guard blocks that unless allowed.
        SSRF_ALLOW_LOCALHOST="true",
    )
    return env


def start_gateway(
    workdir: Path, *, ready_timeout: float = 20.0, extra_env: dict[str, str] | None = None, mint: bool = True
) -> Gateway:
    """Starts `mcpgateway serve` and waits for /ready; `mint=False` when the gateway cannot sign
    tokens (a public key only)."""
    binary = check_gateway_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = gateway_env(port, workdir, random_secret())
    env.update(extra_env or {})
    proc = spawn(f"gateway-{port}", [str(binary), "serve"], log_dir=workdir, env=env)
    gateway = Gateway(binary=binary, port=port, env=env, process=proc, workdir=workdir)
    deadline = time.monotonic() + ready_timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.running():
            raise RuntimeError(f"gateway exited with {proc.popen.returncode} during start-up:\n{proc.log()}")
        try:
            resp = httpx.get(f"{gateway.base_url}/ready", timeout=2.0)
            if resp.status_code == 200:
                break
            last = f"HTTP {resp.status_code}: {resp.text[:300]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.1)
    else:
        proc.stop()
        raise RuntimeError(f"gateway not ready within {ready_timeout}s (last: {last}); its stderr:\n{proc.log()}")
    if mint:
        gateway.token = mint_token(gateway)
    return gateway


@dataclass
class Stack:
    """A module's private gateway with one registered upstream, for tests that need special
    settings or change the catalog."""

    gateway: Gateway
    upstream: Upstream
    slug: str

    def tool(self, original: str) -> str:
        return prefixed(self.slug, original)


@contextlib.contextmanager
def private_stack(
    workdir: Path, name: str, *, transport: str = "streamable-http", extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Starts an upstream and a gateway, registers the upstream as `name`, stops both at exit."""
    upstream = or_fail(lambda: start_upstream(transport, log_dir=workdir))
    try:
        gateway = or_fail(lambda: start_gateway(workdir, extra_env=extra_env))
        try:
            with rest_client(gateway) as api:
                registered = register_gateway(api, name, upstream)
                wait_for_tools(api, registered["id"], len(UPSTREAM_TOOLS))
            yield Stack(gateway=gateway, upstream=upstream, slug=slugify(name))
        finally:
            gateway.stop()
    finally:
        upstream.stop()


def mint_token(
    gateway: Gateway,
    username: str = "admin@example.com",
    exp_minutes: int = 60,
    *,
    admin: bool = True,
    server_id: str | None = None,
) -> str:
    """A token from `mcpgateway token` (an operator's token: admin unless `admin=False`)."""
    argv = [str(gateway.binary), "token", "--username", username, "--exp-minutes", str(exp_minutes)]
    if admin:
        argv.append("--admin")
    if server_id is not None:
        argv += ["--server-id", server_id]
    done = subprocess.run(argv, env=gateway.env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"`mcpgateway token` exited with {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    token = done.stdout.decode().strip()
    if token.count(".") != 2 or "\n" in token:
        raise RuntimeError(f"`mcpgateway token` printed something that is not one JWT: {token!r}")
    return token


# --------------------------------------------------------------------------------------------
# REST API
# --------------------------------------------------------------------------------------------


def slugify(name: str) -> str:
    """ContextForge's slug: lower-cased, runs of non-alphanumerics to one '-', ends stripped."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def prefixed(slug: str, name: str) -> str:
    return f"{slug}{TOOL_SEPARATOR}{name}"


class Registration:
    """An upstream registered on the gateway: the REST body, its slug, and the upstream."""

    def __init__(self, body: dict[str, Any], upstream: Upstream) -> None:
        self.body = body
        self.upstream = upstream
        self.id: str = body["id"]
        self.name: str = body["name"]
        self.slug: str = slugify(self.name)

    def tool(self, original: str) -> str:
        return prefixed(self.slug, original)


def rest_client(gateway: Gateway, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or gateway.token}"}
    return httpx.Client(base_url=gateway.base_url, headers=headers, timeout=30.0)


def ok_json(resp: httpx.Response, *statuses: int) -> Any:
    """The response's JSON body, after asserting its status is one of `statuses` (default 200)."""
    expected = statuses or (200,)
    assert resp.status_code in expected, (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} (expected {expected}): {resp.text[:2000]}"
    )
    return resp.json()


def assert_problem(resp: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem response; return its body."""
    if status is not None:
        assert resp.status_code == status, (
            f"{resp.request.method} {resp.request.url} -> {resp.status_code}, expected {status}: {resp.text[:2000]}"
        )
    else:
        assert resp.status_code >= 400, f"expected an error, got {resp.status_code}: {resp.text[:2000]}"
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    assert ctype == "application/problem+json", f"Content-Type {ctype!r}, body {resp.text[:1000]}"
    body = resp.json()
    assert isinstance(body, dict), body
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"problem JSON lacks {key!r}: {body}"
    assert body["status"] == resp.status_code, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str), body
    return body


def register_gateway(api: httpx.Client, name: str, upstream: Upstream, *, prefix: str = "") -> dict[str, Any]:
    body = {"name": name, "url": upstream.url, "transport": upstream.gateway_transport}
    return ok_json(api.post(f"{prefix}/gateways", json=body), 200, 201)


def list_rest(api: httpx.Client, collection: str, *, prefix: str = "") -> list[dict[str, Any]]:
    """GET /<collection>?limit=0 (everything); ContextForge answers with a bare JSON array."""
    body = ok_json(api.get(f"{prefix}/{collection}", params={"limit": 0}))
    assert isinstance(body, list), f"GET /{collection} should return a JSON array, got: {str(body)[:500]}"
    return body


def tools_of(api: httpx.Client, gateway_id: str) -> list[dict[str, Any]]:
    return [tool for tool in list_rest(api, "tools") if tool.get("gatewayId") == gateway_id]


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `probe` until it returns a truthy value; return that value or fail with the last one."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = probe()
    assert value, f"timed out after {timeout}s waiting for {what} (last value: {value!r})"
    return value


def wait_for_tools(api: httpx.Client, gateway_id: str, count: int) -> list[dict[str, Any]]:
    """The REST tools of one registered gateway, once all `count` have been discovered."""

    def probe() -> list[dict[str, Any]] | None:
        tools = tools_of(api, gateway_id)
        return tools if len(tools) >= count else None

    return wait_until(probe, what=f"{count} tools of gateway {gateway_id}")


# --------------------------------------------------------------------------------------------
# JWTs crafted by hand (HS256), for the auth tests
# --------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, without verifying it."""
    header, payload, _ = token.split(".")
    return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(payload))


def jwt_encode(header: dict[str, Any], claims: dict[str, Any], key: str | None) -> str:
    """Sign with HMAC-SHA256 (`key`), or leave the signature empty when `key` is None (alg none)."""
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    digest = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(digest)}"


# --------------------------------------------------------------------------------------------
# The official SDK client, in each protocol mode
# --------------------------------------------------------------------------------------------

# mode name -> (mcp.Client mode, handshake version to offer or None, version that must be negotiated)
CLIENT_MODES: dict[str, tuple[str, str | None, str]] = {
    "modern": ("auto", None, MODERN_VERSION),  # SDK default: server/discover, stateless 2026-07-28
    "legacy": ("legacy", None, LEGACY_VERSION),  # initialize handshake + Mcp-Session-Id
    "2025-06-18": ("legacy", "2025-06-18", "2025-06-18"),
    "2025-03-26": ("legacy", "2025-03-26", "2025-03-26"),
}
HANDSHAKE_MODES = [name for name, (mode, _, _) in CLIENT_MODES.items() if mode == "legacy"]


@contextlib.contextmanager
def offered_handshake_version(version: str | None) -> Iterator[None]:
    """Make the SDK's `initialize` offer `version`.

    `ClientSession.initialize` reads the module global `mcp.client.session.LATEST_HANDSHAKE_VERSION`
    when it builds the request, so patching it (and restoring it afterwards) is enough.
    """
    if version is None:
        yield
        return
    saved = sdk_client_session.LATEST_HANDSHAKE_VERSION
    sdk_client_session.LATEST_HANDSHAKE_VERSION = version  # type: ignore[misc]
    try:
        yield
    finally:
        sdk_client_session.LATEST_HANDSHAKE_VERSION = saved  # type: ignore[misc]


@contextlib.asynccontextmanager
async def connect(
    url: str,
    *,
    token: str | None = None,
    mode: str = "modern",
    transport: str = "streamable-http",
    **client_options: Any,
) -> AsyncIterator[Client]:
    """An entered `mcp.Client` on `url`, negotiated as CLIENT_MODES[mode] says (asserted).

    `transport` is "streamable-http" (POST/GET/DELETE on one URL) or "sse" (the legacy
    GET /sse + POST endpoint pair; only with handshake modes). `client_options` go to
    `mcp.Client` (callbacks for sampling, elicitation, logging; `log_level`).
    """
    sdk_mode, offered, expected = CLIENT_MODES[mode]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with offered_handshake_version(offered):
        async with contextlib.AsyncExitStack() as stack:
            if transport == "sse":
                sdk_transport = sse_client(url, headers=headers, timeout=30.0, sse_read_timeout=60.0)
            else:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0))
                )
                sdk_transport = streamable_http_client(url, http_client=http)
            client = await stack.enter_async_context(
                Client(sdk_transport, mode=sdk_mode, cache=None, **client_options)
            )
            assert client.protocol_version == expected, (
                f"mode {mode!r} negotiated {client.protocol_version!r}, expected {expected!r}"
            )
            yield client


async def list_all(client: Client, kind: str) -> list[Any]:
    """Every item of a paginated list method, following nextCursor (kind: tools, resources,
    resource_templates, prompts)."""
    method = {
        "tools": (client.list_tools, "tools"),
        "resources": (client.list_resources, "resources"),
        "resource_templates": (client.list_resource_templates, "resource_templates"),
        "prompts": (client.list_prompts, "prompts"),
    }[kind]
    fetch, attribute = method
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(100):
        page = await fetch(cursor=cursor)
        items.extend(getattr(page, attribute))
        cursor = page.next_cursor
        if cursor is None:
            return items
        assert cursor not in seen, f"{kind}/list returned the cursor {cursor!r} twice"
        seen.add(cursor)
    raise AssertionError(f"{kind}/list did not finish within 100 pages")


def run(async_fn: Callable[..., Any], *args: Any) -> Any:
    """Run an async test body to completion (no asyncio plugin needed)."""
    return anyio.run(async_fn, *args)


# --------------------------------------------------------------------------------------------
# Raw JSON-RPC over HTTP
# --------------------------------------------------------------------------------------------


@dataclass
class RpcReply:
    """One HTTP exchange: status, headers and the JSON-RPC messages found in the body."""

    status: int
    headers: httpx.Headers
    content_type: str
    messages: list[Any] = field(default_factory=list)
    raw: bytes = b""

    def response(self, request_id: Any = None) -> dict[str, Any]:
        """The JSON-RPC response (result or error) in the body, for `request_id` if given."""
        found = [
            m
            for m in self.messages
            if isinstance(m, dict)
            and ("result" in m or "error" in m)
            and (request_id is None or m.get("id") == request_id)
        ]
        assert found, f"no JSON-RPC response (id={request_id!r}) in HTTP {self.status} body: {self.raw[:2000]!r}"
        return found[-1]

    def error_code(self, request_id: Any = None) -> int:
        message = self.response(request_id)
        assert "error" in message, f"expected a JSON-RPC error, got: {message}"
        return message["error"]["code"]


def iter_sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The `data` payloads of an SSE stream, one per event (multi-line data joined with '\\n')."""
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
    if data:
        yield "\n".join(data)


def parse_body(content_type: str, raw: bytes) -> list[Any]:
    """JSON-RPC messages in a response body: a JSON object/array, or SSE `data:` events."""
    if content_type == "text/event-stream":
        return [json.loads(d) for d in iter_sse_data(iter(raw.decode().split("\n"))) if d.strip()]
    if content_type in ("application/json", "application/problem+json") and raw.strip():
        body = json.loads(raw)
        return body if isinstance(body, list) else [body]
    return []


def rpc(
    http: httpx.Client,
    url: str,
    payload: Any,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> RpcReply:
    """POST one JSON-RPC payload (or raw `content`) and collect the reply.

    An SSE reply is read only until the response to the request's id has arrived, so a server
    that keeps the stream open cannot hang the test.
    """
    all_headers = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
    all_headers.update(headers or {})
    body = content if content is not None else json.dumps(payload).encode()
    wanted_id = payload.get("id") if isinstance(payload, dict) else None
    with http.stream("POST", url, content=body, headers=all_headers) as resp:
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "text/event-stream":
            raw = resp.read()
            return RpcReply(resp.status_code, resp.headers, ctype, parse_body(ctype, raw), raw)
        messages: list[Any] = []
        raw_lines: list[str] = []

        def lines() -> Iterator[str]:
            for line in resp.iter_lines():
                raw_lines.append(line)
                yield line

        for data in iter_sse_data(lines()):
            if not data.strip():
                continue
            message = json.loads(data)
            messages.append(message)
            if isinstance(message, dict) and ("result" in message or "error" in message):
                if wanted_id is None or message.get("id") == wanted_id:
                    break
        return RpcReply(resp.status_code, resp.headers, ctype, messages, "\n".join(raw_lines).encode())


def request(method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


CLIENT_INFO = {"name": "gateway-integration-tests", "version": "1.0.0"}

# The parameter that names the target, mirrored in the Mcp-Name header (2026-07-28).
NAME_BEARING = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def modern_request(
    method: str, params: dict[str, Any] | None = None, request_id: Any = 1, version: str = MODERN_VERSION
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 2026-07-28 request (per-request `_meta` envelope) and the HTTP headers that go with it."""
    body_params = dict(params or {})
    body_params["_meta"] = {
        PROTOCOL_VERSION_META_KEY: version,
        CLIENT_CAPABILITIES_META_KEY: {},
        CLIENT_INFO_META_KEY: CLIENT_INFO,
    }
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    name_key = NAME_BEARING.get(method)
    if name_key is not None and isinstance(body_params.get(name_key), str):
        headers["Mcp-Name"] = body_params[name_key]
    return request(method, body_params, request_id), headers


class ProtocolTarget:
    """What the raw-protocol tests talk to: an MCP endpoint, an authorized client, a known tool."""

    def __init__(self, url: str, http: httpx.Client, echo_tool: str) -> None:
        self.url = url
        self.http = http
        self.echo_tool = echo_tool


def legacy_initialize(
    http: httpx.Client, url: str, *, version: str = LEGACY_VERSION, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Run the initialize handshake; return (Mcp-Session-Id, InitializeResult)."""
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": CLIENT_INFO}
    reply = rpc(http, url, request("initialize", params, request_id=0), headers=headers)
    assert reply.status == 200, f"initialize -> HTTP {reply.status}: {reply.raw[:2000]!r}"
    result = reply.response(0)
    assert "result" in result, f"initialize failed: {result}"
    session_id = reply.headers.get("mcp-session-id")
    assert session_id, f"initialize response has no Mcp-Session-Id header: {dict(reply.headers)}"
    session_headers = dict(headers or {}, **{"Mcp-Session-Id": session_id, "MCP-Protocol-Version": version})
    ack = rpc(http, url, notification("notifications/initialized"), headers=session_headers)
    assert ack.status == 202, f"notifications/initialized -> HTTP {ack.status}: {ack.raw[:1000]!r}"
    return session_id, result["result"]


def tool_names_via_mcp(url: str, token: str, mode: str = "modern") -> set[str]:
    """The names in a full MCP tools/list on `url`, through the official SDK client."""

    async def body() -> set[str]:
        async with connect(url, token=token, mode=mode) as client:
            return {tool.name for tool in await list_all(client, "tools")}

    return run(body)


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_exceptions(inner)]
    return [exc]
