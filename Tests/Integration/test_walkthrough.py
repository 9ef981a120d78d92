"""The README's walk-through works after `make run` alone, on a fresh machine: everything it runs
(the gateway binary, `.venv/bin/python` with the MCP SDK, the test upstream) is made by `make run`
or is in the repository. Checked on make's own plan, with the venv pointed at a fresh path."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("## Walk-through"):text.index("## Commands")]


def test_make_run_makes_what_the_walkthrough_runs(tmp_path: Path) -> None:
    steps = walkthrough()
    assert "make run" in steps
    venv = tmp_path / "fresh-venv"
    plan = subprocess.run(["make", "-n", "run", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    commands = plan.stdout
    assert "swift build --product mcpgateway" in commands
    if ".venv/bin/python" in steps:
        assert f"-m venv {venv}" in commands, "make run does not create the venv the walk-through uses"
        assert f"{venv}/bin/pip install" in commands and "Tests/Integration/requirements.txt" in commands
    for script in re.findall(r"\.venv/bin/python (\S+\.py)", steps):
        assert (REPO / script).is_file(), script
    for binary in re.findall(r"(\.build/debug/\w+)", steps):
        assert binary == ".build/debug/mcpgateway", binary


def test_the_readme_client_runs_as_written_against_the_walkthrough_upstream(tmp_path: Path) -> None:
    """The README's Python client, verbatim but for the gateway's address: in the SDK's default
    mode (2026-07-28) it lists, calls, and calls a tool that asks it for sampling mid-call."""
    import os
    import sys

    import mcp_helpers as h

    block = re.search(r"```python\n(import asyncio.*?)```", walkthrough(), re.S)
    assert block is not None, "the walk-through has no Python client"
    with h.private_stack(tmp_path, "demo") as stack:
        script = block.group(1).replace("http://127.0.0.1:4444/mcp", stack.gateway.mcp_url)
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "TOKEN": stack.gateway.token},
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert "demo-ask_sampling" in lines[0], lines
    assert lines[1:] == ["hello", "sampled: 42"], lines
