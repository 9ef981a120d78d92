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

import httpx
import pytest

import mcp_helpers as h

PAGE_SIZE = 5  # upstreams paginate every list, so the gateway must follow nextCursor


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Gateway]:
    """One `mcpgateway serve` for the session (SQLite in a temp dir), with a minted admin token."""
    workdir = tmp_path_factory.mktemp("gateway")
    gw = h.or_fail(lambda: h.start_gateway(workdir))
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
    up = h.or_fail(
        lambda: h.start_upstream("streamable-http", log_dir=logs, page_size=PAGE_SIZE, namespace="shared-http")
    )
    yield up
    up.stop()


@pytest.fixture(scope="session")
def upstream_sse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Upstream]:
    logs = tmp_path_factory.mktemp("upstream-sse")
    up = h.or_fail(lambda: h.start_upstream("sse", log_dir=logs, page_size=PAGE_SIZE, namespace="shared-sse"))
    yield up
    up.stop()


@pytest.fixture(scope="session")
def registered_http(api: httpx.Client, upstream_http: h.Upstream) -> h.Registration:
    """The streamable-HTTP upstream, registered as "Shared HTTP" (slug shared-http)."""
    return h.Registration(h.register_gateway(api, "Shared HTTP", upstream_http), upstream_http)


@pytest.fixture(scope="session")
def registered_sse(api: httpx.Client, upstream_sse: h.Upstream) -> h.Registration:
    """The SSE upstream, registered as "Shared SSE" (slug shared-sse)."""
    return h.Registration(h.register_gateway(api, "Shared SSE", upstream_sse), upstream_sse)


@pytest.fixture
def upstream_factory(tmp_path: Path) -> Iterator[Callable[..., h.Upstream]]:
    """Start private upstreams for one test (unique resource namespace each); all stopped after it."""
    started: list[h.Upstream] = []

    def start(transport: str = "streamable-http", page_size: int | None = PAGE_SIZE) -> h.Upstream:
        namespace = f"u{uuid.uuid4().hex[:10]}"
        up = h.or_fail(lambda: h.start_upstream(transport, log_dir=tmp_path, page_size=page_size, namespace=namespace))
        started.append(up)
        return up

    yield start
    for up in started:
        up.stop()


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """A gateway name that is unique in this session, e.g. "Temp 1a2b3c4d"; its slug is predictable."""
    return lambda stem="Temp": f"{stem} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def protocol_target(
    gateway: h.Gateway, api: httpx.Client, registered_http: h.Registration
) -> Iterator[h.ProtocolTarget]:
    """The gateway's /mcp, with the streamable-HTTP upstream registered (so tools exist)."""
    h.wait_for_tools(api, registered_http.id, len(h.UPSTREAM_TOOLS))
    with httpx.Client(headers={"Authorization": f"Bearer {gateway.token}"}, timeout=30.0) as http:
        yield h.ProtocolTarget(gateway.mcp_url, http, registered_http.tool("echo"))


@pytest.fixture(scope="session")
def postgres() -> Iterator["postgres_server.PostgresServer"]:
    """A throwaway PostgreSQL 15 on loopback for the session; tests take a fresh database each
    with `postgres.create_database()`."""
    import postgres_server

    server = h.or_fail(postgres_server.start_postgres)
    yield server
    server.remove()
