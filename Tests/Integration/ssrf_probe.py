"""Runs inside a network namespace that has only loopback (see test_ssrf.py): starts gateways
with different SSRF settings and checks what they refuse. Prints one line per check and exits
non-zero when any failed. Nothing here can reach a real address: the namespace has no route."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import mcp_helpers as h

FAILURES: list[str] = []


def check(name: str, condition: bool, detail: Any = "") -> None:
    print(f"{'ok  ' if condition else 'FAIL'} {name}  {detail}", flush=True)
    if not condition:
        FAILURES.append(name)


def register(gateway: h.Gateway, url: str, transport: str = "STREAMABLEHTTP", name: str = "target") -> httpx.Response:
    with h.rest_client(gateway) as api:
        return api.post("/gateways", json={"name": name, "url": url, "transport": transport})


def expect_refused(gateway: h.Gateway, url: str, reason: str, transport: str = "STREAMABLEHTTP") -> None:
    resp = register(gateway, url, transport)
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/problem+json") else {}
    check(f"{url} ({transport}) refused: {reason}",
          resp.status_code == 422 and body.get("field") == "url" and reason in body.get("detail", ""),
          f"{resp.status_code} {resp.text[:300]}")


def call_echo(gateway: h.Gateway, tool: str) -> str:
    async def body() -> str:
        async with h.connect(gateway.mcp_url, token=gateway.token, mode="modern") as client:
            result = await client.call_tool(tool, {"text": "hi"})
            return ("error: " if result.is_error else "") + result.content[0].text

    try:
        return h.run(body)
    except Exception as exc:  # noqa: BLE001 - the failure itself is what is checked
        return f"error: {exc!r}"


class Trap:
    """A listener on a refused address that counts the connections reaching it (each closed at
    once): the witness that nothing connected to a second resolution of a re-bound name."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1  # before the close the connecting side sees
            conn.close()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def start_sse_upstream(workdir: Path, host: str, port: int) -> h.ManagedProcess:
    """An SSE upstream listening on `host` only (h.start_upstream waits on 127.0.0.1, the trap)."""
    argv = [sys.executable, str(h.UPSTREAM_SCRIPT), "--port", str(port), "--transport", "sse", "--host", host]
    proc = h.spawn(f"upstream-sse-{host}-{port}", argv, log_dir=workdir, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.running():
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.stop()
    raise RuntimeError(f"the SSE upstream did not listen on {host}:{port}:\n{proc.log()}")


def point_rebind_test_at(hosts_file: Path, address: str) -> None:
    lines = [line for line in hosts_file.read_text().splitlines() if not line.endswith(" rebind.test")]
    hosts_file.write_text("\n".join([*lines, f"{address} rebind.test"]) + "\n")


def check_sse_rebinding(gateway: h.Gateway, workdir: Path, hosts_file: Path) -> None:
    """DNS re-binding of a legacy SSE upstream (a long GET stream plus POSTs to the endpoint it
    announces). The upstream listens on 127.0.0.2 only and a trap on 127.0.0.1, the same port:
    a connection made to a second resolution of the name after re-binding reaches the trap.
    The re-bound streams are opened within a second or two of the name's last check."""
    workdir = workdir / "sse-rebind"
    trap = Trap("127.0.0.1")
    port = trap.port
    url = f"http://rebind.test:{port}/sse"
    point_rebind_test_at(hosts_file, "127.0.0.2")
    upstream = start_sse_upstream(workdir, "127.0.0.2", port)
    try:
        resp = register(gateway, url, transport="SSE", name="rebind-sse")
        check("an allow-listed SSE upstream registers", resp.status_code in (200, 201), resp.text[:300])
        check("SSE calls work while the name points at the allowed address",
              call_echo(gateway, "rebind-sse-echo") == "hi", "")
        point_rebind_test_at(hosts_file, "127.0.0.1")
        # The upstream's stream is long-lived: stopping the upstream ends it and every kept-alive
        # POST connection (the process has exited when stop() returns), so the next call has to
        # open a new stream.
        upstream.stop()
        answer = call_echo(gateway, "rebind-sse-echo")
        check("after re-binding to loopback the SSE upstream's next stream is refused",
              answer.startswith("error") and "loopback" in answer, answer[:300])
        check("and nothing connected to the re-bound address", trap.accepted == 0, f"{trap.accepted} connections")
        # A new registration: a new session, so a new stream and new POSTs.
        resp = register(gateway, url, transport="SSE", name="rebind-sse-again")
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/problem+json") else {}
        check("a new SSE upstream on the re-bound name is refused",
              resp.status_code == 422 and "loopback" in body.get("detail", ""), f"{resp.status_code} {resp.text[:300]}")
        check("still nothing connected to the re-bound address", trap.accepted == 0, f"{trap.accepted} connections")
        point_rebind_test_at(hosts_file, "127.0.0.2")
        upstream = start_sse_upstream(workdir, "127.0.0.2", port)
        check("and the SSE upstream works again once the name points back",
              call_echo(gateway, "rebind-sse-echo") == "hi", "")
    finally:
        upstream.stop()
        trap.close()


def main(workdir: Path, hosts_file: Path) -> int:
    try:
        socket.create_connection(("169.254.169.254", 80), timeout=2).close()
        check("the namespace has no route out", False, "169.254.169.254 answered")
        return 1
    except OSError as exc:
        check("the namespace has no route out", True, repr(exc))

    upstream = h.start_upstream("streamable-http", log_dir=workdir, host="0.0.0.0")
    port = upstream.port
    try:
        # Defaults (what an operator gets): nothing but public addresses.
        strict = h.start_gateway(workdir / "strict", extra_env={"SSRF_ALLOW_LOCALHOST": "false"})
        try:
            for url, reason in [
                ("http://169.254.169.254/mcp", "metadata"),
                ("http://[fd00:ec2::254]/mcp", "metadata"),
                ("http://[::ffff:169.254.169.254]/mcp", "metadata"),
                ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
                ("http://sneaky.test/mcp", "metadata"),  # a name that resolves to the metadata address
                ("http://169.254.1.1/mcp", "link-local"),
                ("http://10.1.2.3/mcp", "private"),
                ("http://192.168.0.10/mcp", "private"),
                ("http://private.test/mcp", "private"),
                (f"http://127.0.0.1:{port}/mcp", "loopback"),
                (f"http://localhost:{port}/mcp", "loopback"),
                (f"http://[::1]:{port}/mcp", "loopback"),
                (f"http://2130706433:{port}/mcp", "loopback"),  # 127.0.0.1 written as one number
                (f"http://0x7f.1:{port}/mcp", "loopback"),  # and in inet_aton's short hex form
                (f"http://0.0.0.0:{port}/mcp", "not a unicast address"),
                # IPv6 forms that a translator or tunnel delivers to an IPv4 address, and cloud
                # host services that are not at 169.254.169.254.
                ("http://[64:ff9b::a9fe:a9fe]/mcp", "metadata"),  # NAT64 of 169.254.169.254
                ("http://[::169.254.169.254]/mcp", "metadata"),  # IPv4-compatible
                ("http://[2002:a9fe:a9fe::1]/mcp", "metadata"),  # 6to4
                ("http://168.63.129.16/mcp", "metadata"),  # Azure WireServer
                (f"http://[64:ff9b::7f00:1]:{port}/mcp", "loopback"),
                ("http://[2002:a01:203::1]/mcp", "private"),
                ("http://[64:ff9b::a00:1]/mcp", "private"),
            ]:
                expect_refused(strict, url, reason)
            expect_refused(strict, "http://169.254.169.254/sse", "metadata", transport="SSE")
            expect_refused(strict, f"http://127.0.0.1:{port}/sse", "loopback", transport="SSE")
            with h.rest_client(strict) as api:
                check("nothing was registered", api.get("/gateways").json() == [], api.get("/gateways").text[:200])
        finally:
            strict.stop()

        # Loopback and private ranges allowed explicitly: metadata and link-local stay refused.
        lenient = h.start_gateway(
            workdir / "lenient", extra_env={"SSRF_ALLOW_LOCALHOST": "true", "SSRF_ALLOW_PRIVATE_NETWORKS": "true"})
        try:
            resp = register(lenient, f"http://127.0.0.1:{port}/mcp", name="loop")
            check("loopback registers when allowed", resp.status_code in (200, 201), resp.text[:200])
            expect_refused(lenient, "http://169.254.169.254/mcp", "metadata")
            expect_refused(lenient, "http://169.254.1.1/mcp", "link-local")
            resp = register(lenient, "http://10.1.2.3/mcp", name="private")
            check("a private address passes the guard when allowed (then cannot connect: 502)",
                  resp.status_code == 502, f"{resp.status_code} {resp.text[:200]}")
        finally:
            lenient.stop()

        # DNS re-binding: allowed at registration, re-bound to a refused address later.
        hosts_file.write_text(hosts_file.read_text().replace("127.0.0.1 rebind.test", "127.0.0.2 rebind.test"))
        allow_list = h.start_gateway(
            workdir / "rebind", extra_env={"SSRF_ALLOW_LOCALHOST": "false", "SSRF_ALLOWED_NETWORKS": "127.0.0.2/32"})
        try:
            resp = register(allow_list, f"http://rebind.test:{port}/mcp", name="rebind")
            check("an allow-listed address registers", resp.status_code in (200, 201), resp.text[:300])
            check("calls work while the name points at the allowed address",
                  call_echo(allow_list, "rebind-echo") == "hi", "")
            hosts_file.write_text(hosts_file.read_text().replace("127.0.0.2 rebind.test", "127.0.0.1 rebind.test"))
            time.sleep(5)  # past the pool's 4 s idle reuse: the next call opens a new connection
            answer = call_echo(allow_list, "rebind-echo")
            check("after re-binding to loopback the next connection is refused",
                  answer.startswith("error") and "loopback" in answer, answer[:300])
            hosts_file.write_text(hosts_file.read_text().replace("127.0.0.1 rebind.test", "127.0.0.2 rebind.test"))
            check("and allowed again once the name points back", call_echo(allow_list, "rebind-echo") == "hi", "")
            check_sse_rebinding(allow_list, workdir, hosts_file)
        finally:
            allow_list.stop()
    finally:
        upstream.stop()
    print(f"{len(FAILURES)} failed: {FAILURES}" if FAILURES else "all checks passed", flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
