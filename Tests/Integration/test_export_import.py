"""`mcpgateway export` / `import` and `GET /export` / `POST /import`: a gateway's registrations
move to another gateway as one ContextForge-shaped JSON document (no secrets in it), every
conflict strategy does what it says, a dry run changes nothing, and bad documents are refused
with a problem naming the field."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h

SECRET = "upstream-credential-" + secrets.token_hex(12)  # pragma: allowlist secret


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    """A gateway with three upstream registrations (one disabled, one with credentials) and a
    virtual server of two tools."""
    with h.private_stack(tmp_path_factory.mktemp("export-source"), "Exported") as stack:
        with h.rest_client(stack.gateway) as api:
            second = h.register_gateway(api, "Second", stack.upstream)
            h.ok_json(api.post(f"/gateways/{second['id']}/state?activate=false"))
            h.ok_json(api.post("/gateways", json={
                "name": "Credentialed", "url": stack.upstream.url, "transport": stack.upstream.gateway_transport,
                "auth_type": "bearer", "auth_token": SECRET}), 200, 201)
            exported = next(g for g in h.list_rest(api, "gateways") if g["name"] == "Exported")
            h.ok_json(api.put(f"/gateways/{exported['id']}", json={"sync_interval": 42}))
            tools = {t["name"]: t["id"] for t in h.list_rest(api, "tools")}
            h.ok_json(api.post("/servers", json={
                "name": "Curated", "description": "two tools",
                "associated_tools": [tools[stack.tool("echo")], tools[stack.tool("add")]]}), 200, 201)
        yield stack


def cli(gateway: h.Gateway, *args: str, target: h.Gateway | None = None) -> subprocess.CompletedProcess[str]:
    """Runs `mcpgateway <args>` against `target` (default `gateway`), with `gateway`'s environment."""
    target = target or gateway
    return subprocess.run([str(gateway.binary), *args, "--url", target.base_url, "--token", target.token],
                          env=gateway.env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def export(stack: h.Stack, path: Path) -> dict[str, Any]:
    done = cli(stack.gateway, "export", "-o", str(path))
    assert done.returncode == 0, done.stderr
    assert "exported 3 gateways, 1 servers" in done.stderr, done.stderr
    return json.loads(path.read_text())


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[h.Gateway]:
    gateway = h.start_gateway(tmp_path / "target")
    yield gateway
    gateway.stop()


def state(gateway: h.Gateway) -> tuple[dict[str, bool], dict[str, list[str]]]:
    """Gateways by name (enabled?) and servers by name (their tool names)."""
    def everything(api: httpx.Client, collection: str) -> list[dict[str, Any]]:
        return h.ok_json(api.get(f"/{collection}", params={"limit": 0, "include_inactive": "true"}))

    with h.rest_client(gateway) as api:
        gateways = {g["name"]: g["enabled"] for g in everything(api, "gateways")}
        names = {t["id"]: t["name"] for t in everything(api, "tools")}
        servers = {s["name"]: sorted(names[i] for i in s["associatedTools"]) for s in everything(api, "servers")}
    return gateways, servers


def test_export_is_contextforge_shaped_and_holds_no_secret(source: h.Stack, tmp_path: Path) -> None:
    document = export(source, tmp_path / "export.json")
    assert {"version", "exported_at", "exported_by", "source_gateway", "encryption_method", "entities",
            "metadata"} <= document.keys()
    assert document["exported_by"] == "admin@example.com" and document["encryption_method"] == "none"
    gateways = {g["name"]: g for g in document["entities"]["gateways"]}
    assert set(gateways) == {"Exported", "Second", "Credentialed"}
    assert gateways["Second"]["is_active"] is False and gateways["Exported"]["is_active"] is True
    assert gateways["Exported"]["sync_interval"] == 42 and "sync_interval" not in gateways["Second"]
    assert gateways["Credentialed"]["auth_type"] == "bearer" and "auth_value" not in gateways["Credentialed"]
    assert document["metadata"]["secrets_omitted"] == [{"gateway": "Credentialed", "field": "auth_value"}]
    [server] = document["entities"]["servers"]
    assert sorted(server["tool_ids"]) == sorted([source.tool("echo"), source.tool("add")])
    assert document["metadata"]["entity_counts"] == {"gateways": 3, "servers": 1}
    assert SECRET not in (tmp_path / "export.json").read_text()
    # Only active ones, and only one type, when asked.
    with h.rest_client(source.gateway) as api:
        active = h.ok_json(api.get("/export?include_inactive=false&types=gateways"))
    assert {g["name"] for g in active["entities"]["gateways"]} == {"Exported", "Credentialed"}
    assert "servers" not in active["entities"]


def test_import_recreates_the_registrations_on_another_gateway(
    source: h.Stack, target: h.Gateway, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    export(source, path)
    done = cli(source.gateway, "import", str(path), target=target)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["progress"] == {"total": 4, "processed": 4, "created": 4, "updated": 0, "skipped": 0, "failed": 0}
    assert any("Credentialed" in w and "credentials are not in the file" in w for w in report["warnings"])
    assert state(target) == state(source.gateway)
    with h.rest_client(target) as api:
        intervals = {g["name"]: g["syncInterval"] for g in h.list_rest(api, "gateways")}
    assert intervals["Exported"] == 42 and intervals["Credentialed"] is None, intervals
    # The imported virtual server serves the same tools over MCP.
    with h.rest_client(target) as api:
        [server] = h.list_rest(api, "servers")
    assert h.tool_names_via_mcp(target.server_mcp_url(server["id"]), target.token) == {
        source.tool("echo"), source.tool("add")}

    # Again: `update` (the default) changes in place, `skip` leaves alone; nothing is duplicated.
    again = json.loads(cli(source.gateway, "import", str(path), target=target).stdout)
    assert again["progress"]["updated"] == 4 and again["progress"]["created"] == 0
    skipped = json.loads(cli(source.gateway, "import", str(path), "--conflict-strategy", "skip", target=target).stdout)
    assert skipped["progress"]["skipped"] == 4
    assert state(target) == state(source.gateway)

    # `fail`: refused as a whole before anything is written.
    failed = cli(source.gateway, "import", str(path), "--conflict-strategy", "fail", target=target)
    assert failed.returncode == 1 and "409" in failed.stderr and "gateway 'Exported'" in failed.stderr
    assert state(target) == state(source.gateway)

    # `rename`: imported beside the existing ones, for one selected gateway only.
    renamed = json.loads(cli(source.gateway, "import", str(path), "--conflict-strategy", "rename",
                             "--include", "gateways:Second", target=target).stdout)
    assert renamed["progress"]["created"] == 1 and renamed["progress"]["total"] == 1
    gateways, _ = state(target)
    assert len(gateways) == 4 and any(name.startswith("Second_imported_") for name in gateways)


def test_a_dry_run_changes_nothing(source: h.Stack, target: h.Gateway, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    export(source, path)
    done = cli(source.gateway, "import", str(path), "--dry-run", target=target)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True and report["progress"]["created"] == 4
    assert state(target) == ({}, {})


def test_a_contextforge_export_imports_gateways_and_skips_discovered_items(
    source: h.Stack, target: h.Gateway
) -> None:
    document = {  # as ContextForge writes it: sealed credentials, tools of its own
        "version": "2025-06-18", "exported_at": "2026-01-01T00:00:00Z", "exported_by": "admin@example.com",
        "source_gateway": "http://cf:4444", "encryption_method": "AES-256-GCM",
        "entities": {
            "gateways": [{"name": "From CF", "url": source.upstream.url, "transport": "STREAMABLEHTTP",
                          "description": None, "capabilities": {}, "is_active": True, "tags": ["x"],
                          "passthrough_headers": [], "auth_type": "bearer", "auth_value": "c2VhbGVk"}],
            "tools": [{"name": "rest-tool", "url": "http://example.invalid"}],
            "servers": [{"name": "CF server", "tool_ids": ["from-cf-echo", "no-such-tool"], "is_active": True}],
        },
        "metadata": {"entity_counts": {"gateways": 1, "tools": 1, "servers": 1}},
    }
    with h.rest_client(target) as api:
        report = h.ok_json(api.post("/import", json={"import_data": document}))
        assert report["progress"]["created"] == 2 and report["progress"]["skipped"] == 1, report
        assert any("1 tools skipped" in w for w in report["warnings"]), report
        assert any("no tool 'no-such-tool'" in w for w in report["warnings"]), report
        [server] = h.list_rest(api, "servers")
        assert len(server["associatedTools"]) == 1


BAD_IMPORTS = [
    ({}, "import_data"),
    ({"import_data": []}, "import_data"),
    ({"import_data": {"entities": {}}}, "import_data.version"),
    ({"import_data": {"version": "1", "entities": []}}, "import_data.entities"),
    ({"import_data": {"version": "1", "entities": {"widgets": []}}}, "import_data.entities.widgets"),
    ({"import_data": {"version": "1", "entities": {"gateways": {}}}}, "import_data.entities.gateways"),
    ({"import_data": {"version": "1", "entities": {"gateways": [{"url": "http://x"}]}}},
     "import_data.entities.gateways[0]"),
    ({"import_data": {"version": "1", "entities": {}}, "conflict_strategy": "merge"}, "conflict_strategy"),
    ({"import_data": {"version": "1", "entities": {}}, "dry_run": "yes"}, "dry_run"),
    ({"import_data": {"version": "1", "entities": {}}, "rekey_secret": "k"}, "rekey_secret"),
    ({"import_data": {"version": "1", "entities": {}}, "selected_entities": {"gateways": "a"}},
     "selected_entities.gateways"),
]


@pytest.mark.parametrize("body, field", BAD_IMPORTS)
def test_bad_imports_are_refused_and_change_nothing(source: h.Stack, body: dict[str, Any], field: str) -> None:
    before = state(source.gateway)
    with h.rest_client(source.gateway) as api:
        problem = h.assert_problem(api.post("/import", json=body), 422)
    assert problem["field"] == field, problem
    assert state(source.gateway) == before


def test_bad_exports_and_non_admins_are_refused(source: h.Stack) -> None:
    gateway = source.gateway
    with h.rest_client(gateway) as api:
        assert h.assert_problem(api.get("/export?types=widgets"), 422)["field"] == "types"
        assert h.assert_problem(api.get("/export?include_inactive=maybe"), 422)["field"] == "include_inactive"
    user = h.mint_token(gateway, "someone@example.com", admin=False)
    with h.rest_client(gateway, user) as api:
        h.assert_problem(api.get("/export"), 403)
        h.assert_problem(api.post("/import", json={"import_data": {"version": "1", "entities": {}}}), 403)
    assert httpx.get(f"{gateway.base_url}/export", timeout=10).status_code == 401


def test_stdio_gateways_and_servers_update_in_place_keeping_what_the_file_lacks(tmp_path: Path) -> None:
    """A stdio gateway's environment is never exported; importing the file back over it (update)
    keeps the stored environment, and a server entity without members keeps its members."""
    import os
    import stat
    import sys

    gateway = h.start_gateway(tmp_path / "gw")
    try:
        with h.rest_client(gateway) as api:
            stdio = h.ok_json(api.post("/gateways", json={
                "name": "Local", "transport": "STDIO", "command": sys.executable,
                "args": [str(h.UPSTREAM_SCRIPT), "--transport", "stdio"],
                "env": {"LOCAL_TOKEN": SECRET}}), 200, 201)
            tools = h.wait_for_tools(api, stdio["id"], len(h.UPSTREAM_TOOLS))
            echo = next(t for t in tools if t["originalName"] == "echo")
            h.ok_json(api.post("/servers", json={"name": "Kept", "associated_tools": [echo["id"]]}), 200, 201)
        path = tmp_path / "export.json"
        done = cli(gateway, "export", "-o", str(path))
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        document = json.loads(path.read_text())
        [entity] = document["entities"]["gateways"]
        assert entity["transport"] == "STDIO" and entity["command"] == sys.executable and "env" not in entity
        assert {"gateway": "Local", "field": "env", "names": ["LOCAL_TOKEN"]} in document["metadata"]["secrets_omitted"]
        assert SECRET not in path.read_text()
        # The server entity loses its member list: an update keeps the stored one.
        del document["entities"]["servers"][0]["tool_ids"]
        path.write_text(json.dumps(document))
        done = cli(gateway, "import", str(path))
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["progress"]["updated"] == 2 and report["progress"]["failed"] == 0, report
        with h.rest_client(gateway) as api:
            assert h.ok_json(api.get(f"/gateways/{stdio['id']}"))["env"] == {"LOCAL_TOKEN": "*****"}
            [server] = h.list_rest(api, "servers")
            assert server["associatedTools"] == [echo["id"]]
    finally:
        gateway.stop()


def test_an_import_of_too_many_entities_is_refused(source: h.Stack) -> None:
    many = [{"name": f"g{i}", "url": "http://example.invalid/mcp"} for i in range(1001)]
    with h.rest_client(source.gateway) as api:
        problem = h.assert_problem(api.post("/import", json={
            "import_data": {"version": "1", "entities": {"gateways": many}}}), 422)
    assert problem["field"] == "import_data.entities.gateways" and "1000" in problem["detail"]
