"""The SSRF guard, tested where a failure cannot hurt: the gateway runs inside a network
namespace that has only loopback (`ip netns`), with its own /etc/hosts, so names can resolve to
metadata, private and re-bound addresses without any of them being reachable. The checks are in
ssrf_probe.py, which runs inside the namespace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import mcp_helpers as h

HERE = Path(__file__).resolve().parent
HOSTS = """127.0.0.1 localhost
::1 localhost
169.254.169.254 sneaky.test
10.1.2.3 private.test
127.0.0.1 rebind.test
"""


@pytest.fixture
def namespace() -> Iterator[tuple[str, Path]]:
    with h.loopback_namespace("mcpgw-ssrf", HOSTS) as made:
        yield made


def test_ssrf_guard_inside_a_loopback_only_namespace(namespace: tuple[str, Path], tmp_path: Path) -> None:
    name, hosts = namespace
    done = subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, str(HERE / "ssrf_probe.py"), str(tmp_path), str(hosts)],
        capture_output=True, text=True, timeout=240, cwd=HERE, stdin=subprocess.DEVNULL,
    )
    print(done.stdout)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"
    assert "all checks passed" in done.stdout
