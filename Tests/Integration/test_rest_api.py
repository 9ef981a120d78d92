"""The ContextForge-compatible REST API: gateways, tools, resources, prompts, virtual servers.

Served at the root and under /v1/, JSON fields in camelCase.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

import mcp_helpers as h
import upstream_server

REGISTRATIONS = ["registered_http", "registered_sse"]


@pytest.fixture(params=REGISTRATIONS)
def registration(request: pytest.FixtureRequest) -> h.Registration:
    """Each shared registration in turn: the streamable-HTTP upstream, then the SSE one."""
    return request.getfixturevalue(request.param)


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_health_and_ready_need_no_auth(anon: httpx.Client) -> None:
    for path in ("/health", "/ready"):
        resp = anon.get(path)
        assert resp.status_code == 200, f"GET {path} without a token -> {resp.status_code}: {resp.text[:500]}"


def test_version_requires_auth(api: httpx.Client, anon: httpx.Client) -> None:
    body = h.ok_json(api.get("/version"))
    assert isinstance(body, dict) and body, body
    assert anon.get("/version").status_code == 401


def test_registration_fields(registration: h.Registration) -> None:
    body = registration.body
    up = registration.upstream
    assert isinstance(body["id"], str) and body["id"], body
    assert body["name"] == registration.name
    assert body["slug"] == registration.slug
    assert body["url"] == up.url
    assert body["transport"] == up.gateway_transport
    assert body["enabled"] is True
    assert body["reachable"] is True
    caps = body["capabilities"]
    assert isinstance(caps, dict), body
    for capability in ("tools", "resources", "prompts"):
        assert capability in caps, f"upstream capability {capability!r} missing from {caps}"


def test_expected_slugs(registered_http: h.Registration, registered_sse: h.Registration) -> None:
    assert registered_http.body["slug"] == "shared-http"
    assert registered_sse.body["slug"] == "shared-sse"


def test_all_paginated_tools_discovered_with_prefixed_names(api: httpx.Client, registration: h.Registration) -> None:
    tools = h.wait_for_tools(api, registration.id, len(h.UPSTREAM_TOOLS))
    names = [tool["name"] for tool in tools]
    assert sorted(names) == sorted(registration.tool(name) for name in h.UPSTREAM_TOOLS), (
        "the upstream pages its tools/list 5 at a time; every page must be discovered exactly once"
    )
    for tool in tools:
        assert tool["name"] == registration.tool(tool["originalName"]), tool
        assert tool["gatewayId"] == registration.id, tool
        assert isinstance(tool["id"], str) and tool["id"], tool
        assert tool["enabled"] is True, tool
        assert isinstance(tool["inputSchema"], dict), tool
        assert "annotations" in tool, tool

    tools_by_original = {tool["originalName"]: tool for tool in tools}
    echo = tools_by_original["echo"]
    assert echo["description"] == "Echo the given text back unchanged."
    assert echo["inputSchema"]["type"] == "object"
    assert "text" in echo["inputSchema"]["properties"]
    assert echo["inputSchema"].get("required") == ["text"]
    assert echo["annotations"].get("readOnlyHint") is True, echo["annotations"]
    add = tools_by_original["add"]
    assert set(add["inputSchema"]["properties"]) == {"a", "b"}
    assert add["description"] == "Add two integers; the result is structured content."


def test_get_tool_by_id(api: httpx.Client, registered_http: h.Registration) -> None:
    tools = h.wait_for_tools(api, registered_http.id, len(h.UPSTREAM_TOOLS))
    echo = next(tool for tool in tools if tool["originalName"] == "echo")
    body = h.ok_json(api.get(f"/tools/{echo['id']}"))
    assert body["id"] == echo["id"]
    assert body["name"] == registered_http.tool("echo")
    assert body["originalName"] == "echo"
    assert body["gatewayId"] == registered_http.id
    assert body["inputSchema"] == echo["inputSchema"]


def test_resources_listed(api: httpx.Client, registration: h.Registration) -> None:
    uris = registration.upstream.uris
    resources = h.wait_until(
        lambda: [r for r in h.list_rest(api, "resources") if r.get("uri") in (uris["greeting"], uris["farewell"])],
        what="the upstream's resources",
    )
    by_uri = {r["uri"]: r for r in resources}
    assert set(by_uri) == {uris["greeting"], uris["farewell"]}, by_uri
    greeting = by_uri[uris["greeting"]]
    assert isinstance(greeting["id"], str) and greeting["id"]
    assert greeting["name"].endswith("greeting"), greeting
    assert greeting.get("mimeType") == "text/plain", greeting


def test_resource_content_and_info(api: httpx.Client, registration: h.Registration) -> None:
    """ContextForge: GET /resources/{id} reads the content from the upstream; /info is the metadata."""
    uri = registration.upstream.uris["greeting"]
    resource = h.wait_until(
        lambda: next((r for r in h.list_rest(api, "resources") if r.get("uri") == uri), None), what="the greeting"
    )
    content = h.ok_json(api.get(f"/resources/{resource['id']}"))
    assert content["type"] == "resource", content
    assert content["uri"] == uri, content
    assert content["text"] == upstream_server.GREETING_TEXT, content
    info = h.ok_json(api.get(f"/v1/resources/{resource['id']}/info"))
    assert info["id"] == resource["id"] and info["uri"] == uri, info
    assert api.get("/resources/no-such-id").status_code == 404


def test_resource_templates_listed(api: httpx.Client, registration: h.Registration) -> None:
    body = h.ok_json(api.get("/resources/templates/list"))
    templates = body["resourceTemplates"]
    assert isinstance(templates, list), body
    wanted = registration.upstream.uris["item_template"]
    assert wanted in [t.get("uriTemplate") for t in templates], templates


def test_prompts_listed(api: httpx.Client, registration: h.Registration) -> None:
    prompts = by_name(h.list_rest(api, "prompts"))
    for original in h.UPSTREAM_PROMPTS:
        assert registration.tool(original) in prompts, sorted(prompts)
    greet = prompts[registration.tool("greet")]
    assert isinstance(greet["id"], str) and greet["id"]
    assert greet["description"] == "Greet someone by name."
    argument_names = [argument["name"] for argument in greet["arguments"]]
    assert argument_names == ["name"], greet


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_gateways_list_and_get(
    api: httpx.Client, registered_http: h.Registration, registered_sse: h.Registration, prefix: str
) -> None:
    listed = {g["id"]: g for g in h.list_rest(api, "gateways", prefix=prefix)}
    for reg in (registered_http, registered_sse):
        assert reg.id in listed, f"{reg.name} missing from GET {prefix}/gateways"
        assert listed[reg.id]["name"] == reg.name
        one = h.ok_json(api.get(f"{prefix}/gateways/{reg.id}"))
        assert one["id"] == reg.id
        assert one["name"] == reg.name
        assert one["slug"] == reg.slug
        assert one["url"] == reg.upstream.url
        assert one["transport"] == reg.upstream.gateway_transport


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_catalog_served_under_both_prefixes(api: httpx.Client, registered_http: h.Registration, prefix: str) -> None:
    h.wait_for_tools(api, registered_http.id, len(h.UPSTREAM_TOOLS))
    names = {tool["name"] for tool in h.list_rest(api, "tools", prefix=prefix)}
    assert registered_http.tool("echo") in names
    prompts = {prompt["name"] for prompt in h.list_rest(api, "prompts", prefix=prefix)}
    assert registered_http.tool("greet") in prompts
    uris = {resource["uri"] for resource in h.list_rest(api, "resources", prefix=prefix)}
    assert registered_http.upstream.uris["greeting"] in uris


def test_register_under_v1_prefix(api: httpx.Client, upstream_factory, unique_name) -> None:
    up = upstream_factory()
    name = unique_name("Versioned")
    body = h.register_gateway(api, name, up, prefix="/v1")
    assert body["name"] == name
    assert body["slug"] == h.slugify(name)
    assert h.ok_json(api.get(f"/gateways/{body['id']}"))["id"] == body["id"]


def test_update_gateway(api: httpx.Client, upstream_factory, unique_name) -> None:
    up = upstream_factory()
    name = unique_name("Updatable")
    created = h.register_gateway(api, name, up)
    updated = h.ok_json(api.put(f"/gateways/{created['id']}", json={"description": "updated by the tests"}))
    assert updated["id"] == created["id"]
    assert updated["description"] == "updated by the tests"
    assert updated["name"] == name
    fetched = h.ok_json(api.get(f"/gateways/{created['id']}"))
    assert fetched["description"] == "updated by the tests"
    assert fetched["url"] == up.url


def test_delete_gateway_removes_its_tools(api: httpx.Client, gateway: h.Gateway, upstream_factory, unique_name) -> None:
    up = upstream_factory()
    name = unique_name("Deletable")
    created = h.register_gateway(api, name, up)
    slug = h.slugify(name)
    h.wait_for_tools(api, created["id"], len(h.UPSTREAM_TOOLS))
    assert h.prefixed(slug, "echo") in h.tool_names_via_mcp(gateway.mcp_url, gateway.token)

    resp = api.delete(f"/gateways/{created['id']}")
    assert resp.status_code in (200, 204), resp.text
    assert api.get(f"/gateways/{created['id']}").status_code == 404
    assert created["id"] not in {g["id"] for g in h.list_rest(api, "gateways")}
    assert h.tools_of(api, created["id"]) == []
    assert not any(t["name"].startswith(slug + h.TOOL_SEPARATOR) for t in h.list_rest(api, "tools"))
    mcp_names = h.tool_names_via_mcp(gateway.mcp_url, gateway.token)
    assert not {n for n in mcp_names if n.startswith(slug + h.TOOL_SEPARATOR)}, mcp_names


def test_deactivate_and_reactivate_gateway(
    api: httpx.Client, gateway: h.Gateway, upstream_factory, unique_name
) -> None:
    up = upstream_factory()
    name = unique_name("Toggle")
    created = h.register_gateway(api, name, up)
    gid, slug = created["id"], h.slugify(name)
    h.wait_for_tools(api, gid, len(h.UPSTREAM_TOOLS))
    expected = {h.prefixed(slug, t) for t in h.UPSTREAM_TOOLS}

    def own_mcp_tools() -> set[str]:
        return {n for n in h.tool_names_via_mcp(gateway.mcp_url, gateway.token) if n.startswith(slug + "-")}

    assert own_mcp_tools() == expected

    resp = api.post(f"/gateways/{gid}/state", params={"activate": "false"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "success" and resp.json()["gateway"]["enabled"] is False, resp.text
    assert h.ok_json(api.get(f"/gateways/{gid}"))["enabled"] is False
    h.wait_until(lambda: own_mcp_tools() == set(), what="the disabled gateway's tools to leave tools/list")

    resp = api.post(f"/gateways/{gid}/state", params={"activate": "true"})
    assert resp.status_code == 200, resp.text
    assert h.ok_json(api.get(f"/gateways/{gid}"))["enabled"] is True
    h.wait_until(lambda: own_mcp_tools() == expected, what="the re-enabled gateway's tools to return")


def _ids(api: httpx.Client, reg: h.Registration) -> dict[str, str]:
    tools = {t["originalName"]: t["id"] for t in h.wait_for_tools(api, reg.id, len(h.UPSTREAM_TOOLS))}
    resources = {r["uri"]: r["id"] for r in h.list_rest(api, "resources")}
    prompts = {p["name"]: p["id"] for p in h.list_rest(api, "prompts")}
    return {
        "echo": tools["echo"],
        "add": tools["add"],
        "greeting": resources[reg.upstream.uris["greeting"]],
        "greet": prompts[reg.tool("greet")],
    }


def _assert_associated(body: dict[str, Any], tool_ids: list[str], tool_names: list[str]) -> None:
    """ContextForge reports associated tools as names (associatedTools) plus ids (associatedToolIds);
    accept ids or names in associatedTools, and require associatedToolIds to be the ids when present."""
    associated = set(body["associatedTools"])
    assert associated in (set(tool_ids), set(tool_names)), body["associatedTools"]
    if "associatedToolIds" in body:
        assert set(body["associatedToolIds"]) == set(tool_ids), body["associatedToolIds"]


@pytest.mark.parametrize("shape", ["wrapped", "unwrapped"])
def test_virtual_server_crud(
    api: httpx.Client, gateway: h.Gateway, registered_http: h.Registration, shape: str
) -> None:
    ids = _ids(api, registered_http)
    name = f"Virtual {shape} {uuid.uuid4().hex[:6]}"
    server = {
        "name": name,
        "description": "echo and add only",
        "associated_tools": [ids["echo"], ids["add"]],
        "associated_resources": [ids["greeting"]],
        "associated_prompts": [ids["greet"]],
    }
    payload = {"server": server} if shape == "wrapped" else server
    created = h.ok_json(api.post("/servers", json=payload), 201)
    sid = created["id"]
    assert isinstance(sid, str) and sid
    assert created["name"] == name
    assert created["description"] == "echo and add only"
    _assert_associated(created, [ids["echo"], ids["add"]], [registered_http.tool("echo"), registered_http.tool("add")])
    assert set(created["associatedResources"]) == {ids["greeting"]}
    assert set(created["associatedPrompts"]) == {ids["greet"]}

    assert sid in {s["id"] for s in h.list_rest(api, "servers")}
    fetched = h.ok_json(api.get(f"/servers/{sid}"))
    assert fetched["name"] == name
    assert h.tool_names_via_mcp(gateway.server_mcp_url(sid), gateway.token) == {
        registered_http.tool("echo"),
        registered_http.tool("add"),
    }

    updated = h.ok_json(
        api.put(f"/servers/{sid}", json={"description": "echo only", "associated_tools": [ids["echo"]]})
    )
    assert updated["description"] == "echo only"
    _assert_associated(updated, [ids["echo"]], [registered_http.tool("echo")])
    assert h.tool_names_via_mcp(gateway.server_mcp_url(sid), gateway.token) == {registered_http.tool("echo")}

    resp = api.delete(f"/servers/{sid}")
    assert resp.status_code in (200, 204), resp.text
    assert api.get(f"/servers/{sid}").status_code == 404
    assert sid not in {s["id"] for s in h.list_rest(api, "servers")}


def test_upstream_constants_match_helpers() -> None:
    """The helper's view of the upstream (tool and prompt names) matches the upstream itself."""
    server = upstream_server.build_server()

    async def names() -> tuple[list[str], list[str]]:
        return [t.name for t in await server.list_tools()], [p.name for p in await server.list_prompts()]

    tools, prompts = h.run(names)
    assert sorted(tools) == sorted(h.UPSTREAM_TOOLS)
    assert sorted(prompts) == sorted(h.UPSTREAM_PROMPTS)
