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
