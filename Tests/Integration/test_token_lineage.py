"""Where tokens come from and what they may do: `nbf` is honoured on every route; operators list
and revoke every subject's tokens (GET /tokens/admin/all, DELETE /tokens/admin/{id}, as in
ContextForge); a token minted through the API expires no later than the token that minted it, and
is revoked with it (its parent's `jti` is recorded); tokens printed by `mcpgateway token` are
recorded, so they can be revoked too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import mcp_helpers as h


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("lineage"), "Lineage Upstream") as stack:
        yield stack


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def status(gateway: h.Gateway, token: str) -> int:
    return httpx.get(f"{gateway.base_url}/tools", headers=bearer(token), timeout=30).status_code


def mcp_status(gateway: h.Gateway, token: str) -> int:
    headers = {**bearer(token), "Accept": h.ACCEPT_BOTH}
    return httpx.post(gateway.mcp_url, headers=headers, json=h.request("tools/list"), timeout=30).status_code


def mint(gateway: h.Gateway, token: str, name: str, **body: Any) -> dict[str, Any]:
    with h.rest_client(gateway, token) as api:
        return h.ok_json(api.post("/tokens", json={"name": name, **body}), 201)


def test_a_token_not_valid_yet_is_refused_everywhere(stack: h.Stack) -> None:
    gateway = stack.gateway
    header, claims = h.jwt_parts(gateway.token)
    later = h.jwt_encode(header, {**claims, "nbf": int(time.time()) + 3600}, gateway.secret)
    now = h.jwt_encode(header, {**claims, "nbf": int(time.time()) - 5}, gateway.secret)
    assert status(gateway, now) == 200 and mcp_status(gateway, now) != 401
    assert status(gateway, later) == 401
    assert mcp_status(gateway, later) == 401


def test_operators_list_and_revoke_every_subjects_tokens(stack: h.Stack) -> None:
    gateway = stack.gateway
    user = h.mint_token(gateway, "dev@example.com", admin=False)
    made = mint(gateway, user, "dev agent")
    agent = made["access_token"]
    with h.rest_client(gateway, user) as api:
        h.assert_problem(api.get("/tokens/admin/all"), 403)
        h.assert_problem(api.delete(f"/tokens/admin/{made['token']['id']}"), 403)
    with h.rest_client(gateway) as admin:
        listed = h.ok_json(admin.get("/tokens/admin/all"), 200)["tokens"]
        assert made["token"]["id"] in [t["id"] for t in listed]
        assert {t["user_email"] for t in listed} >= {"dev@example.com", "admin@example.com"}
        assert status(gateway, agent) == 200
        assert admin.delete(f"/tokens/admin/{made['token']['id']}").status_code == 204
        assert admin.delete("/tokens/admin/no-such-token").status_code == 404
    assert status(gateway, agent) == 401


def test_mcpgateway_token_is_recorded_and_revoking_it_revokes_what_it_minted(stack: h.Stack) -> None:
    gateway = stack.gateway
    parent = h.mint_token(gateway, "ops@example.com", exp_minutes=60, admin=False)
    parent_id = h.jwt_parts(parent)[1]["jti"]
    with h.rest_client(gateway) as admin:
        recorded = {t["id"]: t for t in h.ok_json(admin.get("/tokens/admin/all"), 200)["tokens"]}
    assert recorded[parent_id]["user_email"] == "ops@example.com" and recorded[parent_id]["is_active"]

    child = mint(gateway, parent, "child", expires_in_days=30)
    assert child["token"]["parent_id"] == parent_id
    # It cannot outlive the token that minted it (60 minutes, not 30 days).
    assert h.jwt_parts(child["access_token"])[1]["exp"] <= h.jwt_parts(parent)[1]["exp"]
    assert "is_admin" not in h.jwt_parts(child["access_token"])[1]
    grandchild = mint(gateway, child["access_token"], "grandchild")
    assert grandchild["token"]["parent_id"] == child["token"]["id"]
    assert status(gateway, child["access_token"]) == 200 and status(gateway, grandchild["access_token"]) == 200

    with h.rest_client(gateway) as admin:
        assert admin.delete(f"/tokens/admin/{parent_id}").status_code == 204
        tokens = {t["id"]: t for t in h.ok_json(admin.get("/tokens/admin/all"), 200)["tokens"]}
    for token in (parent, child["access_token"], grandchild["access_token"]):
        assert status(gateway, token) == 401
    assert not any(tokens[t]["is_active"] for t in (parent_id, child["token"]["id"], grandchild["token"]["id"]))
