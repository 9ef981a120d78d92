"""Input validation: every REST write refuses bad names, descriptions, URLs and over-deep JSON
with a problem naming the field (and changes nothing); MCP requests are held to the params,
`_meta` and depth limits; items discovered on an upstream that break the naming, markup or
MIME rules stay out of the catalog while the rest of the upstream is served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import mcp_helpers as h


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[h.Stack]:
    with h.private_stack(tmp_path_factory.mktemp("validation"), "Validated") as stack:
        yield stack


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


URL = "http://127.0.0.1:9/mcp"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/gateways", {"name": "<script>x</script>", "url": URL}, "name"),
        ("/gateways", {"name": "slash/name", "url": URL}, "name"),
        ("/gateways", {"name": "emoji ✨", "url": URL}, "name"),
        ("/gateways", {"name": "n" * 256, "url": URL}, "name"),
        ("/gateways", {"name": "ok", "url": URL, "description": "<img src=x onerror=alert(1)>"}, "description"),
        ("/gateways", {"name": "ok", "url": URL, "description": "d" * 8193}, "description"),
        ("/gateways", {"name": "ok", "url": "javascript:alert(1)"}, "url"),
        ("/gateways", {"name": "ok", "url": "data:text/html,<b>x</b>"}, "url"),
        ("/gateways", {"name": "ok", "url": "vbscript:msgbox(1)"}, "url"),
        ("/gateways", {"name": "ok", "url": "file:///etc/passwd"}, "url"),
        ("/gateways", {"name": "ok", "url": "http://127.0.0.1/" + "a" * 2048}, "url"),
        ("/servers", {"name": "bad|name"}, "name"),
        ("/servers", {"name": "icon-js", "icon": "javascript:alert(1)"}, "icon"),
        ("/servers", {"name": "icon-data", "icon": "data:image/svg+xml,<svg onload=alert(1)>"}, "icon"),
        ("/servers", {"name": "icon-vb", "icon": "vbscript:msgbox(1)"}, "icon"),
        ("/servers", {"name": "icon-file", "icon": "file:///etc/passwd"}, "icon"),
        ("/servers", {"name": "icon-case", "icon": " JaVaScRiPt:alert(1)"}, "icon"),
        ("/servers", {"name": "icon-relative", "icon": "//evil.example/x.png"}, "icon"),
        ("/servers", {"name": "ok", "description": "<iframe src=//evil>"}, "description"),
        ("/tokens", {"name": "tab\tname"}, "name"),
        ("/tokens", {"name": "ok", "description": "<a href='javascript:void(0)'>"}, "description"),
    ],
)
def test_bad_rest_inputs_are_422_naming_the_field(stack: h.Stack, path: str, body: dict[str, Any], field: str) -> None:
    with h.rest_client(stack.gateway) as api:
        before = (api.get("/gateways").json(), api.get("/servers").json())
        problem = h.assert_problem(api.post(path, json=body), 422)
        assert problem["field"] == field, problem
        assert (api.get("/gateways").json(), api.get("/servers").json()) == before


def test_an_icon_url_on_update_and_a_good_one(stack: h.Stack) -> None:
    with h.rest_client(stack.gateway) as api:
        created = h.ok_json(api.post("/servers", json={"name": "iconic", "icon": "https://cdn.example.com/i.png"}), 201)
        assert created["icon"] == "https://cdn.example.com/i.png"
        problem = h.assert_problem(api.put(f"/servers/{created['id']}", json={"icon": "javascript:alert(1)"}), 422)
        assert problem["field"] == "icon"
        assert h.ok_json(api.get(f"/servers/{created['id']}"), 200)["icon"] == "https://cdn.example.com/i.png"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("path", ["/gateways", "/servers", "/tokens", "/import"])
def test_rest_writes_take_json_only_as_application_json(stack: h.Stack, path: str, content_type: str | None) -> None:
    body = json.dumps({"name": "sent-as-text", "url": "http://127.0.0.1:9/mcp"}).encode()
    headers = {"content-type": content_type} if content_type else {}
    with h.rest_client(stack.gateway) as api:
        before = (api.get("/gateways").json(), api.get("/servers").json(), api.get("/tokens").json())
        request = api.build_request("POST", path, content=body, headers=headers)
        if content_type is None:
            request.headers.pop("content-type", None)
        problem = h.assert_problem(api.send(request), 415)
        assert "application/json" in problem["detail"], problem
        assert (api.get("/gateways").json(), api.get("/servers").json(), api.get("/tokens").json()) == before
        # The same body as application/json (with a charset) gets past the media type check.
        accepted = api.post(path, content=body, headers={"content-type": "application/json; charset=utf-8"})
        assert accepted.status_code != 415


def test_json_nesting_is_limited_while_parsing(stack: h.Stack) -> None:
    with h.rest_client(stack.gateway) as api:
        deep = json.dumps({"name": "deep", "description": nested(30)})
        problem = h.assert_problem(api.post("/servers", content=deep, headers={"content-type": "application/json"}), 400)
        assert "deeper than 30" in problem["detail"]
        # Within the limit the nesting itself is fine (the field then fails its own type rule).
        shallow = json.dumps({"name": "shallow", "description": nested(28)})
        assert h.assert_problem(api.post("/servers", content=shallow, headers={"content-type": "application/json"}),
                                422)["field"] == "description"
    reply = post_mcp(stack.gateway, "tools/call", {"name": stack.tool("echo"), "arguments": {"text": nested(40)}})
    assert reply["error"]["code"] == -32700 and "deeper than 30" in reply["error"]["message"], reply


def post_mcp(gateway: h.Gateway, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One 2026-07-28 (stateless) request, with extra `_meta` keys merged into the envelope;
    returns the JSON-RPC response (a parse error's has a null id)."""
    extra_meta = params.pop("_meta", {})
    message, headers = h.modern_request(method, params, request_id=7)
    message["params"]["_meta"].update(extra_meta)
    resp = httpx.post(gateway.mcp_url, json=message, timeout=30,
                      headers={"Authorization": f"Bearer {gateway.token}", "Accept": h.ACCEPT_BOTH, **headers})
    for item in h.parse_body(resp.headers.get("content-type", ""), resp.content):
        if isinstance(item, dict) and item.get("id") in (7, None) and ("result" in item or "error" in item):
            return item
    raise AssertionError(f"no response in {resp.status_code} {resp.text[:500]}")


def call(stack: h.Stack, arguments: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": stack.tool("echo"), "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    return post_mcp(stack.gateway, "tools/call", params)


def test_mcp_params_and_meta_limits(stack: h.Stack) -> None:
    assert call(stack, {"text": "fine"}, meta={"progressToken": "p1"}).get("result"), "control call failed"
    too_big = call(stack, {"text": "x" * (256 * 1024)})
    assert too_big["error"]["code"] == -32602 and "params exceed" in too_big["error"]["message"]
    many = call(stack, {"text": "x"}, meta={f"k{i}": i for i in range(17)})
    assert many["error"]["code"] == -32602 and "keys" in many["error"]["message"]
    deep = call(stack, {"text": "x"}, meta={"a": {"b": {"c": 1}}})
    assert deep["error"]["code"] == -32602 and "deeper" in deep["error"]["message"]
    assert call(stack, {"text": "x"}, meta={"a": {"b": 1}}).get("result")  # two levels are fine
    large = call(stack, {"text": "x"}, meta={"blob": "y" * 5000})
    assert large["error"]["code"] == -32602 and "bytes" in large["error"]["message"]


def test_discovered_items_that_break_the_rules_stay_out(tmp_path: Path) -> None:
    upstream = h.or_fail(lambda: h.start_upstream("streamable-http", log_dir=tmp_path, hostile=True))
    try:
        gateway = h.or_fail(lambda: h.start_gateway(tmp_path))
        try:
            with h.rest_client(gateway) as api:
                registered = h.register_gateway(api, "Hostile", upstream)
                tools = {t["originalName"] for t in h.tools_of(api, registered["id"])}
                resources = {r["uri"] for r in h.list_rest(api, "resources") if r["uri"].startswith("hostile://")}
            assert "echo" in tools and "generic_ok" in tools
            for refused in ["bad name!", "-leading-dash", "x" * 129, "scripted", "handler", "linked", "verbose"]:
                assert refused not in tools
            assert resources == {"hostile://fine"}
            log = gateway.process.log()
            assert "discovered item refused" in log and "text/html" in log
        finally:
            gateway.stop()
    finally:
        upstream.stop()
