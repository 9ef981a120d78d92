"""A real MCP upstream server for the gateway's integration tests.

Built on the official Python SDK (`mcp` 2.3.0, `mcp.server.MCPServer`). One process serves one
transport on 127.0.0.1:

    python upstream_server.py --port 9001 --transport streamable-http   # POST/GET/DELETE /mcp
    python upstream_server.py --port 9002 --transport sse               # GET /sse + POST /messages/

With ``--namespace NS`` the resource URIs become ``data://NS/greeting`` and
``data://NS/items/{id}`` (default: ``data://greeting``, ``data://items/{id}``), so several
upstreams can sit behind one gateway without their resource URIs colliding.

With ``--page-size K`` the four list methods (tools/list, resources/list,
resources/templates/list, prompts/list) answer in pages of K items with an opaque
``nextCursor``; MCPServer itself never paginates, so the list handlers are overridden.

Nothing useful is printed to stdout; uvicorn's logs go to stderr. Callers wait for the
port to accept connections.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, Elicit, ListRoots, MCPServer, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CreateMessageResult,
    EmptyResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListRootsRequest,
    ListRootsResult,
    ListToolsResult,
    PaginatedRequestParams,
    PromptReference,
    Resource,
    SamplingMessage,
    SubscribeRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import BaseModel

SERVER_NAME = "integration-upstream"

# Values the tests compare against; keep them in one place.
GREETING_TEXT = "Hello from the integration upstream"
FAREWELL_TEXT = "Goodbye from the integration upstream"
FILLER_TOOL_COUNT = 12  # t01..t12, so a paginated tools/list spans several pages
NAME_COMPLETIONS = ["Ada", "Alan", "Barbara", "Grace"]
LOG_LEVELS = ["debug", "info", "warning", "error"]  # what `chatty` logs, in order
# Tools that talk back to the client during the call (progress, logs, sampling, elicitation) or
# that a client cancels; see build_server.
RELAY_TOOLS = [
    "progress", "chatty", "slow", "slow_status", "ask_sampling", "ask_name", "ask_briefly", "ask_roots", "ask_twice",
    "resolve_sampling", "resolve_name", "resolve_roots", "resolve_twice",
]
# Tools that change the upstream outside calls: add a tool (tools/list_changed), and announce a
# resource update to the sessions subscribed to it.
CHANGE_TOOLS = ["grow", "touch"]
# Ends the upstream process at once (stdio restart tests).
CRASH_TOOLS = ["crash"]
# Reports the headers of the HTTP request that carried the call (header passthrough).
HEADER_TOOLS = ["headers"]

# Tags of `slow` calls that started and that were cancelled (per upstream process).
SLOW_STARTED: set[str] = set()
SLOW_CANCELLED: set[str] = set()


class Sum(BaseModel):
    """Structured result of `add`."""

    sum: int


class Name(BaseModel):
    """What `ask_name` elicits."""

    name: str


def resource_uris(namespace: str | None = None) -> dict[str, str]:
    """The URIs this upstream serves: greeting and farewell (static) and the item template."""
    base = f"data://{namespace}/" if namespace else "data://"
    return {"greeting": f"{base}greeting", "farewell": f"{base}farewell", "item_template": f"{base}items/{{id}}"}


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"]
    except Exception as exc:  # any garbage cursor is the caller's fault
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor") from exc
    if not isinstance(offset, int) or offset < 0:
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor")
    return offset


def _page(items: list[Any], params: PaginatedRequestParams | None, page_size: int) -> tuple[list[Any], str | None]:
    offset = _decode_cursor(params.cursor if params is not None else None)
    if offset > len(items):
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor")
    chunk = items[offset : offset + page_size]
    end = offset + len(chunk)
    return chunk, (_encode_cursor(end) if end < len(items) else None)


_SCHEMA = {"type": "object", "properties": {}}
# Listed with --hostile: items a gateway must keep out of its catalog (names, markup, MIME types),
# next to one harmless item of each kind that must stay.
HOSTILE_TOOLS = [
    Tool(name="bad name!", description="spaces and punctuation", input_schema=_SCHEMA),
    Tool(name="-leading-dash", description="starts with a dash", input_schema=_SCHEMA),
    Tool(name="x" * 129, description="too long a name", input_schema=_SCHEMA),
    Tool(name="scripted", description="Helpful <script>alert(1)</script> tool", input_schema=_SCHEMA),
    Tool(name="handler", description='<img src=x onerror="alert(1)">', input_schema=_SCHEMA),
    Tool(name="linked", title="<a href='javascript:alert(1)'>click</a>", description="ok", input_schema=_SCHEMA),
    Tool(name="verbose", description="d" * 8193, input_schema=_SCHEMA),
    Tool(name="generic_ok", description="Returns List<String> when a < b; harmless text", input_schema=_SCHEMA),
]
HOSTILE_RESOURCES = [
    Resource(uri="hostile://page", name="page", mime_type="text/html"),
    Resource(uri="hostile://blob", name="blob", mime_type="application/x-evil"),
    Resource(uri="hostile://named", name="<svg/onload=alert(1)>", mime_type="text/plain"),
    Resource(uri="hostile://fine", name="fine", mime_type="text/plain; charset=utf-8"),
]


class PagingMCPServer(MCPServer):
    """MCPServer whose list handlers return pages of `page_size` items when a size is set.

    MCPServer binds its `_handle_list_*` methods as the low-level server's handlers in
    `__init__`, so overriding them here replaces what tools/list & co. answer.
    """

    def __init__(self, *args: Any, page_size: int | None = None, hostile: bool = False, **kwargs: Any) -> None:
        self.page_size = page_size
        self.hostile = hostile
        super().__init__(*args, **kwargs)

    async def _handle_list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        tools = await self.list_tools() + (HOSTILE_TOOLS if self.hostile else [])
        if not self.page_size:
            return ListToolsResult(tools=tools)
        chunk, cursor = _page(tools, params, self.page_size)
        return ListToolsResult(tools=chunk, next_cursor=cursor)

    async def _handle_list_resources(self, ctx: Any, params: PaginatedRequestParams | None) -> ListResourcesResult:
        resources = await self.list_resources() + (HOSTILE_RESOURCES if self.hostile else [])
        if not self.page_size:
            return ListResourcesResult(resources=resources)
        chunk, cursor = _page(resources, params, self.page_size)
        return ListResourcesResult(resources=chunk, next_cursor=cursor)

    async def _handle_list_resource_templates(
        self, ctx: Any, params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        templates = await self.list_resource_templates()
        if not self.page_size:
            return ListResourceTemplatesResult(resource_templates=templates)
        chunk, cursor = _page(templates, params, self.page_size)
        return ListResourceTemplatesResult(resource_templates=chunk, next_cursor=cursor)

    async def _handle_list_prompts(self, ctx: Any, params: PaginatedRequestParams | None) -> ListPromptsResult:
        prompts = await self.list_prompts()
        if not self.page_size:
            return ListPromptsResult(prompts=prompts)
        chunk, cursor = _page(prompts, params, self.page_size)
        return ListPromptsResult(prompts=chunk, next_cursor=cursor)


# Resolvers of the `resolve_*` tools (module level: the SDK evaluates their annotations here).
# They ask the client in either era: on the call's stream at 2025-11-25, as `input_required`
# (answered by the client's retry) at 2026-07-28.
def model_answer(prompt: str) -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=32)


def who() -> Elicit[Name]:
    return Elicit("What is your name?", Name)


def client_roots() -> ListRoots:
    return ListRoots()


def who_after_sampling(sampled: Annotated[CreateMessageResult, Resolve(model_answer)]) -> Elicit[Name]:
    return Elicit("What is your name?", Name)


def build_server(
    page_size: int | None = None, namespace: str | None = None, hostile: bool = False, expose_environment: bool = False
) -> PagingMCPServer:
    uris = resource_uris(namespace)
    server = PagingMCPServer(
        SERVER_NAME,
        instructions="Upstream used by the MCP gateway integration tests.",
        version="1.0.0",
        log_level="WARNING",
        page_size=page_size,
        hostile=hostile,
    )

    if expose_environment:

        @server.tool(description="The process's environment variables, as a JSON object (what a hostile server could leak).")
        def environment() -> str:
            return json.dumps(dict(os.environ))

    @server.tool(
        description="Echo the given text back unchanged.",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True),
    )
    def echo(text: str) -> str:
        return text

    @server.tool(description="Add two integers; the result is structured content.")
    def add(a: int, b: int) -> Sum:
        return Sum(sum=a + b)

    @server.tool(
        description="The x-* and W3C trace context headers (and authorization, cookie or the federation hop count) of this call's request."
    )
    def headers(ctx: Context) -> str:
        request = ctx.request_context.request
        seen = {k.lower(): v for k, v in request.headers.items()} if request is not None else {}
        shown = ("authorization", "cookie", "traceparent", "tracestate", "mcp-gateway-hops")
        return json.dumps({k: v for k, v in seen.items() if k.startswith("x-") or k in shown})

    @server.tool(description="Always fails with a tool error (isError result).")
    def fail() -> str:
        raise ToolError("intentional failure from the upstream")

    @server.tool(description="Report progress `steps` times, `delay` seconds apart, then return.")
    async def progress(steps: int, ctx: Context, delay: float = 0.0) -> str:
        for step in range(1, steps + 1):
            if delay and step > 1:
                await anyio.sleep(delay)
            await ctx.report_progress(step, steps, f"step {step}")
        return f"done {steps}"

    @server.tool(description="Log one message at each of debug, info, warning and error.")
    async def chatty(ctx: Context) -> str:
        for level in LOG_LEVELS:
            await ctx.log(level, f"{level} message")  # type: ignore[arg-type]
        return "logged"

    @server.tool(description="Sleep for `seconds`, remembering whether the call was cancelled.")
    async def slow(seconds: float, tag: str) -> str:
        SLOW_STARTED.add(tag)
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            SLOW_CANCELLED.add(tag)
            raise
        return "finished"

    @server.tool(description="Whether the `slow` call with `tag` started and whether it was cancelled.")
    def slow_status(tag: str) -> str:
        return json.dumps({"started": tag in SLOW_STARTED, "cancelled": tag in SLOW_CANCELLED})

    @server.tool(description="Ask the client's model (sampling) and return its answer.")
    async def ask_sampling(prompt: str, ctx: Context) -> str:
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=32,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return f"sampled: {content.text if isinstance(content, TextContent) else content}"

    @server.tool(description="Ask the client's model, but give up after `seconds` (the request is withdrawn).")
    async def ask_briefly(seconds: float, ctx: Context) -> str:
        with anyio.move_on_after(seconds):
            await ctx.session.create_message(
                messages=[SamplingMessage(role="user", content=TextContent(type="text", text="quick"))],
                max_tokens=8,
                related_request_id=ctx.request_id,
            )
            return "answered"
        return "gave up"

    @server.tool(description="Ask the user for a name (elicitation) and greet them.")
    async def ask_name(ctx: Context) -> str:
        result = await ctx.elicit("What is your name?", Name)
        if result.action == "accept" and result.data is not None:
            return f"hello {result.data.name}"
        return f"elicitation {result.action}"

    @server.tool(description="Ask the client for its roots and list their URIs.")
    async def ask_roots(ctx: Context) -> str:
        # On the call's own stream (related to the call), like sampling and elicitation.
        result = await ctx.session.send_request(
            ListRootsRequest(), ListRootsResult, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
        )
        return "roots: " + ",".join(str(root.uri) for root in result.roots)

    @server.tool(description="Report progress, sample, report progress, elicit a name: two questions in one call.")
    async def ask_twice(prompt: str, ctx: Context) -> str:
        await ctx.report_progress(1, 3, "before sampling")
        sampled = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=32,
            related_request_id=ctx.request_id,
        )
        await ctx.report_progress(2, 3, "before elicitation")
        named = await ctx.elicit("What is your name?", Name)
        text = sampled.content.text if isinstance(sampled.content, TextContent) else "?"
        name = named.data.name if named.action == "accept" and named.data is not None else named.action
        return f"{text} / {name}"

    @server.tool(description="Sample the client's model through a resolver (both eras).")
    def resolve_sampling(prompt: str, answer: Annotated[CreateMessageResult, Resolve(model_answer)]) -> str:
        return f"resolved: {answer.content.text if isinstance(answer.content, TextContent) else answer.content}"

    @server.tool(description="Elicit a name through a resolver (both eras).")
    def resolve_name(person: Annotated[Name, Resolve(who)]) -> str:
        return f"hello {person.name}"

    @server.tool(description="List the client's roots through a resolver (both eras).")
    def resolve_roots(roots: Annotated[ListRootsResult, Resolve(client_roots)]) -> str:
        return "roots: " + ",".join(str(root.uri) for root in roots.roots)

    @server.tool(description="Sample, then elicit a name: two rounds of questions (both eras).")
    def resolve_twice(
        prompt: str,
        sampled: Annotated[CreateMessageResult, Resolve(model_answer)],
        person: Annotated[Name, Resolve(who_after_sampling)],
    ) -> str:
        text = sampled.content.text if isinstance(sampled.content, TextContent) else "?"
        return f"{text} / {person.name}"

    # resources/subscribe: MCPServer has no handler of its own, so the low-level one is set here.
    # Subscribers are keyed by their Mcp-Session-Id (the ServerSession object differs per request).
    subscribers: dict[str, dict[str, Any]] = {}

    def subscriber_key(ctx: Any) -> str:
        request = getattr(ctx, "request", None)
        return (request.headers.get("mcp-session-id") if request is not None else None) or str(id(ctx.session))

    async def on_subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        subscribers.setdefault(str(params.uri), {})[subscriber_key(ctx)] = ctx.session
        return EmptyResult()

    async def on_unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        subscribers.get(str(params.uri), {}).pop(subscriber_key(ctx), None)
        return EmptyResult()

    server._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
    server._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)

    @server.tool(description="Announce an update of `uri` to the sessions subscribed to it; returns how many.")
    async def touch(uri: str, ctx: Context) -> str:
        sessions = list(subscribers.get(uri, {}).values())
        for session in sessions:
            await session.send_resource_updated(uri)
        await ctx.notify_resource_updated(uri)  # 2026-07-28: to `subscriptions/listen` streams
        return str(len(sessions))

    @server.tool(description="Add a tool named `name` and announce the list change.")
    async def grow(name: str, ctx: Context) -> str:
        def added() -> str:
            return name

        server.add_tool(added, name=name, description=f"Added at run time: {name}")
        await ctx.session.send_tool_list_changed()  # 2025-11-25: on the session's GET stream
        await ctx.notify_tools_changed()  # 2026-07-28: to `subscriptions/listen` streams
        return f"added {name}"

    @server.tool(description="End this upstream process at once, exit status 3 (stdio restart tests).")
    def crash() -> str:
        os._exit(3)

    def make_filler(index: int) -> None:
        name = f"t{index:02d}"

        def filler() -> str:
            return name

        server.add_tool(filler, name=name, description=f"Filler tool {name} for pagination.")

    for index in range(1, FILLER_TOOL_COUNT + 1):
        make_filler(index)

    @server.resource(uris["greeting"], name="greeting", description="A static greeting.", mime_type="text/plain")
    def greeting() -> str:
        return GREETING_TEXT

    @server.resource(uris["farewell"], name="farewell", description="A static farewell.", mime_type="text/plain")
    def farewell() -> str:
        return FAREWELL_TEXT

    @server.resource(uris["item_template"], name="item", description="One item by id.", mime_type="text/plain")
    def item(id: str) -> str:
        return f"item {id}"

    @server.prompt(description="Greet someone by name.")
    def greet(name: str) -> str:
        return f"Please greet {name} warmly."

    @server.prompt(description="A prompt without arguments.")
    def hello() -> str:
        return "Say hello."

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        if isinstance(ref, PromptReference) and ref.name == "greet" and argument.name == "name":
            values = [v for v in NAME_COMPLETIONS if v.lower().startswith(argument.value.lower())]
            return Completion(values=values, total=len(values), has_more=False)
        return None

    return server


class RefuseInitialize:
    """ASGI middleware (ours, not the SDK's): a POST whose JSON-RPC method is `initialize` gets
    -32601 (HTTP 404, as 2026-07-28 maps it), so the SDK server stands for one that speaks only
    2026-07-28 (`server/discover` and per-request `_meta`); everything else reaches the SDK."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("method") == "initialize":
            error = {"jsonrpc": "2.0", "id": parsed.get("id"), "error": {"code": -32601, "message": "Method not found: initialize"}}
            payload = json.dumps(error).encode()
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": payload})
            return
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def serve_without_initialize(server: MCPServer, host: str, port: int) -> None:
    import uvicorn

    app = RefuseInitialize(server.streamable_http_app(host=host))
    await uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).serve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="required for the HTTP transports")
    parser.add_argument("--transport", choices=["streamable-http", "sse", "stdio"], required=True)
    parser.add_argument("--fail-if-exists", default=None, help="exit with status 1 at start when this file exists")
    parser.add_argument("--page-size", type=int, default=None)
    parser.add_argument("--host", default="127.0.0.1", help="address of the HTTP transports")
    parser.add_argument("--hostile", action="store_true", help="also list tools and resources a gateway must refuse")
    parser.add_argument("--namespace", default=None, help="resource URI namespace (letters, digits, '-')")
    parser.add_argument("--expose-environment", action="store_true", help="add a tool returning os.environ")
    parser.add_argument(
        "--refuse-initialize", action="store_true",
        help="streamable HTTP only: answer initialize with -32601, as a server speaking only 2026-07-28",
    )
    args = parser.parse_args(argv)
    if args.page_size is not None and args.page_size < 1:
        parser.error("--page-size must be at least 1")

    if args.namespace is not None and not args.namespace.replace("-", "").isalnum():
        parser.error("--namespace takes letters, digits and '-'")

    if args.fail_if_exists and os.path.exists(args.fail_if_exists):
        print(f"{SERVER_NAME}: refusing to start ({args.fail_if_exists} exists)", file=sys.stderr, flush=True)
        return 1
    if args.transport != "stdio" and args.port is None:
        parser.error("--port is required for the HTTP transports")
    server = build_server(args.page_size, args.namespace, args.hostile, args.expose_environment)
    if args.transport == "stdio":
        print(f"{SERVER_NAME}: serving on stdio", file=sys.stderr, flush=True)
        anyio.run(server.run_stdio_async)
    elif args.transport == "streamable-http" and args.refuse_initialize:
        anyio.run(lambda: serve_without_initialize(server, args.host, args.port))
    elif args.transport == "streamable-http":
        anyio.run(lambda: server.run_streamable_http_async(host=args.host, port=args.port))
    else:
        anyio.run(lambda: server.run_sse_async(host=args.host, port=args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
