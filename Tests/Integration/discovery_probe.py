"""Runs inside a network namespace that has only loopback (see test_federation_discovery.py),
whose /etc/hosts gives `peers.test` two addresses, 127.0.0.2 and 127.0.0.3: a peer gateway
listens on each (same port), and a gateway with FEDERATION_DISCOVERY=dns:peers.test:PORT must
register both as peers, deactivate one whose address leaves the name, and activate it again when
it comes back. Prints one line per check and exits non-zero when any failed."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx

import mcp_helpers as h

FAILURES: list[str] = []
HOSTS_BOTH = "127.0.0.1 localhost\n127.0.0.2 peers.test\n127.0.0.3 peers.test\n"
HOSTS_ONE = "127.0.0.1 localhost\n127.0.0.2 peers.test\n"


def check(name: str, condition: bool, detail: Any = "") -> None:
    print(f"{'ok  ' if condition else 'FAIL'} {name}  {detail}", flush=True)
    if not condition:
        FAILURES.append(name)


def start_peer(workdir: Path, host: str, port: int, secret: str) -> tuple[h.ManagedProcess, dict[str, str]]:
    """A peer gateway on host:port (its own SQLite, so its own gateway id) with its own upstream."""
    env = h.gateway_env(port, workdir, secret)
    env.update(HOST=host, GATEWAY_NAME=f"Peer {host}")
    process = h.spawn(f"peer-{host}", [str(h.check_gateway_binary()), "serve"], log_dir=workdir, env=env)
    base = f"http://{host}:{port}"
    h.wait_until(lambda: ready(base), timeout=20, what=f"the peer on {host}")
    return process, env


def ready(base: str) -> bool | None:
    try:
        return httpx.get(f"{base}/ready", timeout=2).status_code == 200 or None
    except httpx.TransportError:
        return None


def gateways(gateway: h.Gateway) -> dict[str, dict[str, Any]]:
    with h.rest_client(gateway) as api:
        listed = h.ok_json(api.get("/gateways", params={"limit": 0, "include_inactive": "true"}))
        return {g["name"]: g for g in listed if g["name"].startswith("peers-test-")}


def main(workdir: Path, hosts: Path) -> int:
    hosts.write_text(HOSTS_BOTH)
    port = h.free_port()
    secret = h.random_secret()
    started: list[h.ManagedProcess] = []
    try:
        upstreams = [h.start_upstream("streamable-http", log_dir=workdir, namespace=f"disc-{i}") for i in (2, 3)]
        started += [u.process for u in upstreams]
        peer_envs = []
        for index, host in ((2, "127.0.0.2"), (3, "127.0.0.3")):
            process, env = start_peer(workdir / f"peer{index}", host, port, secret)
            started.append(process)
            peer_envs.append(env)
            peer = h.Gateway(binary=h.check_gateway_binary(), port=port, env=env, process=process, workdir=workdir)
            token = h.mint_token(peer)
            with httpx.Client(base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
                h.register_gateway(api, "peer-local", upstreams[index - 2])
        token_file = workdir / "peer-token"
        # The peers share their JWT secret, so one token (minted with the first's) opens both.
        first = h.Gateway(binary=h.check_gateway_binary(), port=port, env=peer_envs[0], process=started[2], workdir=workdir)
        token_file.write_text(h.mint_token(first, "federation@example.com", admin=False) + "\n")
        gateway = h.start_gateway(workdir / "federating", extra_env={
            "FEDERATION_DISCOVERY": f"dns:peers.test:{port}",
            "FEDERATION_PEER_TOKEN_FILE": str(token_file),
            "FEDERATION_SYNC_INTERVAL": "2",
        })
        started.append(gateway.process)

        both = h.wait_until(lambda: (lambda g: g if len(g) == 2 and all(x["enabled"] for x in g.values()) else None)(gateways(gateway)),
                            timeout=30, what="both discovered peers")
        check("both addresses registered as peers", sorted(both) == ["peers-test-127-0-0-2", "peers-test-127-0-0-3"], sorted(both))
        check("both recognised as peers with different ids",
              all(g["peer"] for g in both.values()) and len({g["peerGatewayId"] for g in both.values()}) == 2,
              [(g["name"], g["peer"], g["peerGatewayId"]) for g in both.values()])
        check("their urls are the discovered addresses",
              {g["url"] for g in both.values()} == {f"http://127.0.0.2:{port}/mcp", f"http://127.0.0.3:{port}/mcp"},
              [g["url"] for g in both.values()])
        tool = h.prefixed("peers-test-127-0-0-3", h.prefixed("peer-local", "echo"))
        with h.rest_client(gateway) as api:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {"text": "found"}}}
            reply = api.post("/rpc", json=body).json()
        check("a call reaches the discovered peer", reply.get("result", {}).get("content", [{}])[0].get("text") == "found", reply)

        hosts.write_text(HOSTS_ONE)
        gone = h.wait_until(lambda: (lambda g: g if not g["peers-test-127-0-0-3"]["enabled"] else None)(gateways(gateway)),
                            timeout=20, what="the vanished address deactivated")
        check("a vanished address is deactivated, the other kept",
              not gone["peers-test-127-0-0-3"]["enabled"] and gone["peers-test-127-0-0-2"]["enabled"],
              {n: g["enabled"] for n, g in gone.items()})
        names = h.tool_names_via_mcp(gateway.mcp_url, gateway.token, mode="legacy")
        check("its tools leave the catalog", tool not in names and any(n.startswith("peers-test-127-0-0-2") for n in names), len(names))

        hosts.write_text(HOSTS_BOTH)
        back = h.wait_until(lambda: (lambda g: g if g["peers-test-127-0-0-3"]["enabled"] else None)(gateways(gateway)),
                            timeout=20, what="the returning address activated")
        check("a returning address is activated again", back["peers-test-127-0-0-3"]["enabled"], len(back))
        check("no duplicate registrations", len(back) == 2, sorted(back))
    finally:
        for process in reversed(started):
            process.stop()
    if FAILURES:
        print(f"{len(FAILURES)} checks failed", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
