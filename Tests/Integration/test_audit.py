"""The admin API is off by default; when enabled it listens on its own loopback port, serves
only admin tokens, and `GET /audit` shows who changed what (and refused requests) without
ever containing a secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h

UPSTREAM_SECRET = "audit-upstream-secret-9d1c"


def test_admin_api_is_off_by_default(tmp_path: Path) -> None:
    admin_port = h.free_port()
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env={"ADMIN_PORT": str(admin_port)}))
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{h.LOOPBACK}:{admin_port}/audit", timeout=5)
        # Not on the main port either.
        resp = httpx.get(f"{gateway.base_url}/audit", headers={"Authorization": f"Bearer {gateway.token}"}, timeout=10)
        assert resp.status_code == 404
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.Stack, str]]:
    port = h.free_port()
    env = {"MCPGATEWAY_ADMIN_API_ENABLED": "true", "ADMIN_PORT": str(port)}
    with h.private_stack(tmp_path_factory.mktemp("audit"), "Audited Upstream", extra_env=env) as stack:
        yield stack, f"http://{h.LOOPBACK}:{port}"


def audit(base: str, token: str, **params: Any) -> dict[str, Any]:
    resp = httpx.get(f"{base}/audit", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return h.ok_json(resp, 200)


def test_admin_api_needs_an_admin_token(admin: tuple[h.Stack, str]) -> None:
    stack, base = admin
    h.assert_problem(httpx.get(f"{base}/audit", timeout=10), 401)
    user = h.mint_token(stack.gateway, "user@example.com", admin=False)
    h.assert_problem(httpx.get(f"{base}/audit", headers={"Authorization": f"Bearer {user}"}, timeout=10), 403)
    assert isinstance(audit(base, stack.gateway.token)["entries"], list)
    # The gateway's own port does not serve it.
    resp = httpx.get(f"{stack.gateway.base_url}/audit", headers={"Authorization": f"Bearer {stack.gateway.token}"})
    assert resp.status_code == 404


def test_changes_and_refusals_are_audited_without_secrets(admin: tuple[h.Stack, str]) -> None:
    stack, base = admin
    gateway = stack.gateway
    with h.rest_client(gateway) as api:
        body = {"name": "Audit Target", "url": stack.upstream.url, "transport": "STREAMABLEHTTP",
                "auth_type": "bearer", "auth_token": UPSTREAM_SECRET}
        created = h.ok_json(api.post("/gateways", json=body), 200, 201)
        h.ok_json(api.post(f"/gateways/{created['id']}/state", params={"activate": "false"}), 200)
        assert api.delete(f"/gateways/{created['id']}").status_code == 200
        token = h.ok_json(api.post("/tokens", json={"name": "audited"}), 201)
        assert api.delete(f"/tokens/{token['token']['id']}").status_code == 204
    bad = httpx.get(f"{gateway.base_url}/tools", headers={"Authorization": "Bearer not-a-jwt"}, timeout=10)
    assert bad.status_code == 401

    page = audit(base, gateway.token, limit=50)
    actions = [(e["action"], e["target_id"]) for e in page["entries"]]
    for expected in [("gateway.create", created["id"]), ("gateway.deactivate", created["id"]),
                     ("gateway.delete", created["id"]), ("token.create", token["token"]["id"]),
                     ("token.revoke", token["token"]["id"]), ("auth.failure", "/tools")]:
        assert expected in actions, (expected, actions)
    # Newest first, with the actor and the client's address.
    ids = [e["id"] for e in page["entries"]]
    assert ids == sorted(ids, reverse=True)
    create_entry = next(e for e in page["entries"] if e["action"] == "gateway.create" and e["target_id"] == created["id"])
    assert create_entry["actor"] == "admin@example.com" and create_entry["client_ip"] == h.LOOPBACK
    failure = next(e for e in page["entries"] if e["action"] == "auth.failure")
    assert failure["actor"] == "anonymous" and failure["outcome"] == "failure"
    text = str(page)
    for secret in [UPSTREAM_SECRET, token["access_token"], gateway.token, "not-a-jwt"]:
        assert secret not in text

    only_tokens = audit(base, gateway.token, action="token.")["entries"]
    assert only_tokens and all(e["action"].startswith("token.") for e in only_tokens)
    first = audit(base, gateway.token, limit=1)
    assert len(first["entries"]) == 1 and first["next"] == first["entries"][0]["id"]
    second = audit(base, gateway.token, limit=1, before=first["next"])
    assert second["entries"][0]["id"] < first["entries"][0]["id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "5000"}, "limit"), ({"limit": "x"}, "limit"),
     ({"before": "-1"}, "before"), ({"since": "yesterday"}, "since"), ({"actor": "a" * 300}, "actor")],
)
def test_bad_audit_queries_are_422(admin: tuple[h.Stack, str], params: dict[str, str], field: str) -> None:
    stack, base = admin
    resp = httpx.get(f"{base}/audit", params=params, headers={"Authorization": f"Bearer {stack.gateway.token}"})
    assert h.assert_problem(resp, 422)["field"] == field


def test_there_is_no_admin_ui_to_enable(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="MCPGATEWAY_UI_ENABLED"):
        h.start_gateway(tmp_path, extra_env={"MCPGATEWAY_UI_ENABLED": "true"}, ready_timeout=10)
