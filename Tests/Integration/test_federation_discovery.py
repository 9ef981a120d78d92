"""DNS peer discovery (FEDERATION_DISCOVERY=dns:NAME:PORT), tested where names can be made up:
inside a network namespace with only loopback (`ip netns`), whose /etc/hosts gives one name two
127.0.0.x addresses with a peer gateway on each. The checks are in discovery_probe.py, which runs
inside the namespace (the test process cannot reach the namespace's loopback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import mcp_helpers as h

HERE = Path(__file__).resolve().parent


@pytest.fixture
def namespace() -> Iterator[tuple[str, Path]]:
    with h.loopback_namespace("mcpgw-disc", "127.0.0.1 localhost\n") as made:
        yield made


@pytest.mark.timeout(180)
def test_dns_discovery_registers_deactivates_and_reactivates_peers(namespace: tuple[str, Path], tmp_path: Path) -> None:
    name, hosts = namespace
    done = subprocess.run(
        ["ip", "netns", "exec", name, sys.executable, str(HERE / "discovery_probe.py"), str(tmp_path), str(hosts)],
        capture_output=True, text=True, timeout=170, cwd=HERE, stdin=subprocess.DEVNULL,
    )
    print(done.stdout)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"
    assert "all checks passed" in done.stdout
