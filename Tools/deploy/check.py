#!/usr/bin/env python3
"""`make deploy-check`: validates every deployment artifact with real tools.

- deploy/Dockerfile: hadolint, checkov.
- charts/mcp-gateway: helm lint --strict (default, ci/production-values.yaml, ci/dev-values.yaml);
  every key of values.yaml commented; values.schema.json and the chart's own checks reject bad
  values (negative cases).
- Rendered manifests (helm template x3; kubectl kustomize base, overlays/dev with a throw-away
  secrets.env, overlays/production): kubernetes-validate --strict against Kubernetes 1.29 (the
  kubectl version used); ServiceMonitors against the Prometheus Operator CRD's v1 schema
  (Tools/deploy/schemas); invariants a schema cannot express (security contexts, probes,
  NODE_ADDRESS, drain time, no literal secrets, NetworkPolicy ports…); the kustomize overlays
  equal to the chart with the matching values; the gateway binary (when built) accepts every
  rendered environment; checkov on every render.
- docker-compose.yml: the compose-spec JSON schema (Tools/deploy/schemas), then the cluster's
  invariants (healthchecks, depends_on conditions, NODE_ADDRESS, TRUSTED_PROXIES, no secret
  literals, .env.example in step with the file).
- deploy/nginx/nginx.conf: `nginx -t`, then nginx runs in front of three small HTTP servers on
  loopback to show round-robin, X-Forwarded-For, keep-alive and unbuffered server-sent events.
- deploy/grafana/mcp-gateway-dashboard.json: structure, only metrics and labels from
  Tools/deploy/metrics.txt (and all of them), PromQL parsed by promtool.

Every negative case proves that the check in question can fail. Ends with "N passed, N failed".
"""

from __future__ import annotations

import copy
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TOOLS = ROOT / "tools"
HELM = str(TOOLS / "helm")
KUBECTL = str(TOOLS / "kubectl")
PROMTOOL = str(TOOLS / "promtool")
CHART = ROOT / "charts" / "mcp-gateway"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DEV_VALUES = CHART / "ci" / "dev-values.yaml"
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
DASHBOARD = ROOT / "deploy" / "grafana" / "mcp-gateway-dashboard.json"
CHART_DASHBOARD = CHART / "dashboards" / "mcp-gateway.json"
METRICS = ROOT / "Tools" / "deploy" / "metrics.txt"
SCHEMAS = ROOT / "Tools" / "deploy" / "schemas"
DEPLOY_README = ROOT / "deploy" / "README.md"
KUBERNETES_VERSION = "1.29.0"  # kubectl v1.29 from kube-tools.txt
RELEASE = "mcp-gateway"
NAMESPACE = "mcp-gateway"
# Environment variables that carry credentials, wherever they appear.
SECRET_VARIABLES = {
    "JWT_SECRET_KEY", "AUTH_ENCRYPTION_SECRET", "AUTH_ENCRYPTION_SECRET_PREVIOUS", "METRICS_BEARER_TOKEN",
    "DATABASE_URL", "REDIS_URL", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
}

WORK = Path(tempfile.mkdtemp(prefix="deploy-check-"))
RENDERS: dict[str, list[dict[str, Any]]] = {}


class Failure(Exception):
    pass


def need(condition: Any, message: str) -> None:
    if not condition:
        raise Failure(message)


def run(cmd: list[str], *, check: bool = True, cwd: Path = ROOT, env: dict[str, str] | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise Failure(f"`{' '.join(cmd)}` exited {result.returncode}:\n{output[-4000:]}")
    return result


def must_fail(cmd: list[str], why: str, expect: str | None = None, **kwargs: Any) -> None:
    result = run(cmd, check=False, **kwargs)
    output = result.stdout + result.stderr
    need(result.returncode != 0, f"negative case passed but must fail ({why}): {' '.join(cmd)}")
    if expect:
        need(expect in output, f"negative case failed for another reason than {expect!r} ({why}):\n{output[-2000:]}")


def load_all(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


# ---------------------------------------------------------------------------------------------
# Steps

STEPS: list[tuple[str, Callable[[], str | None]]] = []


def step(name: str) -> Callable[[Callable[[], str | None]], Callable[[], str | None]]:
    def register(function: Callable[[], str | None]) -> Callable[[], str | None]:
        STEPS.append((name, function))
        return function
    return register


@step("hadolint deploy/Dockerfile")
def hadolint() -> str:
    run([str(VENV_BIN / "hadolint"), "--failure-threshold", "info", "deploy/Dockerfile"])
    bad = WORK / "Dockerfile.bad"
    bad.write_text("FROM debian:latest\nRUN apt-get update && apt-get install -y curl\n")
    must_fail([str(VENV_BIN / "hadolint"), str(bad)], "latest tag, unpinned apt, no cleanup", "DL3007")
    return "no findings; a bad Dockerfile is rejected"


# ---- helm ---------------------------------------------------------------------------------


@step("helm lint --strict (default, production, dev values)")
def helm_lint() -> str:
    run([HELM, "lint", "--strict", str(CHART)])
    run([HELM, "lint", "--strict", str(CHART), "-f", str(PRODUCTION_VALUES)])
    run([HELM, "lint", "--strict", str(CHART), "-f", str(DEV_VALUES)])
    return "3 value sets lint clean"


def undocumented_values(text: str) -> list[str]:
    """Keys of values.yaml the chart defines (the schema's properties) without a comment above."""
    lines = text.splitlines()
    schema = json.loads((CHART / "values.schema.json").read_text())
    missing: list[str] = []

    def walk(node: Any, properties: dict[str, Any], path: list[str]) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key_node, value_node in node.value:
            key, line = key_node.value, key_node.start_mark.line
            if key not in properties:
                missing.append(".".join(path + [key]) + " (not in values.schema.json)")
                continue
            if line == 0 or not lines[line - 1].strip().startswith("#"):
                missing.append(".".join(path + [key]))
            # Free-form maps (labels, annotations, Kubernetes objects) and Kubernetes-shaped values
            # (resources, strategies) are documented as a whole.
            if "properties" in properties[key] and key not in ("resources", "updateStrategy"):
                walk(value_node, properties[key]["properties"], path + [key])

    walk(yaml.compose(text), schema["properties"], [])
    return missing


@step("values.yaml documents every key; values.schema.json knows every key")
def values_documented() -> str:
    text = (CHART / "values.yaml").read_text()
    missing = undocumented_values(text)
    need(not missing, "values.yaml keys without a comment: " + ", ".join(missing))
    caught = undocumented_values(text.replace("\nreplicaCount:", "\n\nreplicaCount:") + "bogusKey: 1\n")
    need(caught == ["replicaCount", "bogusKey (not in values.schema.json)"], f"undocumented keys not caught: {caught}")
    return "every chart-defined key has a comment; an undocumented and an unknown key are caught"


BAD_VALUES = [
    (["--set", "replicaCount=-1"], "replicaCount"),
    (["--set", "replicaCount=two"], "replicaCount"),
    (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    (["--set", "config.logLevel=verbose"], "logLevel"),
    (["--set", "config.shutdownDrainTimeout=0"], "shutdownDrainTimeout"),
    (["--set", "replicas=3"], "replicas"),  # misspelt key: additionalProperties false
    (["--set", "secret.jwtSecretKey=too-short"], "jwtSecretKey"),
    (["--set", "secret.databaseUrl=mysql://db/x"], "databaseUrl"),
    (["--set", "config.extraEnv.JWT_SECRET_KEY=x"], "extraEnv"),
    (["--set", "config.extraEnv.IDENTITY_PROPAGATION_PRIVATE_KEY_FILE=/k.pem"], "extraEnv"),
    (["--set", "image.digest=latest"], "digest"),
    (["--set", "service.type=ExternalName"], "type"),
]
# The chart's own checks (`fail` in templates/_helpers.tpl). helm lint only logs a template's
# `fail` as INFO, so these are rendered with helm template, which stops on it.
BAD_RENDERS = [
    (["--set", "terminationGracePeriodSeconds=30"], "terminationGracePeriodSeconds"),
    (["--set", "serviceMonitor.enabled=true", "--set", "config.metricsEnabled=false"], "metricsEnabled"),
    (["--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=5", "--set", "autoscaling.maxReplicas=3"], "minReplicas"),
    (["--set", "ingress.enabled=true", "--set", "ingress.hosts=null"], "ingress.hosts"),
    (["--set", "federation.identityPropagation.enabled=true"], "privateKeySecret"),
]


@step("chart rejects bad values (values.schema.json and template checks)")
def helm_negative() -> str:
    for args, expect in BAD_VALUES:
        must_fail([HELM, "lint", "--strict", str(CHART), *args], " ".join(args), expect)
    for args, expect in BAD_RENDERS:
        must_fail([HELM, "template", RELEASE, str(CHART), *args], " ".join(args), expect)
    return f"{len(BAD_VALUES)} bad value sets rejected by helm lint, {len(BAD_RENDERS)} by the chart's checks"


# ---- rendering ------------------------------------------------------------------------------


def helm_template(name: str, *args: str) -> None:
    text = run([HELM, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]).stdout
    (WORK / "renders").mkdir(exist_ok=True)
    (WORK / "renders" / f"{name}.yaml").write_text(text)
    RENDERS[name] = load_all(text)


def kustomize(name: str, path: Path) -> None:
    text = run([KUBECTL, "kustomize", str(path)]).stdout
    (WORK / "renders").mkdir(exist_ok=True)
    (WORK / "renders" / f"{name}.yaml").write_text(text)
    RENDERS[name] = load_all(text)


@step("render: helm template x3, kubectl kustomize base/dev/production")
def render() -> str:
    helm_template("helm-default")
    helm_template("helm-production", "-f", str(PRODUCTION_VALUES))
    helm_template("helm-dev", "-f", str(DEV_VALUES))
    kustomize("kustomize-base", K8S / "base")
    kustomize("kustomize-production", K8S / "overlays" / "production")
    # The dev overlay generates its Secret from a git-ignored secrets.env: render a copy with a
    # throw-away one, as a fresh clone has none.
    copy_dir = WORK / "k8s"
    shutil.copytree(K8S, copy_dir, ignore=shutil.ignore_patterns("secrets.env"))
    example = (copy_dir / "overlays" / "dev" / "secrets.env.example").read_text()
    keys = re.findall(r"^([A-Z_]+)=$", example, re.MULTILINE)
    need(keys, "overlays/dev/secrets.env.example lists no KEY= lines")
    (copy_dir / "overlays" / "dev" / "secrets.env").write_text("".join(f"{k}={secrets.token_hex(32)}\n" for k in keys))
    kustomize("kustomize-dev", copy_dir / "overlays" / "dev")
    return ", ".join(f"{name}: {len(docs)} objects" for name, docs in RENDERS.items())


def crd_kinds(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("apiVersion", "").startswith("monitoring.coreos.com/")]


@step(f"kubernetes-validate --strict (Kubernetes {KUBERNETES_VERSION})")
def kubernetes_validate() -> str:
    need(RENDERS, "nothing rendered")
    files = []
    for name, docs in RENDERS.items():
        builtin = [d for d in docs if d not in crd_kinds(docs)]
        path = WORK / "validate" / f"{name}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump_all(builtin, sort_keys=False))
        files.append(str(path))
    result = run([str(VENV_BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet", *files])
    need("WARN" not in result.stdout + result.stderr, "kubernetes-validate warned:\n" + result.stdout + result.stderr)
    # Negative: an unknown field and a wrong type in the chart's Deployment are refused.
    deployment = next(d for d in RENDERS["helm-default"] if d["kind"] == "Deployment")
    for mutate, expect in (
        (lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("readinessprobe", {}), "readinessprobe"),
        (lambda d: d["spec"].__setitem__("replicas", "two"), "replicas"),
    ):
        bad = copy.deepcopy(deployment)
        mutate(bad)
        path = WORK / "validate" / "bad.yaml"
        path.write_text(yaml.safe_dump(bad))
        must_fail([str(VENV_BIN / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet", str(path)],
                  "invalid Deployment", expect)
    total = sum(len(d) for d in RENDERS.values())
    return f"{total} objects valid (CRD objects: next step); 2 invalid Deployments rejected"


def strict_schema(schema: Any) -> Any:
    """The CRD schema as the API server's field validation sees it: unknown fields are errors."""
    if isinstance(schema, dict):
        schema = {k: strict_schema(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


@step("ServiceMonitor against the Prometheus Operator CRD (v1 schema, strict)")
def service_monitor() -> str:
    crd = yaml.safe_load((SCHEMAS / "monitoring.coreos.com_servicemonitors.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict_schema(version["schema"]["openAPIV3Schema"])
    validator = jsonschema.Draft7Validator(schema)
    monitors = [(name, d) for name, docs in RENDERS.items() for d in crd_kinds(docs)]
    need({n for n, _ in monitors} == {"helm-production", "kustomize-production"},
         f"ServiceMonitors expected in helm-production and kustomize-production, found in {[n for n, _ in monitors]}")
    for name, monitor in monitors:
        need(monitor["kind"] == "ServiceMonitor", f"{name}: unexpected CRD kind {monitor['kind']}")
        errors = sorted(validator.iter_errors(monitor), key=str)
        need(not errors, f"{name}: ServiceMonitor invalid: " + "; ".join(e.message for e in errors[:5]))
    bad = copy.deepcopy(monitors[0][1])
    bad["spec"]["endpoints"][0]["authorization"]["credentials"]["nmae"] = "typo"
    bad["spec"]["endpoints"][0]["interval"] = "30 seconds"
    errors = list(validator.iter_errors(bad))
    need(len(errors) >= 2, "a ServiceMonitor with an unknown field and a bad interval was accepted")
    return f"{len(monitors)} ServiceMonitors valid; a broken one rejected"


# ---- invariants of the rendered manifests ----------------------------------------------------


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def gateway_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [d for d in objects(docs, "Deployment")
             if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway"]
    need(len(found) == 1, f"expected one gateway Deployment, found {len(found)}")
    return found[0]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def seconds(text: str) -> int:
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([hms])", text))


def check_render(name: str, docs: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []

    def expect(condition: Any, message: str) -> None:
        if not condition:
            problems.append(f"{name}: {message}")

    for d in docs:
        expect(d["metadata"].get("namespace"), f"{d['kind']}/{d['metadata']['name']} has no namespace")
    deployment = gateway_deployment(docs)
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    labels = pod["metadata"]["labels"]
    (container,) = [c for c in spec["containers"] if c["name"] == "gateway"]
    psc, csc = spec.get("securityContext", {}), container.get("securityContext", {})
    expect(spec.get("automountServiceAccountToken") is False, "pods mount a service account token")
    expect(psc.get("runAsNonRoot") is True and csc.get("runAsNonRoot") is True, "runAsNonRoot not set")
    expect(int(csc.get("runAsUser", psc.get("runAsUser", 0))) >= 10000, "runAsUser below 10000")
    expect(csc.get("readOnlyRootFilesystem") is True, "root filesystem writable")
    expect(csc.get("allowPrivilegeEscalation") is False, "privilege escalation allowed")
    expect("ALL" in csc.get("capabilities", {}).get("drop", []), "capabilities not dropped")
    expect((csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
           "no RuntimeDefault seccomp profile")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    expect(ports.get("http") == 4444, "container port http is not 4444")
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready"), ("startupProbe", "/health")):
        got = container.get(probe, {}).get("httpGet", {})
        expect(got.get("path") == path and got.get("port") in ("http", 4444), f"{probe} is not GET {path} on 4444")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    expect("/tmp" in mounts and "emptyDir" in volumes.get(mounts["/tmp"], {}), "/tmp is not an emptyDir")
    expect(spec.get("topologySpreadConstraints") or spec.get("affinity", {}).get("podAntiAffinity"),
           "no topology spread or anti-affinity")
    # Environment: NODE_ADDRESS from the downward API; secrets only by reference.
    env = container.get("env", [])
    names = [e["name"] for e in env]
    by_name = {e["name"]: e for e in env}
    expect(by_name.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP",
           "POD_IP is not the downward API's status.podIP")
    expect(by_name.get("NODE_ADDRESS", {}).get("value") == "$(POD_IP):4444", "NODE_ADDRESS is not $(POD_IP):4444")
    if "NODE_ADDRESS" in names and "POD_IP" in names:
        expect(names.index("POD_IP") < names.index("NODE_ADDRESS"), "POD_IP must come before NODE_ADDRESS")
    for variable in SECRET_VARIABLES & set(names):
        entry = by_name[variable]
        if "valueFrom" in entry:
            expect("secretKeyRef" in entry["valueFrom"], f"{variable} is not read from a Secret")
            continue
        value = entry.get("value", "")
        refs = re.findall(r"\$\(([A-Z_]+)\)", value)
        expect(refs and all(r in names[: names.index(variable)] and "secretKeyRef" in by_name[r].get("valueFrom", {})
                            for r in refs) and not re.search(r"://[^:/@]*:(?!\$\()[^@]*@", value),
               f"{variable} has a literal value (credentials must come from a Secret)")
    for variable in ("JWT_SECRET_KEY", "AUTH_ENCRYPTION_SECRET", "DATABASE_URL", "REDIS_URL", "METRICS_BEARER_TOKEN"):
        expect(variable in names, f"{variable} is not set")
    # Drain: the grace period outlasts the preStop sleep plus SHUTDOWN_DRAIN_TIMEOUT.
    config_names = [s["configMapRef"]["name"] for s in container.get("envFrom", []) if "configMapRef" in s]
    configs = [c for c in objects(docs, "ConfigMap") if c["metadata"]["name"] in config_names]
    expect(len(configs) == 1, "the container's ConfigMap is not in the render")
    config = configs[0]["data"] if configs else {}
    expect(config.get("HOST") == "0.0.0.0" and config.get("PORT") == "4444", "HOST/PORT are not 0.0.0.0:4444")
    drain = int(config.get("SHUTDOWN_DRAIN_TIMEOUT", "30"))
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = int(pre_stop[-1]) if pre_stop and pre_stop[0].endswith("sleep") else 0
    expect(int(spec.get("terminationGracePeriodSeconds", 30)) > drain + sleep,
           f"terminationGracePeriodSeconds must exceed preStop {sleep} s + SHUTDOWN_DRAIN_TIMEOUT {drain} s")
    if name.startswith("helm"):
        annotations = pod["metadata"].get("annotations", {})
        expect("checksum/config" in annotations, "no checksum/config annotation on the pods")
        if objects(docs, "Secret"):
            expect("checksum/secret" in annotations, "no checksum/secret annotation on the pods")
    # Service account, Service, PDB, HPA.
    accounts = [a for a in objects(docs, "ServiceAccount") if a["metadata"]["name"] == spec.get("serviceAccountName")]
    expect(accounts and accounts[0].get("automountServiceAccountToken") is False, "the ServiceAccount automounts its token")
    services = [s for s in objects(docs, "Service") if selects(s["spec"]["selector"], labels)]
    expect(len(services) == 1 and services[0]["spec"]["ports"][0]["targetPort"] in ("http", 4444), "no Service for the pods")
    pdbs = [p for p in objects(docs, "PodDisruptionBudget") if selects(p["spec"]["selector"]["matchLabels"], labels)]
    expect(len(pdbs) == 1, "no PodDisruptionBudget for the pods")
    hpas = objects(docs, "HorizontalPodAutoscaler")
    for hpa in hpas:
        expect(hpa["apiVersion"] == "autoscaling/v2", "HPA is not autoscaling/v2")
        expect(hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"], "HPA targets another object")
    expect(("replicas" in deployment["spec"]) != bool(hpas), "replicas must be set exactly when there is no HPA")
    if name.endswith("production"):
        expect(hpas and hpas[0]["spec"]["minReplicas"] >= 3, "production: no HPA with at least 3 replicas")
        expect("@sha256:" in container["image"], "production: image not pinned by digest")
        expect(not objects(docs, "Secret"), "production: a Secret is rendered (it must be managed outside)")
        (ingress,) = objects(docs, "Ingress")
        annotations = ingress["metadata"].get("annotations", {})
        expect(ingress["spec"].get("tls"), "production: Ingress without TLS")
        expect(annotations.get("nginx.ingress.kubernetes.io/proxy-buffering") == "off", "Ingress buffers responses (SSE)")
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            expect(int(annotations.get(f"nginx.ingress.kubernetes.io/{timeout}", "0")) >= 3600, f"Ingress {timeout} < 3600 s")
        (policy,) = [p for p in objects(docs, "NetworkPolicy") if selects(p["spec"]["podSelector"].get("matchLabels", {}), labels)]
        expect(set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "NetworkPolicy must restrict both directions")
        in_ports = {(p["port"], p.get("protocol", "TCP")) for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])}
        expect(in_ports == {(4444, "TCP")}, f"NetworkPolicy ingress must allow port 4444 only, allows {in_ports}")
        expect(all(rule.get("from") for rule in policy["spec"]["ingress"]), "NetworkPolicy ingress rule open to all peers")
        out_ports = {(p["port"], p.get("protocol", "TCP")) for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
        for wanted in ((53, "UDP"), (53, "TCP"), (5432, "TCP"), (6379, "TCP"), (443, "TCP")):
            expect(wanted in out_ports, f"NetworkPolicy egress lacks {wanted}")
        expect(all(rule.get("to") and rule.get("ports") for rule in policy["spec"]["egress"]),
               "NetworkPolicy egress rule without peers or ports")
        (monitor,) = crd_kinds(docs)
        endpoint = monitor["spec"]["endpoints"][0]
        secret_names = {e["valueFrom"]["secretKeyRef"]["name"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
        expect(endpoint.get("path") == "/metrics" and endpoint.get("port") == "http", "ServiceMonitor does not scrape http /metrics")
        credentials = endpoint.get("authorization", {}).get("credentials", {})
        expect(credentials.get("key") == "METRICS_BEARER_TOKEN" and credentials.get("name") in secret_names,
               "ServiceMonitor does not authenticate with the pods' METRICS_BEARER_TOKEN")
        expect(selects(monitor["spec"]["selector"]["matchLabels"], services[0]["metadata"]["labels"]) if services else False,
               "ServiceMonitor selects no Service of the pods")
    if name.endswith("dev"):
        for component, port in (("dev-postgres", 5432), ("dev-redis", 6379)):
            found = [d for d in objects(docs, "Deployment") if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component]
            expect(len(found) == 1, f"dev: no {component} Deployment")
            service = [s for s in objects(docs, "Service") if s["spec"]["selector"].get("app.kubernetes.io/component") == component]
            expect(len(service) == 1 and service[0]["spec"]["ports"][0]["port"] == port, f"dev: no {component} Service on {port}")
            if service:
                url = by_name.get("DATABASE_URL" if port == 5432 else "REDIS_URL", {}).get("value", "")
                expect(f"@{service[0]['metadata']['name']}:{port}/" in url, f"dev: URL does not point at the {component} Service")
    return problems


@step("manifest invariants (security context, probes, NODE_ADDRESS, drain, secrets, policies)")
def invariants() -> str:
    need(RENDERS, "nothing rendered")
    problems = [p for name, docs in RENDERS.items() for p in check_render(name, docs)]
    need(not problems, "\n".join(problems))
    # Negative: the same checks catch a literal secret, a writable root and a short grace period.
    docs = copy.deepcopy(RENDERS["helm-default"])
    deployment = gateway_deployment(docs)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [e if e["name"] != "JWT_SECRET_KEY" else {"name": "JWT_SECRET_KEY", "value": "x" * 40} for e in container["env"]]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    caught = check_render("negative", docs)
    for expect in ("literal value", "root filesystem writable", "terminationGracePeriodSeconds"):
        need(any(expect in p for p in caught), f"invariants missed a broken manifest ({expect}): {caught}")
    return f"{len(RENDERS)} renders hold; a broken Deployment is caught 3 ways"


def normalized_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec = copy.deepcopy(gateway_deployment(docs)["spec"]["template"]["spec"])
    spec.pop("serviceAccountName", None)
    for container in spec["containers"]:
        container.pop("image", None)
        for source in container.get("envFrom", []):
            source.get("configMapRef", {})["name"] = "<configmap>"
        for entry in container.get("env", []):
            if "secretKeyRef" in entry.get("valueFrom", {}):
                entry["valueFrom"]["secretKeyRef"]["name"] = "<secret>"
    return spec


def comparable(docs: list[dict[str, Any]], kind: str, part: str = "spec") -> Any:
    found = [d for d in objects(docs, kind) if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "gateway"]
    return [d.get(part) for d in found]


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: chart {json.dumps(a)[:120]} vs kustomize {json.dumps(b)[:120]}"]


@step("kustomize base/overlays equal the chart (default, production, dev values)")
def equivalence() -> str:
    need(RENDERS, "nothing rendered")
    problems = []
    for chart, kust in (("helm-default", "kustomize-base"), ("helm-production", "kustomize-production"), ("helm-dev", "kustomize-dev")):
        h, k = RENDERS[chart], RENDERS[kust]
        pairs = [("gateway pod spec", normalized_pod(h), normalized_pod(k))]
        configmaps = [[c["data"] for c in objects(docs, "ConfigMap") if not c["metadata"]["name"].endswith("-dashboard")] for docs in (h, k)]
        pairs.append(("ConfigMap data", configmaps[0], configmaps[1]))
        for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "Ingress"):
            pairs.append((kind, comparable(h, kind), comparable(k, kind)))
        pairs.append(("Ingress annotations", [i["metadata"].get("annotations") for i in objects(h, "Ingress")],
                      [i["metadata"].get("annotations") for i in objects(k, "Ingress")]))
        pairs.append(("ServiceMonitor endpoints",
                      [copy.deepcopy(m["spec"]["endpoints"]) for m in crd_kinds(h)], [m["spec"]["endpoints"] for m in crd_kinds(k)]))
        for what, a, b in pairs:
            if what == "ServiceMonitor endpoints":
                for endpoints in (a, b):
                    for e in (x for group in endpoints for x in group):
                        e["authorization"]["credentials"]["name"] = "<secret>"
            problems += [f"{chart} vs {kust}: {what}: {d}" for d in differences(a, b)]
        for component in ("dev-postgres", "dev-redis"):
            specs = []
            for docs in (h, k):
                found = [copy.deepcopy(d["spec"]["template"]["spec"]) for d in objects(docs, "Deployment")
                         if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component]
                for s in found:
                    for c in s["containers"]:
                        for e in c.get("env", []):
                            if "secretKeyRef" in e.get("valueFrom", {}):
                                e["valueFrom"]["secretKeyRef"]["name"] = "<secret>"
                specs.append(found)
            problems += [f"{chart} vs {kust}: {component}: {d}" for d in differences(specs[0], specs[1])]
    need(not problems, "\n".join(problems[:40]))
    return "3 pairs equal (pod spec, config, Service, PDB, HPA, NetworkPolicy, Ingress, ServiceMonitor, dev servers)"


# ---- the gateway's own configuration parser ----------------------------------------------------

GATEWAY_BINARY = Path(os.environ.get("MCPGATEWAY_BIN", ROOT / ".build" / "debug" / "mcpgateway"))
SKIPPED: list[str] = []


def fake_secret(name: str) -> str:
    if name == "DATABASE_URL":
        return f"postgresql://mcpgateway:{secrets.token_hex(16)}@db.example.internal:5432/mcpgateway?sslmode=verify-full"
    if name == "REDIS_URL":
        return f"redis://:{secrets.token_hex(16)}@redis.example.internal:6379/0"
    return secrets.token_hex(32)


def pod_environment(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The gateway container's environment as the kubelet would build it (secrets faked, and
    paths into mounted Secrets pointing at local stand-ins: see secret_mounts)."""
    spec = gateway_deployment(docs)["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        (config,) = [c for c in objects(docs, "ConfigMap") if c["metadata"]["name"] == source["configMapRef"]["name"]]
        env.update(config["data"])
    for entry in container.get("env", []):
        source = entry.get("valueFrom", {})
        if "fieldRef" in source:
            env[entry["name"]] = "10.244.1.23"
        elif "secretKeyRef" in source:
            if not source["secretKeyRef"].get("optional"):
                env[entry["name"]] = fake_secret(source["secretKeyRef"]["key"])
        else:
            env[entry["name"]] = re.sub(r"\$\(([A-Z_]+)\)", lambda m: env.get(m.group(1), ""), entry.get("value", ""))
    return secret_mounts(spec, container, env)


# Variables naming a mounted PEM key, and which half of a P-256 key pair their stand-in holds.
PEM_KEY_VARIABLES = {
    "IDENTITY_PROPAGATION_PRIVATE_KEY_FILE": "private",  # pragma: allowlist secret
    "IDENTITY_PROPAGATION_TRUSTED_KEY_FILE": "public",
}
KEY_PAIR: dict[str, str] = {}


def p256_key_pair() -> dict[str, str]:
    """A throw-away PEM P-256 key pair from openssl (made once per run)."""
    if not KEY_PAIR:
        openssl = shutil.which("openssl")
        need(openssl, "openssl is needed to make stand-in PEM keys for IDENTITY_PROPAGATION_*_FILE")
        private = run([str(openssl), "ecparam", "-genkey", "-name", "prime256v1", "-noout"]).stdout
        public = subprocess.run([str(openssl), "ec", "-pubout"], input=private, capture_output=True, text=True, check=True).stdout
        need("PRIVATE KEY-----" in private and "PUBLIC KEY-----" in public, "openssl made no PEM P-256 key pair")
        KEY_PAIR.update(private=private, public=public)
    return KEY_PAIR


def secret_mounts(spec: dict[str, Any], container: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """`env` with paths into the container's Secret volumes (FEDERATION_PEER_TOKEN_FILE,
    FEDERATION_PEER_TOKENS_DIR, IDENTITY_PROPAGATION_*_FILE) moved to a local directory per
    volume, holding a made-up value per listed key: check-config refuses a token or key file it
    cannot read, as `serve` does. A key named by an IDENTITY_PROPAGATION_*_FILE variable is a
    real PEM P-256 key (check-config refuses anything but PEM)."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret is None:
            continue
        local = Path(tempfile.mkdtemp(prefix=f"{mount['name']}-", dir=WORK))
        root = mount["mountPath"].rstrip("/")
        for item in secret.get("items", []):
            readers = {k for k, v in env.items() if v == f"{root}/{item['path']}"}
            halves = {PEM_KEY_VARIABLES[k] for k in readers & set(PEM_KEY_VARIABLES)}
            need(len(halves) <= 1, f"{root}/{item['path']} is named as a private and a public key")
            (local / item["path"]).write_text(p256_key_pair()[halves.pop()] if halves else secrets.token_hex(32))
        env = {k: str(local) + v[len(root):] if v == root or v.startswith(root + "/") else v for k, v in env.items()}
    return env


def gateway_accepts(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # `mcpgateway check-config` reads the whole configuration like `serve` (keys included; exit 2
    # on any invalid value) without connecting anywhere.
    clean = {"PATH": "/usr/bin:/bin", "SWIFT_BACKTRACE": "enable=no", **env}
    return subprocess.run([str(GATEWAY_BINARY), "check-config"],
                          capture_output=True, text=True, env=clean, cwd=WORK, timeout=60)


@step("the gateway binary accepts every rendered configuration (chart, kustomize, compose)")
def gateway_configuration() -> str | None:
    if not os.access(GATEWAY_BINARY, os.X_OK):
        SKIPPED.append("gateway configuration")
        return None
    environments = {name: pod_environment(docs) for name, docs in RENDERS.items()}
    raw = yaml.safe_load(COMPOSE.read_text())
    example = {k: (v or secrets.token_hex(32)) for k, v in env_example().items()}
    compose_doc = interpolate(raw, example, set(), set())
    for name, service in compose_doc["services"].items():
        if name.startswith("gateway-"):
            environments[f"compose {name}"] = {"HOST": "0.0.0.0", "PORT": "4444", **compose_environment(service)}
    for name, env in environments.items():
        result = gateway_accepts(env)
        need(result.returncode == 0 and result.stdout.strip() == "configuration ok",
             f"{name}: the gateway refused its configuration (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    result = gateway_accepts({**environments["helm-default"], "LOG_LEVEL": "verbose"})
    need(result.returncode == 2 and "LOG_LEVEL" in result.stderr, "the gateway accepted LOG_LEVEL=verbose")
    return f"{len(environments)} environments accepted by {GATEWAY_BINARY.relative_to(ROOT) if GATEWAY_BINARY.is_relative_to(ROOT) else GATEWAY_BINARY}; a bad one refused"


# ---- docker compose ---------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: Any, env: dict[str, str], required: set[str], referenced: set[str]) -> Any:
    """Compose's variable interpolation ($$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e})."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, required, referenced) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, required, referenced) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expression = match.group("braced") or match.group("plain")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", expression, re.DOTALL)
        if not m:
            raise Failure(f"unsupported interpolation ${{{expression}}}")
        name, operator, argument = m.group(1), m.group(2), m.group(3) or ""
        referenced.add(name)
        current = env.get(name)
        if operator in (":?", "?"):
            required.add(name)
            if current is None or (operator == ":?" and current == ""):
                raise Failure(f"required variable {name} is unset: {argument}")
            return current
        if operator in (":-", "-"):
            return current if current not in (None, "") or (operator == "-" and current is not None) else argument
        if operator in (":+", "+"):
            return argument if current not in (None, "") else ""
        return current or ""

    return INTERPOLATION.sub(replace, value)


def env_example() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def compose_problems(raw: dict[str, Any], nginx_conf: str) -> list[str]:
    """What a schema cannot check. `raw` is the file as written (before interpolation)."""
    problems: list[str] = []
    example = env_example()
    filled = {k: (v or secrets.token_hex(32)) for k, v in example.items()}
    required: set[str] = set()
    referenced: set[str] = set()
    try:
        doc = interpolate(raw, filled, required, referenced)
    except Failure as error:
        return [f"interpolation with .env.example's variables: {error}"]
    services: dict[str, Any] = doc.get("services", {})
    raw_services: dict[str, Any] = raw.get("services", {})
    gateways = sorted(n for n in services if n.startswith("gateway-"))
    if len(gateways) < 3:
        problems.append(f"expected at least 3 gateway replicas, found {gateways}")
    for name, service in services.items():
        test = service.get("healthcheck", {}).get("test")
        if not test or test in (["NONE"], "NONE") or service["healthcheck"].get("disable"):
            problems.append(f"{name}: no healthcheck")
        if not service.get("restart"):
            problems.append(f"{name}: no restart policy")
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on without conditions")
            depends = {}
        for target, condition in depends.items():
            if condition.get("condition") != "service_healthy":
                problems.append(f"{name}: depends_on {target} is not condition: service_healthy")
            if target not in services:
                problems.append(f"{name}: depends_on unknown service {target}")
        # No secret literals: every credential-bearing variable is a required interpolation.
        for variable, value in compose_environment(raw_services.get(name, {})).items():
            secretish = variable in SECRET_VARIABLES or re.search(r"SECRET|PASSWORD|TOKEN|_KEY$|AUTH$", variable)
            if secretish and not re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}", value or ""):
                if not (variable.endswith("_URL") and re.fullmatch(r"[a-z]+://[^:@/]*:\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}@.*", value)):
                    problems.append(f"{name}: {variable} is not a required ${{VAR:?…}} from .env (secret literal?)")
            for match in re.finditer(r"://[^:@/\s]*:([^@\s]*)@", value or ""):
                if not re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}", match.group(1)):
                    problems.append(f"{name}: {variable} has a literal password in its URL")
    nginx = services.get("nginx", {})
    nginx_address = nginx.get("networks", {}).get("edge", {}).get("ipv4_address") if isinstance(nginx.get("networks"), dict) else None
    edge = doc.get("networks", {}).get("edge", {})
    subnet = (edge.get("ipam", {}).get("config") or [{}])[0]
    upstreams = set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", nginx_conf, re.MULTILINE))
    drain_default = 30
    for name in gateways:
        service = services[name]
        env = compose_environment(service)
        if service.get("build", {}).get("dockerfile") != "deploy/Dockerfile":
            problems.append(f"{name}: not built from deploy/Dockerfile")
        if env.get("NODE_ADDRESS") != f"{name}:4444":
            problems.append(f"{name}: NODE_ADDRESS is {env.get('NODE_ADDRESS')!r}, not {name}:4444")
        for variable, prefix in (("DATABASE_URL", "postgresql://"), ("REDIS_URL", "redis://"), ("JWT_SECRET_KEY", ""),
                                 ("AUTH_ENCRYPTION_SECRET", ""), ("METRICS_BEARER_TOKEN", "")):
            if not env.get(variable, "").startswith(prefix) or not env.get(variable):
                problems.append(f"{name}: {variable} missing or not {prefix}…")
        for dependency in ("postgres", "redis"):
            if dependency not in service.get("depends_on", {}):
                problems.append(f"{name}: does not wait for {dependency}")
        if service.get("read_only") is not True:
            problems.append(f"{name}: root filesystem not read-only")
        if "ALL" not in service.get("cap_drop", []):
            problems.append(f"{name}: capabilities not dropped")
        if "no-new-privileges:true" not in service.get("security_opt", []):
            problems.append(f"{name}: no-new-privileges not set")
        if str(service.get("user", "0")).split(":")[0] in ("0", "root", ""):
            problems.append(f"{name}: runs as root")
        drain = int(env.get("SHUTDOWN_DRAIN_TIMEOUT", drain_default))
        if seconds(str(service.get("stop_grace_period", "10s"))) <= drain:
            problems.append(f"{name}: stop_grace_period must exceed SHUTDOWN_DRAIN_TIMEOUT ({drain} s)")
        if f"{name}:4444" not in upstreams:
            problems.append(f"{name}: not an upstream server in deploy/nginx/nginx.conf")
        if nginx_address and env.get("TRUSTED_PROXIES") != f"{nginx_address}/32":
            problems.append(f"{name}: TRUSTED_PROXIES {env.get('TRUSTED_PROXIES')!r} does not name nginx ({nginx_address}/32)")
        if service.get("ports"):
            problems.append(f"{name}: publishes ports (only nginx may)")
        address = service.get("networks", {}).get("edge", {}).get("ipv4_address") if isinstance(service.get("networks"), dict) else None
        prefix = subnet.get("subnet", "").rsplit(".", 1)[0]
        if not address or not address.startswith(prefix + ".") or int(address.rsplit(".", 1)[1]) >= 128:
            problems.append(f"{name}: needs a fixed edge address in {subnet.get('subnet')} below the dynamic ip_range")
    if upstreams != {f"{g}:4444" for g in gateways}:
        problems.append(f"nginx.conf upstream servers {sorted(upstreams)} are not the gateway services")
    if not nginx_address:
        problems.append("nginx: no fixed edge address (TRUSTED_PROXIES names it)")
    for gateway in gateways:
        if nginx.get("depends_on", {}).get(gateway, {}).get("condition") != "service_healthy":
            problems.append(f"nginx: does not wait for {gateway} to be healthy")
    if not any("deploy/nginx/nginx.conf" in str(v) for v in nginx.get("volumes", [])):
        problems.append("nginx: deploy/nginx/nginx.conf is not mounted")
    for port in nginx.get("ports", []):
        if not str(port).startswith("127.0.0.1:"):
            problems.append(f"nginx: published port {port} is not on 127.0.0.1 by default")
    for name in ("postgres", "redis"):
        networks = services.get(name, {}).get("networks", [])
        if list(networks) != ["backend"]:
            problems.append(f"{name}: must be on the internal backend network only")
    if doc.get("networks", {}).get("backend", {}).get("internal") is not True:
        problems.append("network backend is not internal")
    # .env.example lists exactly the required variables, all empty.
    if required - set(example):
        problems.append(f".env.example lacks {sorted(required - set(example))}")
    if set(example) - referenced:
        problems.append(f".env.example lists unused {sorted(set(example) - referenced)}")
    for name, value in example.items():
        if value:
            problems.append(f".env.example gives {name} a value; secrets must be empty there")
    return problems


@step("docker-compose.yml: compose-spec schema and cluster invariants")
def compose() -> str:
    raw = yaml.safe_load(COMPOSE.read_text())
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    example = {k: (v or secrets.token_hex(32)) for k, v in env_example().items()}
    doc = interpolate(raw, example, set(), set())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    need(not errors, "compose-spec: " + "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10]))
    nginx_conf = NGINX_CONF.read_text()
    problems = compose_problems(raw, nginx_conf)
    need(not problems, "\n".join(problems))
    need(run(["git", "check-ignore", "-q", ".env"], check=False).returncode == 0 or "/.env" in (ROOT / ".gitignore").read_text(),
         ".env is not git-ignored")
    # Negative cases.
    bad = copy.deepcopy(doc)
    bad["services"]["gateway-1"]["healthcheck"]["intervall"] = "5s"
    need(list(validator.iter_errors(bad)), "compose-spec accepted an unknown healthcheck key")
    bad = copy.deepcopy(doc)
    bad["services"]["gateway-2"]["stop_grace_period"] = 45
    need(list(validator.iter_errors(bad)), "compose-spec accepted a number for stop_grace_period")
    for mutate, expect in (
        (lambda r: r["services"]["gateway-2"]["environment"].__setitem__("JWT_SECRET_KEY", "x" * 64), "secret literal"),
        (lambda r: r["services"]["gateway-2"]["environment"].__setitem__(
            "DATABASE_URL", "postgresql://mcpgateway:hunter2hunter2@postgres:5432/mcpgateway"), "literal password"),  # pragma: allowlist secret
        (lambda r: r["services"]["nginx"]["depends_on"].__setitem__("gateway-3", {"condition": "service_started"}), "service_healthy"),
        (lambda r: r["services"]["gateway-3"].__setitem__("healthcheck", {"test": ["NONE"]}), "no healthcheck"),
        (lambda r: r["services"]["gateway-1"]["environment"].__setitem__("NODE_ADDRESS", "gateway-2:4444"), "NODE_ADDRESS"),
        (lambda r: r["services"]["gateway-1"].__setitem__("stop_grace_period", "20s"), "stop_grace_period"),
    ):
        bad_raw = copy.deepcopy(raw)
        mutate(bad_raw)
        caught = compose_problems(bad_raw, nginx_conf)
        need(any(expect in p for p in caught), f"compose invariants missed: {expect} (got {caught})")
    return f"{len(doc['services'])} services valid; 2 schema and 6 invariant violations caught"


# ---- nginx --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # nginx closing idle keep-alive connections at the end is not an error

    def __init__(self, index: int, release: threading.Event) -> None:
        self.index = index
        self.release = release
        super().__init__(("127.0.0.1", 0), UpstreamHandler)


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/echo":
            self.reply(200, json.dumps({
                "node": self.server.index, "xff": self.headers.get("X-Forwarded-For"),
                "connection": self.headers.get("Connection"), "version": self.request_version,
                "proto": self.headers.get("X-Forwarded-Proto"),
            }).encode())
        elif self.path == "/sse":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def chunk(data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            chunk(b"id: 1\ndata: first\n\n")
            # The second event is written only after the client has seen the first: a proxy that
            # buffers would hold the first back and the client would time out.
            released = self.server.release.wait(5)
            chunk(b"id: 2\ndata: second\n\n" if released else b"data: timeout\n\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.reply(404, b"{}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = 0
        while received < length:
            received += len(self.rfile.read(min(65536, length - received)))
        self.reply(200, json.dumps({"received": received}).encode())


@step("nginx: nginx -t, round-robin, X-Forwarded-For, keep-alive, unbuffered SSE, 4.5 MB body")
def nginx() -> str:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    need(binary, "nginx is not installed (make system-deps installs it)")
    release = threading.Event()
    upstreams = [Upstream(i, release) for i in range(3)]
    for server in upstreams:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # nginx's workers run as nobody when started by root (as in CI): its directory must be
    # reachable for them, unlike the private work directory.
    directory = Path(tempfile.mkdtemp(prefix="deploy-check-nginx-"))
    directory.chmod(0o755)
    port = free_port()
    text = NGINX_CONF.read_text()
    for i, server in enumerate(upstreams, start=1):
        text, n = re.subn(rf"server gateway-{i}:4444", f"server 127.0.0.1:{server.server_address[1]}", text)
        need(n == 1, f"nginx.conf: no single 'server gateway-{i}:4444'")
    text = text.replace("/tmp/", f"{directory}/")
    text, n = re.subn(r"listen 8080;", f"listen 127.0.0.1:{port};", text)
    need(n == 1, "nginx.conf: no 'listen 8080;'")
    # The directives behind the behaviour tested below (nginx writes small events through even
    # with proxy_buffering on, so that one is checked here rather than observed).
    for block in re.findall(r"location [^{]*\{[^}]*proxy_pass[^}]*\}", text):
        for directive in ("proxy_buffering off;", "proxy_http_version 1.1;", "proxy_read_timeout 3600s;",
                          "proxy_send_timeout 3600s;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"):
            need(directive in block, f"nginx.conf: a proxied location lacks `{directive}`")
    need(re.search(r"^\s*gzip off;", text, re.MULTILINE), "nginx.conf: gzip must be off (it holds events back)")
    need(re.search(r'proxy_set_header Connection "";', text) and "proxy_cache off;" in text, "nginx.conf: keep-alive/cache directives missing")
    conf = directory / "nginx.conf"
    conf.write_text(text)
    run([binary, "-t", "-q", "-c", str(conf), "-p", str(directory)])
    log = directory / "nginx.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen([binary, "-c", str(conf), "-p", str(directory), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None:
                    raise Failure("nginx exited: " + log.read_text())
                need(time.monotonic() < deadline, "nginx did not start listening")
                time.sleep(0.05)

        def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            connection.close()
            return response.status, body

        status, _ = get("/nginx-health")
        need(status == 200, f"/nginx-health answered {status}")
        nodes = []
        for _ in range(6):
            status, body = get("/echo", {"X-Forwarded-For": "203.0.113.7"})
            need(status == 200, f"/echo through nginx answered {status}")
            echo = json.loads(body)
            nodes.append(echo["node"])
            need(echo["xff"] == "203.0.113.7, 127.0.0.1", f"X-Forwarded-For upstream was {echo['xff']!r}")
            need(echo["connection"] in (None, ""), f"nginx sent Connection: {echo['connection']!r} (keep-alive needs none)")
            need(echo["version"] == "HTTP/1.1", f"nginx spoke {echo['version']} to the upstream")
            need(echo["proto"] == "http", "X-Forwarded-Proto missing")
        need(sorted(nodes) == [0, 0, 1, 1, 2, 2], f"not round-robin over 3 nodes: {nodes}")
        # Server-sent events over a raw socket, to see bytes as they arrive.
        with socket.create_connection(("127.0.0.1", port), timeout=4) as stream:
            stream.sendall(b"GET /sse HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                           b"Accept-Encoding: gzip, deflate\r\nConnection: close\r\n\r\n")
            received = b""
            try:
                while b"data: first" not in received:
                    chunk = stream.recv(4096)
                    need(chunk, f"the SSE stream ended early: {received!r}")
                    received += chunk
            except socket.timeout:
                raise Failure(f"first SSE event not delivered before the next was written (buffered?): {received!r}")
            need(b" 200 " in received.split(b"\r\n", 1)[0], f"/sse answered {received[:40]!r}")
            release.set()
            stream.settimeout(10)
            while chunk := stream.recv(4096):
                received += chunk
            need(b"data: second" in received, f"second SSE event missing: {received!r}")
        body = b"x" * (4 * 1024 * 1024 + 512 * 1024)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        connection.request("POST", "/body", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        need(response.status == 200 and json.loads(answer)["received"] == len(body),
             f"a 4.5 MB body (MCP_MAX_BODY_BYTES is 4 MiB) got {response.status}")
        connection.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        for server in upstreams:
            server.shutdown()
        shutil.copy(log, WORK / "nginx.log")
        shutil.rmtree(directory, ignore_errors=True)
    return "config valid; 6 requests spread 2/2/2; SSE event passed through before the next was written"


# ---- Grafana dashboard ----------------------------------------------------------------------------

GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "${instance}": ".*", "$instance": ".*"}
EXTRA_LABELS = {"instance", "job"}  # added by Prometheus when scraping


def metric_catalog() -> dict[str, tuple[str, set[str]]]:
    catalog = {}
    for line in METRICS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind, labels = line.split()
        need(kind in ("counter", "gauge", "histogram"), f"metrics.txt: bad type {kind} for {name}")
        catalog[name] = (kind, set() if labels == "-" else set(labels.split(",")))
    return catalog


def series_catalog(catalog: dict[str, tuple[str, set[str]]]) -> dict[str, tuple[str, set[str]]]:
    series = {}
    for name, (kind, labels) in catalog.items():
        if kind == "histogram":
            series[name + "_bucket"] = (name, labels | {"le"})
            series[name + "_sum"] = (name, labels)
            series[name + "_count"] = (name, labels)
        else:
            series[name] = (name, labels)
    return series


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [q for p in panels for q in [p, *all_panels(p.get("panels", []))]]


def dashboard_problems(dashboard: dict[str, Any], catalog: dict[str, tuple[str, set[str]]]) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    series = series_catalog(catalog)
    used: set[str] = set()
    expressions: list[str] = []
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if not dashboard.get(key):
            problems.append(f"dashboard has no {key}")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus" for i in dashboard.get("__inputs", [])):
        problems.append("no DS_PROMETHEUS input for import")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource" or variables["datasource"].get("query") != "prometheus":
        problems.append("no templated Prometheus datasource variable 'datasource'")
    node = variables.get("instance") or variables.get("node")
    if not node or node.get("type") != "query":
        problems.append("no instance/node query variable")
    else:
        query = node.get("query", {})
        expressions.append(query.get("query", "") if isinstance(query, dict) else query)
    ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for panel in all_panels(dashboard.get("panels", [])):
        pid = panel.get("id")
        if pid in ids:
            problems.append(f"duplicate panel id {pid}")
        ids.add(pid)
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"panel {pid} is wider than the 24-column grid")
        for x in range(grid.get("x", 0), grid.get("x", 0) + grid.get("w", 0)):
            for y in range(grid.get("y", 0), grid.get("y", 0) + grid.get("h", 0)):
                if (x, y) in cells:
                    problems.append(f"panel {pid} overlaps panel {cells[(x, y)]}")
                    break
                cells[(x, y)] = pid
            else:
                continue
            break
        if panel.get("type") == "row":
            continue
        if not panel.get("title"):
            problems.append(f"panel {pid} has no title")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {pid} ({panel.get('title')}) does not use the ${{datasource}} variable")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {pid} ({panel.get('title')}) has no query")
        for target in targets:
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel {pid} target {target.get('refId')} does not use ${{datasource}}")
            expressions.append(target.get("expr", ""))
    for expression in expressions:
        names = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*[{\[)\s,]|\s*$)", expression))
        metrics = {n for n in names if n.startswith("mcpgateway_")}
        if not metrics:
            problems.append(f"query uses no gateway metric: {expression}")
        labels_allowed = set(EXTRA_LABELS)
        for metric in metrics:
            if metric not in series:
                problems.append(f"unknown metric {metric} (not in Tools/deploy/metrics.txt): {expression}")
                continue
            used.add(series[metric][0])
            labels_allowed |= series[metric][1]
        for metric, matchers in re.findall(r"(mcpgateway_[a-zA-Z0-9_]+)\{([^}]*)\}", expression):
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers):
                if metric in series and label not in series[metric][1] | EXTRA_LABELS:
                    problems.append(f"{metric} has no label {label}: {expression}")
        for grouping in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expression):
            for label in (l.strip() for l in grouping.split(",") if l.strip()):
                if label not in labels_allowed:
                    problems.append(f"grouping by unknown label {label}: {expression}")
        for label in re.findall(r"label_values\(\s*[a-zA-Z0-9_]+\s*,\s*([a-zA-Z0-9_]+)\s*\)", expression):
            if label not in labels_allowed:
                problems.append(f"label_values of unknown label {label}: {expression}")
    unused = set(catalog) - used
    if unused:
        problems.append(f"metrics in metrics.txt no panel shows: {sorted(unused)}")
    return problems, [e for e in expressions if not e.startswith("label_values(")]


def promtool_rules(expressions: list[str], path: Path) -> None:
    rules = []
    for i, expression in enumerate(expressions):
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        need("$" not in expression, f"unhandled Grafana variable in {expression}")
        rules.append({"record": f"dashboard:query_{i}", "expr": expression})
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))


@step("Grafana dashboard: structure, metrics.txt only (and all of it), PromQL parsed by promtool")
def dashboard() -> str:
    catalog = metric_catalog()
    text = DASHBOARD.read_text()
    data = json.loads(text)
    problems, expressions = dashboard_problems(data, catalog)
    need(not problems, "\n".join(problems))
    need(CHART_DASHBOARD.read_text() == text, f"{CHART_DASHBOARD.relative_to(ROOT)} differs from {DASHBOARD.relative_to(ROOT)}; copy it")
    configmaps = [c for c in RENDERS.get("helm-production", []) if c["kind"] == "ConfigMap" and c["metadata"]["name"].endswith("-dashboard")]
    need(configmaps and json.loads(configmaps[0]["data"]["mcp-gateway.json"]) == data, "the chart's dashboard ConfigMap does not carry the dashboard")
    rules = WORK / "dashboard-rules.yaml"
    promtool_rules(expressions, rules)
    run([PROMTOOL, "check", "rules", str(rules)])
    # Negative cases: an unknown metric, an unknown label, a PromQL syntax error.
    for expr, expect in (
        ('sum(rate(mcpgateway_http_requests_count{instance=~"$instance"}[$__rate_interval]))', "unknown metric"),
        ('sum by (tool) (rate(mcpgateway_http_requests_total{instance=~"$instance"}[$__rate_interval]))', "unknown label"),
        ('sum(rate(mcpgateway_sessions_open{upstream="x"}[5m]))', "has no label upstream"),
    ):
        bad = copy.deepcopy(data)
        next(p for p in all_panels(bad["panels"]) if p.get("targets"))["targets"][0]["expr"] = expr
        caught, _ = dashboard_problems(bad, catalog)
        need(any(expect in p for p in caught), f"dashboard check missed {expect!r}: {caught}")
    bad_rules = WORK / "bad-rules.yaml"
    promtool_rules(['sum by (route) (rate(mcpgateway_http_requests_total[5m])'], bad_rules)
    must_fail([PROMTOOL, "check", "rules", str(bad_rules)], "unbalanced parenthesis")
    panels = [p for p in all_panels(data["panels"]) if p.get("type") != "row"]
    return f"{len(panels)} panels, {len(expressions)} queries over {len(catalog)} metrics; 4 broken queries caught"


# ---- checkov ---------------------------------------------------------------------------------------


def documented_skips() -> dict[str, str]:
    """The table of checkov skips in deploy/README.md: | `CKV_…` | where | why |."""
    return dict(re.findall(r"^\|\s*`(CKV2?_[A-Z0-9_]+)`\s*\|([^\n]*)$", DEPLOY_README.read_text(), re.MULTILINE))


@step("checkov (Dockerfile, every render, secrets in the deployment files) --compact --quiet")
def checkov() -> str:
    need(RENDERS, "nothing rendered")
    scan = WORK / "checkov"
    scan.mkdir()
    shutil.copy(ROOT / "deploy" / "Dockerfile", scan / "Dockerfile")
    for name in RENDERS:
        shutil.copy(WORK / "renders" / f"{name}.yaml", scan / f"{name}.yaml")
    checkov_bin = str(VENV_BIN / "checkov")
    common = ["--compact", "--quiet", "--skip-download"]
    environment = dict(os.environ, BC_SKIP_MAPPING="TRUE", LOG_LEVEL="ERROR")
    # The secrets framework reads the files as committed (the renders hold generated secrets).
    sources = ["docker-compose.yml", ".env.example", "deploy", "charts", "Tools/deploy"]
    scans = [
        (["-d", str(scan), "--framework", "dockerfile", "kubernetes"], "Dockerfile and renders", ("dockerfile", "kubernetes")),
        (["--framework", "secrets", *(a for s in sources for a in (("-d", s) if (ROOT / s).is_dir() else ("-f", s)))],
         "deployment files (secrets)", ("secrets",)),
    ]
    for targets, what, _ in scans:
        result = run([checkov_bin, *targets, *common], check=False, env=environment)
        print((result.stdout + result.stderr).strip(), flush=True)
        need(result.returncode == 0, f"checkov found problems in the {what}")
    # The first scan again as JSON: what was skipped (each skip must be listed in deploy/README.md)
    # and whether it saw anything at all. (The secrets framework reports findings only; its
    # negative case below shows that it looks.)
    result = run([checkov_bin, *scans[0][0], "--skip-download", "-o", "json"], check=False, env=environment)
    summary: dict[str, dict[str, Any]] = {}
    skipped: set[str] = set()
    decoder, text, position = json.JSONDecoder(), result.stdout, 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        report, position = decoder.raw_decode(text, position)
        for item in report if isinstance(report, list) else [report]:
            if "check_type" in item:
                summary[item["check_type"]] = item["summary"]
                skipped |= {c["check_id"] for c in item["results"].get("skipped_checks", [])}
    for framework in ("dockerfile", "kubernetes"):
        need(summary.get(framework, {}).get("passed", 0) > 0, f"checkov scanned no {framework} resource")
        need(summary[framework].get("failed", 1) == 0, f"checkov: {framework} failures")
    documented = documented_skips()
    need(not skipped - set(documented), f"skipped but not listed in deploy/README.md: {sorted(skipped - set(documented))}")
    need(not set(documented) - skipped, f"listed in deploy/README.md but no longer skipped: {sorted(set(documented) - skipped)}")
    # Negative: the secrets framework finds a token planted in a copy of the compose file.
    planted = WORK / "checkov-secret"
    planted.mkdir()
    leaked = yaml.safe_load(COMPOSE.read_text())
    leaked["services"]["gateway-1"]["environment"]["JWT_SECRET_KEY"] = secrets.token_urlsafe(32)
    (planted / "docker-compose.yml").write_text(yaml.safe_dump(leaked, sort_keys=False))
    must_fail([checkov_bin, "--framework", "secrets", "-d", str(planted), *common], "planted secret", "CKV_SECRET",
              env=environment)
    # Negative: checkov fails a Dockerfile that runs as root without a health check.
    bad = WORK / "checkov-bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text("FROM debian:bookworm-slim\nCMD [\"sleep\", \"1\"]\n")
    must_fail([checkov_bin, "-d", str(bad), "--framework", "dockerfile", *common], "root, no HEALTHCHECK", "CKV_DOCKER_3",
              env=environment)
    counts = ", ".join(f"{k}: {v['passed']} passed, {v['skipped']} skipped" for k, v in summary.items())
    return f"{counts}; secrets: none found; skips {sorted(skipped)} all documented; a bad Dockerfile and a planted secret fail"


# ---------------------------------------------------------------------------------------------


def main() -> int:
    for tool in (HELM, KUBECTL, PROMTOOL):
        if not os.access(tool, os.X_OK):
            print(f"deploy-check: {tool} missing; run `make deploy-check` (Tools/deploy/install_tools.py installs it)")
            return 2
    started = time.monotonic()
    passed = failed = 0
    for name, function in STEPS:
        began = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            detail = function()
        except Failure as error:
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - began:.1f} s)\n{error}\n", flush=True)
            continue
        except Exception:  # noqa: BLE001 - a crash in one step is reported, the others still run
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - began:.1f} s)\n{traceback.format_exc()}", flush=True)
            continue
        if detail is None:
            print(f"skip {name}: no gateway binary at {GATEWAY_BINARY} (make build; `make test` builds it first)", flush=True)
            continue
        passed += 1
        print(f"ok   {name} ({time.monotonic() - began:.1f} s): {detail}", flush=True)
    if failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"deploy-check: work files kept in {WORK}")
    print(f"deploy-check finished in {time.monotonic() - started:.0f} s")
    print(f"{passed} passed, {failed} failed" + (f", {len(SKIPPED)} skipped" if SKIPPED else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
