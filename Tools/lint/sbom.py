"""Writes the CycloneDX 1.6 SBOM of the gateway: every Swift package of the resolved graph
(`swift package show-dependencies --format json`), with versions, package URLs and who depends
on whom. Built with the CycloneDX library and validated against the CycloneDX JSON schema
before it is written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

ROOT = Path(__file__).resolve().parents[2]


def component(package: dict[str, Any]) -> Component:
    match = re.match(r"https://github\.com/([^/]+)/([^/]+?)(\.git)?/?$", package["url"])
    owner = match.group(1) if match else None
    version = package["version"]
    return Component(
        type=ComponentType.LIBRARY, name=package["name"], group=owner, version=version,
        purl=PackageURL(type="swift", namespace=f"github.com/{owner}" if owner else None, name=package["name"],
                        version=version),
        bom_ref=f"swift:{package['identity']}@{version}",
    )


def main(output: Path) -> int:
    graph = json.loads(subprocess.run(
        ["swift", "package", "show-dependencies", "--format", "json"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout)
    bom = Bom()
    root = Component(type=ComponentType.APPLICATION, name=graph["name"], version="0.1.0", bom_ref=graph["identity"])
    bom.metadata.component = root
    components: dict[str, Component] = {}

    def visit(package: dict[str, Any]) -> Component:
        identity = package["identity"]
        if identity not in components:
            components[identity] = component(package)
            bom.components.add(components[identity])
            children = [visit(child) for child in package["dependencies"]]
            if children:
                bom.register_dependency(components[identity], children)
        return components[identity]

    bom.register_dependency(root, [visit(package) for package in graph["dependencies"]])
    text = JsonV1Dot6(bom).output_as_string(indent=2)
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if errors:
        print(f"the SBOM does not validate: {errors}", file=sys.stderr)
        return 1
    output.write_text(text + "\n")
    print(f"wrote {output.relative_to(ROOT)}: {len(components)} Swift packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "sbom.cdx.json"))
