"""REST errors: RFC 9457 problem JSON, validation, upstream failures, authentication."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

import mcp_helpers as h

UNKNOWN_ID = "00000000000000000000000000000000"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/gateways/{id}"),
        ("PUT", "/gateways/{id}"),
        ("DELETE", "/gateways/{id}"),
        ("POST", "/gateways/{id}/state?activate=false"),
        ("GET", "/tools/{id}"),
        ("GET", "/servers/{id}"),
        ("PUT", "/servers/{id}"),
        ("DELETE", "/servers/{id}"),
        ("GET", "/v1/gateways/{id}"),
    ],
)
@pytest.mark.parametrize("unknown", [UNKNOWN_ID, "no-such-id"])
def test_unknown_id_is_404(api: httpx.Client, method: str, path: str, unknown: str) -> None:
    body = {"description": "x"} if method == "PUT" else None
    resp = api.request(method, path.format(id=unknown), json=body)
    problem = h.assert_problem(resp, 404)
    assert problem["detail"], problem


@pytest.mark.parametrize("path", ["/gateways", "/servers", "/v1/gateways"])
def test_malformed_json_body_is_400(api: httpx.Client, path: str) -> None:
    resp = api.post(path, content=b'{"name": "half', headers={"Content-Type": "application/json"})
    h.assert_problem(resp, 400)


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("missing url", "url"),
        ("unknown transport", "transport"),
        ("empty name", "name"),
        ("missing name", "name"),
    ],
)
def test_invalid_gateway_fields_are_422(api: httpx.Client, case: str, field: str) -> None:
    # The URL points at a closed port: a gateway that skipped validation and tried to connect
    # would answer with an upstream error, not a 422.
    body = {
        "name": f"Invalid {uuid.uuid4().hex[:8]}",
        "url": f"http://127.0.0.1:{h.closed_port()}/mcp",
        "transport": "STREAMABLEHTTP",
    }
    if case == "missing url":
        del body["url"]
    elif case == "unknown transport":
        body["transport"] = "FOO"
    elif case == "empty name":
        body["name"] = ""
    elif case == "missing name":
        del body["name"]
    problem = h.assert_problem(api.post("/gateways", json=body), 422)
    assert field in problem["detail"], f"422 detail should name {field!r}: {problem}"


def test_virtual_server_without_name_is_422(api: httpx.Client) -> None:
    problem = h.assert_problem(api.post("/servers", json={"server": {"description": "no name"}}), 422)
    assert "name" in problem["detail"], problem


def test_unreachable_upstream_is_an_error_and_not_stored(api: httpx.Client, unique_name) -> None:
    name = unique_name("Unreachable")
    body = {"name": name, "url": f"http://127.0.0.1:{h.closed_port()}/mcp", "transport": "STREAMABLEHTTP"}
    resp = api.post("/gateways", json=body)
    problem = h.assert_problem(resp)
    assert 400 <= resp.status_code < 500 or resp.status_code in (502, 503), problem
    assert name not in {g["name"] for g in h.list_rest(api, "gateways")}


def test_duplicate_gateway_name_is_409(api: httpx.Client, upstream_factory, unique_name) -> None:
    first, second = upstream_factory(), upstream_factory()
    name = unique_name("Twin")
    h.register_gateway(api, name, first)
    resp = api.post("/gateways", json={"name": name, "url": second.url, "transport": second.gateway_transport})
    h.assert_problem(resp, 409)
    assert [g["name"] for g in h.list_rest(api, "gateways")].count(name) == 1


# ---------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------

PROTECTED = ["/gateways", "/tools", "/resources", "/prompts", "/servers", "/version", "/v1/gateways"]


def assert_unauthorized(resp: httpx.Response) -> None:
    h.assert_problem(resp, 401)
    challenge = resp.headers.get("www-authenticate", "")
    assert challenge.lower().startswith("bearer"), f"WWW-Authenticate: {challenge!r}"


@pytest.mark.parametrize("path", PROTECTED)
def test_missing_token_is_401(anon: httpx.Client, path: str) -> None:
    assert_unauthorized(anon.get(path))


def test_mcp_endpoint_requires_token(anon: httpx.Client) -> None:
    resp = anon.post(
        "/mcp",
        json=h.request(
            "initialize", {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}
        ),
        headers={"Accept": h.ACCEPT_BOTH},
    )
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("www-authenticate", "").lower().startswith("bearer")


def _with_token(gateway: h.Gateway, token: str) -> httpx.Response:
    return httpx.get(f"{gateway.base_url}/gateways", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_resigned_token_is_accepted(gateway: h.Gateway) -> None:
    """Control for the crafted-token tests: the real token's claims, re-signed with the real key."""
    header, claims = h.jwt_parts(gateway.token)
    assert header.get("alg") == "HS256", header
    resp = _with_token(gateway, h.jwt_encode(header, claims, gateway.secret))
    assert resp.status_code == 200, resp.text


def test_expired_token_is_401(gateway: h.Gateway) -> None:
    header, claims = h.jwt_parts(gateway.token)
    now = int(time.time())
    claims["exp"] = now - 3600
    if "iat" in claims:
        claims["iat"] = now - 7200
    if "nbf" in claims:
        claims["nbf"] = now - 7200
    assert_unauthorized(_with_token(gateway, h.jwt_encode(header, claims, gateway.secret)))


def test_expired_token_from_pyjwt_is_401(gateway: h.Gateway) -> None:
    import jwt

    _, claims = h.jwt_parts(gateway.token)
    claims["exp"] = int(time.time()) - 60
    claims.pop("iat", None)
    claims.pop("nbf", None)
    assert_unauthorized(_with_token(gateway, jwt.encode(claims, gateway.secret, algorithm="HS256")))


def test_forged_token_is_401(gateway: h.Gateway) -> None:
    header, claims = h.jwt_parts(gateway.token)
    assert_unauthorized(_with_token(gateway, h.jwt_encode(header, claims, h.random_secret())))


def test_alg_none_token_is_401(gateway: h.Gateway) -> None:
    _, claims = h.jwt_parts(gateway.token)
    assert_unauthorized(_with_token(gateway, h.jwt_encode({"alg": "none", "typ": "JWT"}, claims, None)))


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "e30.e30."])
def test_garbage_token_is_401(gateway: h.Gateway, garbage: str) -> None:
    assert_unauthorized(_with_token(gateway, garbage))


def test_bearer_without_token_is_401(gateway: h.Gateway) -> None:
    resp = httpx.get(f"{gateway.base_url}/gateways", headers={"Authorization": "Bearer"}, timeout=30)
    assert_unauthorized(resp)


def test_wrong_scheme_is_401(gateway: h.Gateway) -> None:
    resp = httpx.get(f"{gateway.base_url}/gateways", headers={"Authorization": f"Basic {gateway.token}"}, timeout=30)
    assert_unauthorized(resp)


def test_expired_token_on_mcp_endpoint_is_401(gateway: h.Gateway) -> None:
    header, claims = h.jwt_parts(gateway.token)
    claims["exp"] = int(time.time()) - 3600
    claims.pop("iat", None)
    claims.pop("nbf", None)
    expired = h.jwt_encode(header, claims, gateway.secret)
    resp = httpx.post(
        gateway.mcp_url,
        json=h.request(
            "initialize", {"protocolVersion": h.LEGACY_VERSION, "capabilities": {}, "clientInfo": h.CLIENT_INFO}
        ),
        headers={"Authorization": f"Bearer {expired}", "Accept": h.ACCEPT_BOTH},
        timeout=30,
    )
    assert resp.status_code == 401, resp.text
