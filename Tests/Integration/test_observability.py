"""Observability: `GET /metrics` in the Prometheus text format (parsed with the official
prometheus_client parser) moves with real traffic and is guarded like the admin API; log lines
are JSON with the keys a log pipeline joins on, and never carry a token or secret."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import mcp_helpers as h

REPO = Path(__file__).resolve().parents[2]
SCRAPE_TOKEN = secrets.token_hex(24)
ENCRYPTION_SECRET = secrets.token_hex(24)
UPSTREAM_CREDENTIAL = "upstream-" + secrets.token_hex(16)
ENV = {
    "METRICS_BEARER_TOKEN": SCRAPE_TOKEN,
    "AUTH_ENCRYPTION_SECRET": ENCRYPTION_SECRET,
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "debug",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("observability"), "Observed", extra_env=ENV) as stack:
        yield stack


def scrape(gateway: h.Gateway, token: str) -> Samples:
    resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4"), resp.headers
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def call_tools(stack: h.Stack, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def body() -> list[Any]:
        results = []
        async with h.connect(stack.gateway.mcp_url, token=stack.gateway.token, mode="legacy") as client:
            for name, arguments in calls:
                try:
                    results.append(await client.call_tool(name, arguments))
                except Exception as exc:  # an unknown tool is a JSON-RPC error
                    results.append(exc)
        return results

    return h.run(body)


def test_metrics_move_with_traffic(stack: h.Stack) -> None:
    gateway = stack.gateway
    echo, fail = stack.tool("echo"), stack.tool("fail")
    before = scrape(gateway, SCRAPE_TOKEN)
    results = call_tools(
        stack, [(echo, {"text": "one"}), (echo, {"text": "two"}), (echo, {"text": "three"}), (fail, {}),
                ("no-such-tool", {})]
    )
    assert results[3].is_error, results[3]
    with h.rest_client(gateway) as api:
        assert api.get("/gateways").status_code == 200
    assert httpx.get(f"{gateway.base_url}/gateways", timeout=10).status_code == 401
    after = scrape(gateway, SCRAPE_TOKEN)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    calls = "mcpgateway_mcp_calls_total"
    assert moved(calls, tool=echo, upstream="Observed", outcome="success") == 3
    assert moved(calls, tool=fail, upstream="Observed", outcome="tool_error") == 1
    # A name outside the catalog is counted, but never becomes a label value.
    assert moved(calls, tool="unknown", upstream="unknown", outcome="error") == 1
    assert not any(n == calls and ("tool", "no-such-tool") in ls for n, ls in after)
    assert moved("mcpgateway_mcp_call_duration_seconds_count", tool=echo, outcome="success") == 3
    assert moved("mcpgateway_mcp_call_duration_seconds_sum", tool=echo) > 0
    assert moved("mcpgateway_mcp_requests_total", method="tools/call") == 5
    assert moved("mcpgateway_mcp_requests_total", method="initialize") >= 1

    assert moved("mcpgateway_http_requests_total", route="/mcp", method="POST", status="200") >= 6
    assert moved("mcpgateway_http_requests_total", route="/gateways", method="GET", status="200") == 1
    assert moved("mcpgateway_http_requests_total", route="/gateways", method="GET", status="401") == 1
    assert moved("mcpgateway_http_request_duration_seconds_count", route="/mcp", method="POST") >= 6

    assert value(after, "mcpgateway_upstream_up", upstream="Observed") == 1
    assert value(after, "mcpgateway_leader") == 1 and value(after, "mcpgateway_leader_epoch") >= 1
    assert value(after, "mcpgateway_cluster_nodes") == 1
    assert value(after, "mcpgateway_db_pool_size") == 1
    # The catalog was loaded at start and again after the upstream was registered.
    assert value(after, "mcpgateway_db_operation_duration_seconds_count", backend="sqlite",
                 operation="loadCatalog") >= 2
    assert value(after, "mcpgateway_build_info") == 1
    assert "mcpgateway_sessions_open" in {n for n, _ in after}


def test_every_exported_metric_is_documented(stack: h.Stack) -> None:
    """The names and labels the dashboard and README rely on (Tools/deploy/metrics.txt) are the
    ones exported."""
    documented: dict[str, set[str]] = {}
    for line in (REPO / "Tools/deploy/metrics.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _kind, labels = line.split()
            # prometheus_client names a counter's family without its _total suffix.
            documented[name.removesuffix("_total")] = set() if labels == "-" else set(labels.split(","))
    resp = httpx.get(f"{stack.gateway.base_url}/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"},
                     timeout=10)
    families = [f for f in text_string_to_metric_families(resp.text) if f.name.startswith("mcpgateway_")]
    assert len(families) >= 15
    for family in families:
        assert family.name in documented, family.name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == documented[family.name], (family.name, sample.labels)


def test_metrics_need_an_admin_token_or_the_scrape_token(stack: h.Stack) -> None:
    gateway = stack.gateway
    url = f"{gateway.base_url}/metrics"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer " + "x" * 48}, timeout=10).status_code == 401
    user = h.mint_token(gateway, "reader@example.com", admin=False)
    h.assert_problem(httpx.get(url, headers={"Authorization": f"Bearer {user}"}, timeout=10), 403)
    assert httpx.get(url, headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10).status_code == 200
    # The scrape token opens /metrics and nothing else.
    for path in ["/gateways", "/tools", "/version", "/v1/metrics"]:
        resp = httpx.get(f"{gateway.base_url}{path}", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}, timeout=10)
        assert resp.status_code == 401, (path, resp.status_code)


def test_the_scrape_token_works_with_authentication_off(tmp_path: Path) -> None:
    token = secrets.token_hex(24)
    gateway = h.start_gateway(tmp_path, extra_env={"AUTH_REQUIRED": "false", "METRICS_BEARER_TOKEN": token})
    try:
        url = f"{gateway.base_url}/metrics"
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 200
        assert httpx.get(url, timeout=10).status_code == 403
    finally:
        gateway.stop()


def test_series_of_a_deleted_upstream_leave_the_metrics(tmp_path: Path) -> None:
    with h.private_stack(tmp_path, "Fleeting", extra_env={"METRICS_BEARER_TOKEN": SCRAPE_TOKEN}) as stack:
        call_tools(stack, [(stack.tool("echo"), {"text": "x"})])
        before = scrape(stack.gateway, SCRAPE_TOKEN)
        assert value(before, "mcpgateway_mcp_calls_total", upstream="Fleeting") == 1
        assert value(before, "mcpgateway_upstream_up", upstream="Fleeting") == 1
        with h.rest_client(stack.gateway) as api:
            [gateway] = h.list_rest(api, "gateways")
            assert api.delete(f"/gateways/{gateway['id']}").status_code in (200, 204)
        after = scrape(stack.gateway, SCRAPE_TOKEN)
        assert not [key for key in after if ("upstream", "Fleeting") in key[1]], after


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    gateway = h.start_gateway(tmp_path, extra_env={"METRICS_ENABLED": "false"})
    try:
        resp = httpx.get(f"{gateway.base_url}/metrics", headers={"Authorization": f"Bearer {gateway.token}"},
                         timeout=10)
        assert resp.status_code == 404
    finally:
        gateway.stop()


@pytest.mark.parametrize("env, message", [
    ({"METRICS_BEARER_TOKEN": "short"}, "METRICS_BEARER_TOKEN must be at least 32"),
    ({"METRICS_ENABLED": "maybe"}, "METRICS_ENABLED must be true or false"),
    ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json or text"),
])
def test_bad_observability_settings_stop_start_up(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(RuntimeError) as failure:
        h.start_gateway(tmp_path, extra_env=env, ready_timeout=10)
    assert message in str(failure.value)


def test_logs_are_json_with_request_session_and_node_ids_and_no_secrets(stack: h.Stack) -> None:
    gateway = stack.gateway
    with h.rest_client(gateway) as api:
        # An upstream with a credential, so a secret passes through registration and calls.
        upstream = h.ok_json(api.post("/gateways", json={
            "name": "Guarded", "url": stack.upstream.url, "transport": stack.upstream.gateway_transport,
            "auth_type": "bearer", "auth_token": UPSTREAM_CREDENTIAL}), 200, 201)
        h.wait_for_tools(api, upstream["id"], len(h.UPSTREAM_TOOLS))
    # A refused token, with the client's own request id.
    bad_token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0." + secrets.token_hex(16)  # pragma: allowlist secret
    resp = httpx.get(f"{gateway.base_url}/gateways", timeout=10,
                     headers={"Authorization": f"Bearer {bad_token}", "X-Request-Id": "req-observability-1"})
    assert resp.status_code == 401 and resp.headers["x-request-id"] == "req-observability-1"
    # A request id that is not a plain token is replaced, not logged.
    resp = httpx.get(f"{gateway.base_url}/gateways", timeout=10,
                     headers={"Authorization": f"Bearer {gateway.token}", "X-Request-Id": "bad id\twith spaces"})
    assert resp.status_code == 200 and resp.headers["x-request-id"] not in ("", "bad id\twith spaces")
    # A stateful session whose requests log at debug level.
    session_ids: list[str] = []
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {gateway.token}"}) as http:
        init = h.rpc(http, gateway.mcp_url, h.request("initialize", {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))
        session = init.headers["mcp-session-id"]
        session_ids.append(session)
        headers = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        h.rpc(http, gateway.mcp_url, h.notification("notifications/initialized"), headers=headers)
        reply = h.rpc(http, gateway.mcp_url, h.request("tools/call", {
            "name": h.prefixed("guarded", "echo"), "arguments": {"text": "hi"}}, 2), headers=headers)
        assert "result" in reply.response(2), reply.raw

    lines = [line for line in gateway.process.log(5_000_000).splitlines() if line.strip()]
    assert len(lines) > 10
    records = []
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"timestamp", "level", "logger", "message", "node_id"} <= record.keys(), record
        records.append(record)
    assert len({r["node_id"] for r in records}) == 1
    refused = [r for r in records if r.get("request_id") == "req-observability-1"]
    assert any(r["message"] == "authentication failed" for r in refused), refused
    hashed = {r["session_hash"] for r in records if "session_hash" in r}
    assert hashed and all(len(value) == 16 for value in hashed), hashed

    text = "\n".join(lines)
    for secret in [gateway.token, bad_token, gateway.secret, SCRAPE_TOKEN, ENCRYPTION_SECRET, UPSTREAM_CREDENTIAL,
                   *session_ids]:
        assert secret not in text


def upstream_trace_headers(stack: h.Stack, headers: dict[str, str]) -> dict[str, str]:
    """The trace context headers the upstream saw on a forwarded call (its `headers` tool)."""
    message, protocol = h.modern_request("tools/call", {"name": stack.tool("headers"), "arguments": {}})
    resp = httpx.post(stack.gateway.mcp_url, json=message, timeout=30, headers={
        "Authorization": f"Bearer {stack.gateway.token}", "Accept": h.ACCEPT_BOTH, **protocol, **headers})
    for item in h.parse_body(resp.headers.get("content-type", ""), resp.content):
        if isinstance(item, dict) and item.get("id") == message["id"]:
            seen = json.loads(item["result"]["content"][0]["text"])
            return {k: v for k, v in seen.items() if k in ("traceparent", "tracestate")}
    raise AssertionError(f"no response: {resp.status_code} {resp.text[:300]}")


def test_w3c_trace_context_reaches_the_upstream(stack: h.Stack) -> None:
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    seen = upstream_trace_headers(stack, {
        "traceparent": f"00-{trace_id}-{client_span}-01", "tracestate": "vendor=opaque",
        "X-Request-Id": "req-traced-1"})
    version, seen_trace, parent, flags = seen["traceparent"].split("-")
    # The same trace and sampling decision; the parent is the gateway's own span, not the client's.
    assert (version, seen_trace, flags) == ("00", trace_id, "01"), seen
    assert len(parent) == 16 and parent != client_span and parent != "0" * 16, seen
    assert seen.get("tracestate") == "vendor=opaque", seen
    # Two calls of one trace get different gateway spans.
    again = upstream_trace_headers(stack, {"traceparent": f"00-{trace_id}-{client_span}-01"})
    assert again["traceparent"].split("-")[1] == trace_id and again["traceparent"] != seen["traceparent"]

    # No traceparent: nothing is propagated. A malformed one: a new trace, not sampled.
    assert upstream_trace_headers(stack, {}) == {}
    fresh = upstream_trace_headers(stack, {"traceparent": "00-not-a-trace-01"})["traceparent"].split("-")
    assert fresh[0] == "00" and len(fresh[1]) == 32 and fresh[1] != "0" * 32 and fresh[3] == "00", fresh

    # The request's log lines carry the trace id.
    records = [json.loads(line) for line in stack.gateway.process.log(5_000_000).splitlines() if line.strip()]
    traced = [r for r in records if r.get("request_id") == "req-traced-1"]
    assert traced and all(r.get("trace_id") == trace_id for r in traced), traced
