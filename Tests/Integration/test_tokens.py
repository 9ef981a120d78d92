"""Token lifecycle: API tokens created, listed and revoked through /tokens (a revoked token is
refused on the next request, also after a restart), tokens scoped to one virtual server, the
claims every token must carry (exp, iat, jti, iss, aud), and RS256 with a public key file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("tokens"), "Token Upstream") as stack:
        yield stack


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(gateway: h.Gateway, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{gateway.base_url}{path}", headers=bearer(token), timeout=30)


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    created = h.ok_json(api.post("/tokens", json=body), 201)
    assert created["access_token"].count(".") == 2
    assert created["token"]["is_active"] is True
    return created


def token_names(api: httpx.Client) -> list[str]:
    return [token["name"] for token in h.ok_json(api.get("/tokens"), 200)["tokens"]]


def test_created_token_works_is_listed_without_its_secret_and_is_refused_once_revoked(stack: h.Stack) -> None:
    gateway = stack.gateway
    # A minted token expires no later than the one minting it: mint with one that lives longer.
    with h.rest_client(gateway, h.mint_token(gateway, exp_minutes=8 * 24 * 60)) as api:
        created = create(api, name="ci agent", description="for CI", expires_in_days=7)
        record, secret = created["token"], created["access_token"]
        assert record["user_email"] == "admin@example.com" and record["server_id"] is None
        _, claims = h.jwt_parts(secret)
        assert claims["jti"] == record["id"] and claims["exp"] - claims["iat"] == 7 * 86400
        assert "is_admin" not in claims  # tokens made through the API never grant the admin API
        resp = api.post("/tokens", json={"name": "no-store check"})
        assert resp.headers["cache-control"] == "no-store"

        assert get(gateway, "/tools", secret).status_code == 200
        listing = api.get("/tokens")
        assert secret not in listing.text and record["id"] in listing.text

        assert api.delete(f"/tokens/{record['id']}").status_code == 204
        refused = get(gateway, "/tools", secret)
        assert refused.status_code == 401, refused.text
        assert "revoked" in refused.json()["detail"]
        listed = {t["id"]: t for t in h.ok_json(api.get("/tokens"), 200)["tokens"]}
        assert listed[record["id"]]["is_active"] is False and listed[record["id"]]["revoked_at"]
        # Revoking again changes nothing and still answers 204; an unknown id is 404.
        assert api.delete(f"/tokens/{record['id']}").status_code == 204
        h.assert_problem(api.delete("/tokens/no-such-token"), 404)
        # The name is free again once its token is revoked.
        create(api, name="ci agent")


def test_revocation_survives_a_restart(tmp_path: Path) -> None:
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path))
    try:
        with h.rest_client(gateway) as api:
            created = create(api, name="short lived")
            assert api.delete(f"/tokens/{created['token']['id']}").status_code == 204
    finally:
        gateway.stop()
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path))
    try:
        assert get(gateway, "/tools", created["access_token"]).status_code == 401
        assert get(gateway, "/tools", gateway.token).status_code == 200
    finally:
        gateway.stop()


def test_a_user_cannot_see_or_revoke_another_users_tokens(stack: h.Stack) -> None:
    gateway = stack.gateway
    other = h.mint_token(gateway, "bob@example.com", admin=False)
    with h.rest_client(gateway) as api, h.rest_client(gateway, token=other) as bob:
        mine = create(api, name="alice only")
        assert "alice only" not in token_names(bob)
        h.assert_problem(bob.delete(f"/tokens/{mine['token']['id']}"), 404)
        assert get(gateway, "/tools", mine["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 42}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 100000}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "7"}, "expires_in_days"),
        ({"name": "ok", "description": "d" * 8193}, "description"),
        ({"name": "ok", "scope": {"server_id": "no-such-server"}}, "scope.server_id"),
        ({"name": "ok", "scope": {"permissions": ["tools.execute"]}}, "scope.permissions"),
        ({"name": "ok", "scope": {"teams": []}}, "scope.teams"),
        ({"name": "ok", "scope": "all"}, "scope"),
        ({"name": "ok", "admin": True}, "admin"),
    ],
)
def test_bad_token_requests_are_422_and_create_nothing(stack: h.Stack, body: dict[str, Any], field: str) -> None:
    with h.rest_client(stack.gateway) as api:
        before = token_names(api)
        problem = h.assert_problem(api.post("/tokens", json=body), 422)
        assert problem["field"] == field, problem
        assert token_names(api) == before


def test_malformed_and_duplicate_token_requests(stack: h.Stack) -> None:
    with h.rest_client(stack.gateway) as api:
        h.assert_problem(api.post("/tokens", content=b"{not json", headers={"content-type": "application/json"}), 400)
        create(api, name="twice")
        before = token_names(api)
        h.assert_problem(api.post("/tokens", json={"name": "twice"}), 409)
        assert token_names(api) == before


def test_scoped_token_reaches_only_its_servers_mcp_endpoint(stack: h.Stack) -> None:
    gateway = stack.gateway
    with h.rest_client(gateway) as api:
        tools = [t["id"] for t in h.list_rest(api, "tools") if t["gatewaySlug"] == stack.slug]
        server = h.ok_json(api.post("/servers", json={"name": "scoped srv", "associatedTools": tools[:2]}), 201)
        other = h.ok_json(api.post("/servers", json={"name": "other srv", "associatedTools": tools[:1]}), 201)
        scoped = create(api, name="scoped", scope={"server_id": server["id"]})
        assert scoped["token"]["server_id"] == server["id"]
    token = scoped["access_token"]

    async def list_tools(url: str) -> list[str]:
        async with h.connect(url, token=token, mode="modern") as client:
            return [tool.name for tool in (await client.list_tools()).tools]

    assert len(h.run(list_tools, gateway.server_mcp_url(server["id"]))) == 2
    for path in ["/tools", "/gateways", "/tokens", f"/servers/{server['id']}", f"/servers/{server['id']}/tools"]:
        resp = get(gateway, path, token)
        assert resp.status_code == 403, (path, resp.text)
    for url in [gateway.mcp_url, gateway.server_mcp_url(other["id"])]:
        resp = httpx.post(url, headers={**bearer(token), "Accept": h.ACCEPT_BOTH}, json=h.request("tools/list"), timeout=30)
        assert resp.status_code == 403, (url, resp.text)


def claims_variant(gateway: h.Gateway, **changes: Any) -> str:
    header, claims = h.jwt_parts(gateway.token)
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return h.jwt_encode(header, claims, gateway.secret)


@pytest.mark.parametrize(
    "changes",
    [
        {"jti": None},
        {"iat": None},
        {"exp": None},
        {"iat": int(time.time()) + 3600},
        {"aud": "another-api"},
        {"aud": None},
        {"iss": "someone-else"},
        {"iss": None},
    ],
    ids=["no-jti", "no-iat", "no-exp", "iat-in-future", "wrong-aud", "no-aud", "wrong-iss", "no-iss"],
)
def test_tokens_missing_or_with_wrong_claims_are_401(stack: h.Stack, changes: dict[str, Any]) -> None:
    assert get(stack.gateway, "/tools", claims_variant(stack.gateway)).status_code == 200  # control
    assert get(stack.gateway, "/tools", claims_variant(stack.gateway, **changes)).status_code == 401


def test_rs256_with_a_public_key_file(tmp_path: Path) -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "jwt.pub").write_bytes(public_pem)
    env = {"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": str(tmp_path / "jwt.pub")}
    started = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env=env, mint=False))
    try:
        now = int(time.time())
        claims = {"sub": "idp-user", "iat": now, "exp": now + 600, "jti": "rs-1", "iss": "mcpgateway",
                  "aud": "mcpgateway-api"}
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        good = jwt.encode(claims, private_pem, algorithm="RS256")
        assert get(started, "/tools", good).status_code == 200
        # HS/RS confusion: an HS256 token whose secret is the public key must be refused.
        confused = h.jwt_encode({"alg": "HS256", "typ": "JWT"}, claims, public_pem.decode())
        assert get(started, "/tools", confused).status_code == 401
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert get(started, "/tools", jwt.encode(claims, other_key, algorithm="RS256")).status_code == 401
        resp = httpx.post(f"{started.base_url}/tokens", headers=bearer(good), json={"name": "x"}, timeout=30)
        assert h.assert_problem(resp, 501)
        with pytest.raises(RuntimeError, match="JWT_PRIVATE_KEY_PATH"):
            h.mint_token(started)  # only a public key: operators cannot sign either
    finally:
        started.stop()


def test_unreadable_or_invalid_keys_stop_start_up(tmp_path: Path) -> None:
    (tmp_path / "garbage.pem").write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    for env, message in [
        ({"JWT_ALGORITHM": "RS256"}, "JWT_PUBLIC_KEY_PATH"),
        ({"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY_PATH": str(tmp_path / "missing.pem")}, "cannot be read"),
        ({"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY_PATH": str(tmp_path / "garbage.pem")}, "not a valid PEM key"),
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            h.start_gateway(tmp_path, extra_env=env, ready_timeout=10)
