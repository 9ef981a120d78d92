"""Fixtures: the gateway process, its admin token, upstream MCP servers and their registrations.

Everything started here is stopped at teardown (SIGTERM, wait, SIGKILL). Session-scoped
fixtures share one gateway and one upstream per transport across the suite; tests that
change state (disable, delete, duplicate names) start their own upstreams with
`upstream_factory` so they never disturb the shared registrations.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import mcp_helpers as h

PAGE_SIZE = 5  # upstreams paginate every list, so the gateway must follow nextCursor


def _fail_on_start_error(start: Callable[[], Any]) -> Any:
    try:
        return start()
    except RuntimeError as exc:  # a missing binary or a process that would not start: fail loudly
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Gateway]:
    """One `mcpgateway serve` for the session (SQLite in a temp dir), with a minted admin token."""
    workdir = tmp_path_factory.mktemp("gateway")
    gw = _fail_on_start_error(lambda: h.start_gateway(workdir))
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def token(gateway: h.Gateway) -> str:
    return gateway.token


@pytest.fixture(scope="session")
def api(gateway: h.Gateway) -> Iterator[httpx.Client]:
    """An httpx client on the gateway's base URL with the admin bearer token."""
    with h.rest_client(gateway) as client:
        yield client


@pytest.fixture(scope="session")
def anon(gateway: h.Gateway) -> Iterator[httpx.Client]:
    """An httpx client on the gateway's base URL without credentials."""
    with httpx.Client(base_url=gateway.base_url, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="session")
def upstream_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Upstream]:
    logs = tmp_path_factory.mktemp("upstream-http")
    up = _fail_on_start_error(
        lambda: h.start_upstream("streamable-http", log_dir=logs, page_size=PAGE_SIZE, namespace="shared-http")
    )
    yield up
    up.stop()


@pytest.fixture(scope="session")
def upstream_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Upstream]:
    logs = tmp_path_factory.mktemp("upstream-sse")
    up = _fail_on_start_error(
        lambda: h.start_upstream("sse", log_dir=logs, page_size=PAGE_SIZE, namespace="shared-sse")
    )
    yield up
    up.stop()


class Registration:
    """An upstream registered on the gateway: the REST body, its slug, and the upstream."""

    def __init__(self, body: dict[str, Any], upstream: h.Upstream) -> None:
        self.body = body
        self.upstream = upstream
        self.id: str = body["id"]
        self.name: str = body["name"]
        self.slug: str = h.slugify(self.name)

    def tool(self, original: str) -> str:
        return h.prefixed(self.slug, original)


@pytest.fixture(scope="session")
def registered_http(api: httpx.Client, upstream_http: h.Upstream) -> Registration:
    """The streamable-HTTP upstream, registered as "Shared HTTP" (slug shared-http)."""
    return Registration(h.register_gateway(api, "Shared HTTP", upstream_http), upstream_http)


@pytest.fixture(scope="session")
def registered_sse(api: httpx.Client, upstream_sse: h.Upstream) -> Registration:
    """The SSE upstream, registered as "Shared SSE" (slug shared-sse)."""
    return Registration(h.register_gateway(api, "Shared SSE", upstream_sse), upstream_sse)


@pytest.fixture
def upstream_factory(tmp_path: Path) -> Iterator[Callable[..., h.Upstream]]:
    """Start private upstreams for one test (unique resource namespace each); all stopped after it."""
    started: list[h.Upstream] = []

    def start(transport: str = "streamable-http", page_size: int | None = PAGE_SIZE) -> h.Upstream:
        namespace = f"u{uuid.uuid4().hex[:10]}"
        up = _fail_on_start_error(
            lambda: h.start_upstream(transport, log_dir=tmp_path, page_size=page_size, namespace=namespace)
        )
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """A gateway name that is unique in this session, e.g. "Temp 1a2b3c4d"; its slug is predictable."""
    return lambda stem="Temp": f"{stem} {uuid.uuid4().hex[:8]}"


class ProtocolTarget:
    """What the raw-protocol tests talk to: an MCP endpoint, an authorized client, a known tool."""

    def __init__(self, url: str, http: httpx.Client, echo_tool: str) -> None:
        self.url = url
        self.http = http
        self.echo_tool = echo_tool


@pytest.fixture(scope="session")
def protocol_target(gateway: h.Gateway, api: httpx.Client, registered_http: Registration) -> Iterator[ProtocolTarget]:
    """The gateway's /mcp, with the streamable-HTTP upstream registered (so tools exist)."""
    h.wait_for_tools(api, registered_http.id, len(h.UPSTREAM_TOOLS))
    with httpx.Client(headers={"Authorization": f"Bearer {gateway.token}"}, timeout=30.0) as http:
        yield ProtocolTarget(gateway.mcp_url, http, registered_http.tool("echo"))
