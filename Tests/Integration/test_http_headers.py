"""Security headers on every answer, errors included, and no Server header."""

from __future__ import annotations

import httpx
import pytest

import mcp_helpers as h

EXPECTED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def check(resp: httpx.Response, cache: str = "no-store") -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, f"{resp.request.method} {resp.request.url}: {name} = {resp.headers.get(name)!r}"
    assert resp.headers.get("cache-control") == cache, resp.headers
    assert "server" not in resp.headers, "the server does not name itself"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/health", 200), ("/version", 200), ("/gateways", 200), ("/tools/unknown-id", 404), ("/v1/servers", 200)],
)
def test_rest_answers_carry_the_headers(api: httpx.Client, path: str, status: int) -> None:
    resp = api.get(path)
    assert resp.status_code == status
    check(resp)


def test_refusals_carry_the_headers(anon: httpx.Client, api: httpx.Client) -> None:
    unauthorized = anon.get("/gateways")
    assert unauthorized.status_code == 401
    check(unauthorized)
    invalid = api.post("/gateways", content=b"{not json", headers={"Content-Type": "application/json"})
    assert invalid.status_code == 400
    check(invalid)


def test_mcp_answers_carry_the_headers(api: httpx.Client) -> None:
    init = h.request("initialize", {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}, 0)
    resp = api.post("/mcp", json=init, headers={"Accept": "application/json"})
    assert resp.status_code == 200
    check(resp)
    missing = api.post("/mcp", json=h.request("tools/list", None, 1), headers={"Accept": "application/json"})
    assert missing.status_code == 400
    check(missing)
