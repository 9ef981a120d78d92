-- wrk script: one MCP tools/call per request.
-- Environment: BENCH_MODE = stateless (2026-07-28, default) | session (2025-11-25, needs BENCH_SESSION)
--              BENCH_TOOL (default echo), BENCH_TOKEN (bearer token, optional)
-- Every response that is not HTTP 200 with a JSON-RPC "result" counts as an error; done() prints
-- "errors N" so the runner can refuse a benchmark that measured failures.
local mode = os.getenv("BENCH_MODE") or "stateless"
local tool = os.getenv("BENCH_TOOL") or "echo"
local token = os.getenv("BENCH_TOKEN")
local session = os.getenv("BENCH_SESSION")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
if token and token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if mode == "stateless" then
  wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
  wrk.headers["Mcp-Method"] = "tools/call"
  wrk.headers["Mcp-Name"] = tool
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool ..
    '","arguments":{"text":"hello"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
    '"io.modelcontextprotocol/clientCapabilities":{}}}}'
else
  wrk.headers["Mcp-Session-Id"] = session
  wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
  wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' .. tool .. '","arguments":{"text":"hello"}}}'
end

-- BENCH_UNIQUE_IDS=1: every request gets its own JSON-RPC id, as a real client's would (servers
-- that track requests by id, like the Python SDK, must not see thousands of concurrent id 1).
if os.getenv("BENCH_UNIQUE_IDS") == "1" then
  local template = wrk.body
  local counter = 0
  request = function()
    counter = counter + 1
    local body = string.gsub(template, '"id":1,', '"id":' .. counter .. ',', 1)
    return wrk.format(nil, nil, nil, body)
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) errors = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) then errors = errors + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("errors") end
  io.write(string.format("errors %d\n", total))
end
