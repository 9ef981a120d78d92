"""Upstream credentials at rest: encrypted (AES-GCM) in the database, never shown by the API,
refused under another secret, and re-encrypted by `mcpgateway rotate-key`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import mcp_helpers as h

TOKEN = "upstream-bearer-7f3a9c0d"
ENV_SECRET = "stdio-env-secret-51be"
FIRST = "a" * 40
SECOND = "b" * 40


def stored_bytes(workdir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in workdir.glob("gw.db*"))


def register(gateway: h.Gateway, upstream: h.Upstream) -> None:
    with h.rest_client(gateway) as api:
        body = {"name": "Secret HTTP", "url": upstream.url, "transport": "STREAMABLEHTTP",
                "auth_type": "bearer", "auth_token": TOKEN}
        created = h.ok_json(api.post("/gateways", json=body), 200, 201)
        stdio = {"name": "Secret Stdio", "transport": "STDIO", "command": sys.executable,
                 "args": [str(h.UPSTREAM_SCRIPT), "--transport", "stdio"], "env": {"SOME_TOKEN": ENV_SECRET}}
        h.ok_json(api.post("/gateways", json=stdio), 200, 201)
        listing = api.get("/gateways").text
        assert TOKEN not in listing and ENV_SECRET not in listing
        assert h.ok_json(api.get(f"/gateways/{created['id']}"), 200)["authType"] == "bearer"


def echo(gateway: h.Gateway, tool: str) -> str:
    async def body() -> str:
        async with h.connect(gateway.mcp_url, token=gateway.token, mode="modern") as client:
            return (await client.call_tool(tool, {"text": "still works"})).content[0].text

    return h.run(body)


def test_credentials_are_encrypted_refused_under_another_secret_and_rotated(tmp_path: Path) -> None:
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path))
    try:
        gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env={"AUTH_ENCRYPTION_SECRET": FIRST}))
        try:
            register(gateway, upstream)
            assert echo(gateway, "secret-http-echo") == "still works"
            assert echo(gateway, "secret-stdio-echo") == "still works"
        finally:
            gateway.stop()
        on_disk = stored_bytes(tmp_path)
        assert TOKEN.encode() not in on_disk and ENV_SECRET.encode() not in on_disk
        with sqlite3.connect(tmp_path / "gw.db") as db:
            for auth, command in db.execute("SELECT auth, command FROM gateways"):
                assert auth.startswith("enc:v1:")
                assert command is None or command.startswith("enc:v1:")

        # Another secret: the gateway refuses to start, saying why.
        with pytest.raises(RuntimeError) as refused:
            h.start_gateway(tmp_path, extra_env={"AUTH_ENCRYPTION_SECRET": SECOND})
        assert "AUTH_ENCRYPTION_SECRET" in str(refused.value)

        # Rotation: new secret, old one as previous; afterwards the new one alone works.
        env = h.gateway_env(h.free_port(), tmp_path, h.random_secret())
        env.update(AUTH_ENCRYPTION_SECRET=SECOND, AUTH_ENCRYPTION_SECRET_PREVIOUS=FIRST)
        done = subprocess.run([str(h.check_gateway_binary()), "rotate-key"], env=env, capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert b"2 gateways" in done.stdout
        gateway = h.or_fail(lambda: h.start_gateway(tmp_path, extra_env={"AUTH_ENCRYPTION_SECRET": SECOND}))
        try:
            assert echo(gateway, "secret-http-echo") == "still works"
        finally:
            gateway.stop()
        assert TOKEN.encode() not in stored_bytes(tmp_path)
    finally:
        upstream.stop()


def test_a_short_encryption_secret_is_refused(tmp_path: Path) -> None:
    env = h.gateway_env(h.free_port(), tmp_path, h.random_secret())
    env["AUTH_ENCRYPTION_SECRET"] = "short"
    done = subprocess.run([str(h.check_gateway_binary()), "serve"], env=env, capture_output=True, timeout=30)
    assert done.returncode == 2
    assert b"AUTH_ENCRYPTION_SECRET must be at least 32 bytes" in done.stderr


def authorization_seen(gateway: h.Gateway, tool: str) -> str | None:
    async def body() -> str | None:
        async with h.connect(gateway.mcp_url, token=gateway.token, mode="modern") as client:
            return json.loads((await client.call_tool(tool, {})).content[0].text).get("authorization")

    return h.run(body)


def test_stored_credentials_do_not_follow_a_url_to_another_origin(tmp_path: Path) -> None:
    """PUT /gateways/{id} with a URL on another host or port needs the credentials again: stored
    ones are never sent to the new origin (the review's scenario: any writer redirects them)."""
    first = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, namespace="first"))
    second = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, namespace="second"))
    gateway = h.or_fail(lambda: h.start_gateway(tmp_path / "gw"))
    try:
        writer = h.mint_token(gateway, "writer@example.com", admin=False)
        with h.rest_client(gateway, writer) as api:
            body = {"name": "Moving", "url": first.url, "auth_type": "bearer", "auth_token": TOKEN}
            created = h.ok_json(api.post("/gateways", json=body), 200, 201)
            problem = h.assert_problem(api.put(f"/gateways/{created['id']}", json={"url": second.url}), 422)
            assert problem.get("field") == "auth_type" and "origin" in problem["detail"], problem
            assert h.ok_json(api.get(f"/gateways/{created['id']}"), 200)["url"] == first.url, "nothing changed"
            assert authorization_seen(gateway, "moving-headers") == f"Bearer {TOKEN}"

            # The same origin, another path: the credentials stay (the path is not where they go).
            same_origin = first.url + "?moved=within-the-origin"
            h.ok_json(api.put(f"/gateways/{created['id']}", json={"url": same_origin}), 200)
            # With the credentials given again, the move is allowed and the new ones are used.
            moved = {"url": second.url, "auth_type": "bearer", "auth_token": "for-the-second-host"}
            h.ok_json(api.put(f"/gateways/{created['id']}", json=moved), 200)
            assert authorization_seen(gateway, "moving-headers") == "Bearer for-the-second-host"
    finally:
        gateway.stop()
        first.stop()
        second.stop()


@pytest.mark.parametrize("userinfo", ["user:pa55word@", "user@", ":pa55word@"])
def test_credentials_in_a_url_are_refused(api, upstream_http: h.Upstream, userinfo: str) -> None:  # type: ignore[no-untyped-def]
    url = upstream_http.url.replace("://", f"://{userinfo}", 1)
    before = api.get("/gateways").text
    problem = h.assert_problem(api.post("/gateways", json={"name": f"Userinfo {len(userinfo)}", "url": url}), 422)
    assert problem.get("field") == "url" and "auth_type basic" in problem["detail"], problem
    assert api.get("/gateways").text == before and "pa55word" not in before
