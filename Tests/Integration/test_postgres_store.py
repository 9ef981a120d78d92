"""PostgreSQL as the store (DATABASE_URL=postgresql://…): the REST API, tokens and the audit log
behave as on SQLite; data and revocations survive a restart; gateways starting together on an
empty database migrate it exactly once; a bad URL stops start-up with a clear message that keeps
the password secret; and while PostgreSQL is down, writes answer 503 problems, reads are served
from the snapshot, and writes work again once it is back.

Every test takes a fresh database from the session's server (the `postgres` fixture), except the
outage test, which stops and starts a private server of its own."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h
import postgres_server

# One credential secret for every node of a test: nodes sharing a database must share it.
ENCRYPTION_SECRET = h.random_secret()
UPSTREAM_SECRET = "pg-upstream-secret-4b7e"  # pragma: allowlist secret (a test value, not a credential)


def start_on(workdir: Path, url: str, *, jwt_secret: str | None = None, **extra: str) -> h.Gateway:
    env = {"DATABASE_URL": url, "AUTH_ENCRYPTION_SECRET": ENCRYPTION_SECRET, **extra}
    if jwt_secret is not None:
        env["JWT_SECRET_KEY"] = jwt_secret
    return h.or_fail(lambda: h.start_gateway(workdir, extra_env=env))


@pytest.fixture
def database(postgres: postgres_server.PostgresServer) -> str:
    """The URL of a new, empty database."""
    return postgres.create_database()


def tool_ids(api: httpx.Client, gateway_id: str) -> dict[str, str]:
    return {t["originalName"]: t["id"] for t in h.wait_for_tools(api, gateway_id, len(h.UPSTREAM_TOOLS))}


def test_gateway_and_server_crud_with_conflicts(
    postgres: postgres_server.PostgresServer, database: str, upstream_factory, tmp_path: Path
) -> None:
    gateway = start_on(tmp_path, database)
    try:
        with h.rest_client(gateway) as api:
            up = upstream_factory()
            body = {"name": "PG Upstream", "url": up.url, "transport": "STREAMABLEHTTP",
                    "auth_type": "bearer", "auth_token": UPSTREAM_SECRET}
            created = h.ok_json(api.post("/gateways", json=body), 200, 201)
            gid = created["id"]
            ids = tool_ids(api, gid)
            assert gid in {g["id"] for g in h.list_rest(api, "gateways")}
            # Credentials are encrypted in PostgreSQL as in SQLite.
            stored_auth = postgres.psql(f"SELECT auth FROM gateways WHERE id = '{gid}'", database=db_name(database))
            assert stored_auth.startswith("enc:v1:") and UPSTREAM_SECRET not in stored_auth

            updated = h.ok_json(api.put(f"/gateways/{gid}", json={"description": "kept in PostgreSQL"}))
            assert updated["description"] == "kept in PostgreSQL"
            assert h.ok_json(api.get(f"/gateways/{gid}"))["description"] == "kept in PostgreSQL"

            duplicate = api.post("/gateways", json={"name": "PG Upstream", "url": upstream_factory().url,
                                                    "transport": "STREAMABLEHTTP"})
            h.assert_problem(duplicate, 409)

            server = {"name": "PG Virtual", "description": "echo and add",
                      "associated_tools": [ids["echo"], ids["add"]]}
            made = h.ok_json(api.post("/servers", json=server), 201)
            sid = made["id"]
            assert sid in {s["id"] for s in h.list_rest(api, "servers")}
            assert h.tool_names_via_mcp(gateway.server_mcp_url(sid), gateway.token) == {
                h.prefixed("pg-upstream", "echo"), h.prefixed("pg-upstream", "add")}
            h.assert_problem(api.post("/servers", json={"name": "PG Virtual"}), 409)
            changed = h.ok_json(api.put(f"/servers/{sid}", json={"description": "echo only",
                                                                 "associated_tools": [ids["echo"]]}))
            assert changed["description"] == "echo only"
            assert h.tool_names_via_mcp(gateway.server_mcp_url(sid), gateway.token) == {
                h.prefixed("pg-upstream", "echo")}
            assert api.delete(f"/servers/{sid}").status_code in (200, 204)
            assert api.get(f"/servers/{sid}").status_code == 404

            assert api.delete(f"/gateways/{gid}").status_code in (200, 204)
            assert api.get(f"/gateways/{gid}").status_code == 404
            assert h.tools_of(api, gid) == []
        assert postgres.psql("SELECT count(*) FROM tools", database=db_name(database)) == "0"
    finally:
        gateway.stop()


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def test_data_tokens_and_revocations_survive_a_restart(database: str, upstream_factory, tmp_path: Path) -> None:
    jwt_secret = h.random_secret()
    first = start_on(tmp_path / "first", database, jwt_secret=jwt_secret)
    try:
        with h.rest_client(first) as api:
            registered = h.register_gateway(api, "Durable Upstream", upstream_factory())
            ids = tool_ids(api, registered["id"])
            server = h.ok_json(api.post("/servers", json={"name": "Durable", "associated_tools": [ids["echo"]]}), 201)
            kept = h.ok_json(api.post("/tokens", json={"name": "kept"}), 201)
            revoked = h.ok_json(api.post("/tokens", json={"name": "revoked"}), 201)
            h.assert_problem(api.post("/tokens", json={"name": "kept"}), 409)
            assert api.delete(f"/tokens/{revoked['token']['id']}").status_code == 204
            listed = {t["name"]: t for t in h.ok_json(api.get("/tokens"))["tokens"]}
            assert listed["kept"]["is_active"] is True and listed["revoked"]["revoked_at"] is not None
            assert httpx.get(f"{first.base_url}/tools", headers=bearer(revoked["access_token"])).status_code == 401
    finally:
        first.stop()

    # A new working directory: nothing survives but what PostgreSQL holds.
    second = start_on(tmp_path / "second", database, jwt_secret=jwt_secret)
    try:
        with h.rest_client(second) as api:
            assert h.ok_json(api.get(f"/gateways/{registered['id']}"))["name"] == "Durable Upstream"
            assert set(tool_ids(api, registered["id"])) == set(h.UPSTREAM_TOOLS)
            assert h.ok_json(api.get(f"/servers/{server['id']}"))["name"] == "Durable"
            assert h.tool_names_via_mcp(second.server_mcp_url(server["id"]), second.token) == {
                h.prefixed("durable-upstream", "echo")}
            listed = {t["name"]: t for t in h.ok_json(api.get("/tokens"))["tokens"]}
            # Besides the API tokens, the tokens `mcpgateway token` signed for this test are recorded.
            minted = {name for name in listed if name.startswith("mcpgateway token ")}
            assert minted and set(listed) - minted == {"kept", "revoked"} and listed["revoked"]["is_active"] is False
        assert httpx.get(f"{second.base_url}/tools", headers=bearer(kept["access_token"])).status_code == 200
        refused = httpx.get(f"{second.base_url}/tools", headers=bearer(revoked["access_token"]))
        assert refused.status_code == 401, refused.text
    finally:
        second.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_audit_entries_are_readable_and_paged(database: str, tmp_path: Path) -> None:
    admin_port = h.free_port()
    gateway = start_on(tmp_path, database, MCPGATEWAY_ADMIN_API_ENABLED="true", ADMIN_PORT=str(admin_port))
    admin = f"http://{h.LOOPBACK}:{admin_port}"

    def audit(**params: Any) -> dict[str, Any]:
        resp = httpx.get(f"{admin}/audit", params=params, headers=bearer(gateway.token), timeout=10)
        return h.ok_json(resp, 200)

    try:
        with h.rest_client(gateway) as api:
            server = h.ok_json(api.post("/servers", json={"name": "Audited"}), 201)
            token = h.ok_json(api.post("/tokens", json={"name": "audited"}), 201)
            assert api.delete(f"/tokens/{token['token']['id']}").status_code == 204
        entries = audit(limit=50)["entries"]
        actions = [(e["action"], e["target_id"]) for e in entries]
        for expected in [("server.create", server["id"]), ("token.create", token["token"]["id"]),
                         ("token.revoke", token["token"]["id"])]:
            assert expected in actions, (expected, actions)
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        # Prefix filter and paging by the `next` cursor.
        token_actions = [e["action"] for e in audit(action="token.")["entries"]]
        assert token_actions == ["token.revoke", "token.create"], token_actions
        page = audit(limit=1, action="token.")
        assert [e["action"] for e in page["entries"]] == ["token.revoke"] and page["next"] is not None
        rest = audit(limit=1, action="token.", before=page["next"])
        assert [e["action"] for e in rest["entries"]] == ["token.create"]
        assert audit(actor="nobody@example.com")["entries"] == []
    finally:
        gateway.stop()


def test_gateways_starting_together_migrate_an_empty_database_once(
    postgres: postgres_server.PostgresServer, database: str, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(h.start_gateway, tmp_path / f"node{i}", ready_timeout=60.0,
                               extra_env={"DATABASE_URL": database, "AUTH_ENCRYPTION_SECRET": ENCRYPTION_SECRET})
                   for i in range(3)]
        nodes: list[h.Gateway] = []
        errors: list[str] = []
        for future in futures:
            try:
                nodes.append(future.result())
            except RuntimeError as exc:
                errors.append(str(exc))
    try:
        assert not errors, "\n\n".join(errors)
        rows = postgres.psql("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version",
                             database=db_name(database))
        assert rows.splitlines() == ["1|1", "2|1", "3|1", "4|1", "5|1", "6|1"], rows
        applied = sum(node.process.log().count("applied migration") for node in nodes)
        assert applied == 6, [node.process.log()[-2000:] for node in nodes]
        # One federation gateway id for the deployment, advertised by every node.
        recorded = postgres.psql("SELECT gateway_id FROM deployment", database=db_name(database))
        assert len(recorded.splitlines()) == 1, recorded
        for node in nodes:
            with httpx.Client(timeout=10) as http:
                auth = {"Authorization": f"Bearer {node.token}"}
                _, result = h.legacy_initialize(http, node.mcp_url, headers=auth)
            federation = result["capabilities"]["experimental"]["io.github.mcp-gateway-swift/federation"]
            assert federation["gatewayId"] == recorded, result
        assert postgres.psql("SELECT epoch FROM cluster_fence WHERE id = 1", database=db_name(database)) == "0"
        for node in nodes:
            assert httpx.get(f"{node.base_url}/ready", timeout=10).status_code == 200
    finally:
        for node in nodes:
            node.stop()


def run_to_exit(workdir: Path, url: str) -> tuple[int, str]:
    """Starts `mcpgateway serve` on `url`; returns its exit code and output once it exits."""
    binary = h.check_gateway_binary()
    env = h.gateway_env(h.free_port(), workdir, h.random_secret())
    env.update(DATABASE_URL=url, AUTH_ENCRYPTION_SECRET=ENCRYPTION_SECRET)
    proc = h.spawn("gateway-bad-url", [str(binary), "serve"], log_dir=workdir, env=env)
    try:
        code = proc.popen.wait(timeout=60)
    finally:
        proc.stop()
    return code, proc.log()


def test_bad_database_url_stops_start_up_without_showing_the_password(tmp_path: Path) -> None:
    password = f"pw{uuid.uuid4().hex}"
    credentials = f"postgres:{password}"
    refused = f"postgresql://{credentials}@{h.LOOPBACK}:{h.closed_port()}/gateway?sslmode=disable"
    code, log = run_to_exit(tmp_path / "refused", refused)
    assert code != 0, log
    assert "PostgreSQL unavailable: connection refused" in log, log
    assert password not in log and credentials not in log, log

    malformed = f"postgresql://{credentials}@{h.LOOPBACK}:99999/gateway"
    code, log = run_to_exit(tmp_path / "malformed", malformed)
    assert code != 0, log
    assert "invalid PostgreSQL port" in log, log
    assert password not in log, log

    bad_mode = f"postgresql://{credentials}@{h.LOOPBACK}:5432/gateway?sslmode=sometimes"
    code, log = run_to_exit(tmp_path / "sslmode", bad_mode)
    assert code != 0 and "sslmode must be one of" in log and password not in log, log


@pytest.fixture
def private_postgres() -> Iterator[postgres_server.PostgresServer]:
    """A server of its own, for the test that stops it."""
    server = h.or_fail(postgres_server.start_postgres)
    yield server
    server.remove()


def test_outage_writes_are_503_reads_use_the_snapshot_and_writes_resume(
    private_postgres: postgres_server.PostgresServer, upstream_factory, tmp_path: Path
) -> None:
    gateway = start_on(tmp_path, private_postgres.url)
    try:
        with h.rest_client(gateway) as api:
            registered = h.register_gateway(api, "Outage Upstream", upstream_factory())
            expected = {h.prefixed("outage-upstream", name) for name in h.UPSTREAM_TOOLS}
            tool_ids(api, registered["id"])

            private_postgres.stop()
            started = time.monotonic()
            problem = h.assert_problem(api.post("/servers", json={"name": "During Outage"}), 503)
            assert problem["detail"], problem
            assert time.monotonic() - started < 20
            h.assert_problem(api.post("/tokens", json={"name": "during outage"}), 503)
            tools = h.list_rest(api, "tools")
            assert {t["name"] for t in tools} == expected
            assert h.tool_names_via_mcp(gateway.mcp_url, gateway.token) == expected

            private_postgres.start()

            def write_succeeds() -> dict[str, Any] | None:
                resp = api.post("/servers", json={"name": "After Outage"})
                if resp.status_code == 503:
                    return None
                return h.ok_json(resp, 201)

            server = h.wait_until(write_succeeds, timeout=30, interval=0.5, what="a write after PostgreSQL restarted")
            assert server["id"] in {s["id"] for s in h.list_rest(api, "servers")}
            assert "During Outage" not in {s["name"] for s in h.list_rest(api, "servers")}
            h.ok_json(api.post("/tokens", json={"name": "after outage"}), 201)
    finally:
        gateway.stop()


def test_a_schema_newer_than_the_build_is_reported_at_start(
    database: str, postgres: postgres_server.PostgresServer, tmp_path: Path
) -> None:
    """A rolled-back image on a schema a newer build migrated starts (the migrations are additive)
    but says so; SQLite and PostgreSQL alike."""
    first = start_on(tmp_path / "first", database)
    first.stop()
    postgres.psql("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)", database=db_name(database))
    sqlite_dir = tmp_path / "sqlite"
    sqlite = h.start_gateway(sqlite_dir)
    sqlite.stop()
    import sqlite3

    with sqlite3.connect(sqlite_dir / "gw.db") as connection:
        connection.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
    for gateway in (start_on(tmp_path / "second", database), h.start_gateway(sqlite_dir)):
        try:
            log = gateway.process.log()
            assert "the database schema is newer than this build" in log and '"store.schema_version":"99"' in log
        finally:
            gateway.stop()
