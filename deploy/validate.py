#!/usr/bin/env python3
"""Offline checks of deploy/, run by `make test` (scripts/test.sh).

    validate.py            render and check the manifests, the alert rules
                           and the dashboard
    validate.py metrics D  check that every metric the dashboard and the
                           alert rules use is exported: D holds the
                           /metrics pages the services served (the gateway
                           test writes them)

Manifests: `kubectl kustomize` renders the base, every overlay and the
temporal-frontend example; each object is validated in strict mode
(unknown fields are errors) against the schemas of the pinned Kubernetes
versions, KEDA's objects against the CRDs kept in deploy/schemas/keda; then
the objects are checked against each other (selectors, ports, secrets,
probes, the worker's grace period) and against what each rendering must
say: its image, AIRLINE_ENV, narrow trusted proxies, Temporal over mutual
TLS (KEDA's trigger too) in the base and explicitly plain in the dev
overlay, and the NetworkPolicies' peers for every pod and port.
Alert rules: promtool's syntax check and its unit tests (alerts.test.yaml).

Here: the renderings, the schemas, the objects against each other, the
environment, the Dockerfile and the metrics; in checks/: what the checks
share (common.py), Temporal's client settings (temporal.py) and the
network policies (network.py).
"""

import copy
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from checks.common import (APP_IMAGE, DEPLOY, effective_env, errors, fail, matches, name_of,
                           our_pods, render, seconds)
from checks.network import check_network_policies, check_temporal_frontend_example
from checks.temporal import check_temporal
# The oldest and the newest Kubernetes these manifests are for.
K8S_VERSIONS = ["1.33.0", "1.36.0"]
KUSTOMIZATIONS = ["base", "overlays/dev"]
# The image every container of ours runs in each rendering: the base's
# published name, the dev overlay's local build (its `images:` must match
# the name the base already rewrote).
EXPECTED_IMAGES = {
    "base": "ghcr.io/skyway-air/airline-booking:0.1.0",
    "overlays/dev": "airline-booking:dev",
}
BINARIES = {"flights", "worker", "api"}
# KEDA's `temporal` scaler parameters (keda.sh/docs/2.20/scalers/temporal).
TEMPORAL_TRIGGER_KEYS = {
    "endpoint", "endpointFromEnv", "namespace", "taskQueue", "targetQueueSize",
    "activationTargetQueueSize", "queueTypes", "buildId", "workerDeploymentName",
    "workerDeploymentBuildId", "selectAllActive", "selectUnversioned",
    "includeRunningWorkflowCount", "workflowTaskQueueForCount",
    "minConnectTimeout", "unsafeSsl", "tlsServerName", "enableTLS",
    "apiKey", "apiKeyFromEnv",
}

# What each rendering must say about where it runs (kit/src/config.rs:
# outside `development` the published dev secrets are refused; unset is
# production).
AIRLINE_ENV = {"base": {None, "production"}, "overlays/dev": {"development"}}
# API_TRUSTED_PROXIES names the ingress controller's addresses, not a
# network: nothing wider than this is a proxy's.
PROXY_MAX_V4, PROXY_MAX_V6 = 24, 64


def strict(schema: dict) -> dict:
    """The CRD's schema with unknown fields rejected, as the API server's
    strict field validation does."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_schemas() -> dict:
    schemas = {}
    for path in (DEPLOY / "schemas").rglob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def validate_schema(where: str, obj: dict, crds: dict) -> None:
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key in crds:
        validator = jsonschema.Draft7Validator(crds[key])
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in e.path)
            fail(f"{where} {name_of(obj)}", f"{path}: {e.message}")
        return
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            fail(f"{where} {name_of(obj)} (k8s {version})", f"{path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            fail(f"{where} {name_of(obj)}", f"no schema for {key} in k8s {version}")


def check_objects(where: str, objs: list[dict]) -> None:
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    deployments = by_kind.get("Deployment", {})
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    config = configmaps.get("airline-config", {}).get("data", {})
    if not config:
        fail(where, "ConfigMap airline-config is missing or empty")

    def pod_specs():
        for obj in objs:
            if obj["kind"] in ("Deployment", "Job"):
                yield obj, obj["spec"]["template"]["spec"]

    for obj, pod in pod_specs():
        ours = any(
            c["image"].split("/")[-1].startswith(APP_IMAGE)
            for c in pod.get("containers", []) + pod.get("initContainers", [])
        )
        if not ours:
            continue
        at = f"{where} {name_of(obj)}"
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            want = EXPECTED_IMAGES.get(where)
            if want and c["image"] != want:
                fail(f"{at} container {c['name']}", f"runs image {c['image']!r}, not {want!r}")
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(at, "pods must run as non-root")
        if not pod.get("serviceAccountName"):
            fail(at, "no service account chosen")
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            cat = f"{at} container {c['name']}"
            binary = Path(c.get("command", [""])[0]).name
            if binary not in BINARIES:
                fail(cat, f"runs {binary!r}, not one of the image's binaries {sorted(BINARIES)}")
            res = c.get("resources", {})
            for need in ("requests.cpu", "requests.memory", "limits.memory"):
                section, key = need.split(".")
                if key not in res.get(section, {}):
                    fail(cat, f"resources.{need} is not set")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem"):
                fail(cat, "must drop privilege escalation and use a read-only root filesystem")
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and secrets and not ref.get("optional"):
                    secret = secrets.get(ref["name"])
                    if secret is None:
                        fail(cat, f"Secret {ref['name']} is not in this rendering")
                    elif ref["key"] not in secret.get("data", {}) | secret.get("stringData", {}):
                        fail(cat, f"Secret {ref['name']} has no key {ref['key']}")
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef")
                if ref and ref["name"] not in configmaps:
                    fail(cat, f"ConfigMap {ref['name']} is not in this rendering")
            if obj["kind"] != "Deployment":
                continue
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            # What observability/prometheus.yml keeps and where it scrapes.
            template = obj["spec"]["template"]["metadata"]
            if template.get("labels", {}).get("app.kubernetes.io/part-of") != "airline-booking":
                fail(cat, "pods lack app.kubernetes.io/part-of=airline-booking: Prometheus would skip them")
            notes = template.get("annotations", {})
            if notes.get("prometheus.io/scrape") != "true" or int(
                notes.get("prometheus.io/port", 0)
            ) not in ports.values():
                fail(cat, "prometheus.io/scrape and prometheus.io/port must name a container port")
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                get = c.get(probe, {}).get("httpGet")
                if not get or get.get("path") != path:
                    fail(cat, f"{probe} must be an HTTP GET of {path}")
                elif get.get("port") not in ports and get.get("port") not in ports.values():
                    fail(cat, f"{probe} port {get.get('port')} is not a container port")

    worker = deployments.get("worker")
    if worker is None:
        fail(where, "Deployment worker is missing")
    else:
        names = {p.get("name") for c in worker["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports", [])}
        if "metrics" not in names:
            fail(where, "the worker needs a container port named `metrics` (its temporal_* "
                 "metrics, scraped by that name in observability/prometheus.yml)")
        grace = seconds(config.get("WORKER_SHUTDOWN_GRACE", "30s"))
        pod_grace = worker["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if not pod_grace > grace:
            fail(where, f"worker terminationGracePeriodSeconds {pod_grace} must exceed "
                 f"WORKER_SHUTDOWN_GRACE ({grace:g}s), or draining is cut short")

    for kind in ("Service", "PodDisruptionBudget"):
        for obj in by_kind.get(kind, {}).values():
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            targets = [
                d for d in deployments.values()
                if matches(selector, d["spec"]["template"]["metadata"].get("labels", {}))
            ]
            if not targets:
                fail(f"{where} {name_of(obj)}", f"selector {selector} matches no Deployment")
            if kind == "Service":
                names = {
                    p.get("name") for d in targets
                    for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])
                }
                for port in obj["spec"]["ports"]:
                    tp = port.get("targetPort")
                    if isinstance(tp, str) and tp not in names:
                        fail(f"{where} {name_of(obj)}", f"targetPort {tp} names no container port")

    for obj in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = obj["spec"]["scaleTargetRef"]
        if ref["name"] not in deployments:
            fail(f"{where} {name_of(obj)}", f"scales {ref['name']}, which is not a Deployment here")

    scaled = by_kind.get("ScaledObject", {})
    if "worker" not in scaled:
        fail(where, "the worker's KEDA ScaledObject is missing")
    for obj in scaled.values():
        at = f"{where} {name_of(obj)}"
        spec = obj["spec"]
        if spec["scaleTargetRef"]["name"] not in deployments:
            fail(at, f"scales {spec['scaleTargetRef']['name']}, which is not a Deployment here")
        if not spec.get("minReplicaCount", 0) <= spec.get("maxReplicaCount", 100):
            fail(at, "minReplicaCount exceeds maxReplicaCount")
        for trigger in spec["triggers"]:
            if trigger["type"] != "temporal":
                continue
            meta = trigger["metadata"]
            for key in sorted(set(meta) - TEMPORAL_TRIGGER_KEYS):
                fail(at, f"the temporal scaler has no parameter {key!r}")
            if not ({"endpoint", "endpointFromEnv"} & set(meta)):
                fail(at, "the temporal trigger needs endpoint or endpointFromEnv")
            for key in ("taskQueue", "targetQueueSize", "activationTargetQueueSize"):
                if key not in meta:
                    fail(at, f"the temporal trigger needs {key}")
            for key in ("targetQueueSize", "activationTargetQueueSize"):
                if key in meta and not str(meta[key]).isdigit():
                    fail(at, f"{key} must be a whole number, not {meta[key]!r}")
            queue = config.get("TEMPORAL_TASK_QUEUE", "bookings")
            if meta.get("taskQueue") != queue:
                fail(at, f"scales on queue {meta.get('taskQueue')!r}, the worker polls {queue!r}")


def check_environment(where: str, objs: list[dict]) -> None:
    """AIRLINE_ENV in every container of ours; API_TRUSTED_PROXIES narrow."""
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    allowed = AIRLINE_ENV.get(where)
    for obj, pod in our_pods(objs):
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            value = effective_env(c, configmaps).get("AIRLINE_ENV")
            if allowed is not None and value not in allowed:
                fail(f"{where} {name_of(obj)} container {c['name']}",
                     f"AIRLINE_ENV is {value!r}, must be one of {sorted(map(str, allowed))}")
    raw = configmaps.get("airline-config", {}).get("data", {}).get("API_TRUSTED_PROXIES", "")
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            fail(where, f"API_TRUSTED_PROXIES: {entry!r} is neither a CIDR nor an address")
            continue
        widest = PROXY_MAX_V4 if net.version == 4 else PROXY_MAX_V6
        if net.prefixlen < widest:
            fail(where, f"API_TRUSTED_PROXIES: {entry} is a network, not the ingress "
                 f"controller's addresses (at most /{widest}): every pod in it could "
                 "write its own X-Forwarded-For")


def check_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"/src/target/image/(\w+)", text))
    if copied != BINARIES:
        fail("Dockerfile", f"copies {sorted(copied)}, the manifests run {sorted(BINARIES)}")
    if not re.search(r"^USER\s+(?!root|0\b)\S+", text, re.M):
        fail("Dockerfile", "the runtime image must switch to a non-root USER")
    if "scripts/release.sh" not in text:
        fail("Dockerfile", "must build with scripts/release.sh, as `make release` does")


def dashboard_exprs() -> list[str]:
    dash = json.loads((DEPLOY / "observability/grafana-dashboard.json").read_text())
    exprs, ids = [], set()
    for panel in dash["panels"]:
        if panel["id"] in ids:
            fail("dashboard", f"panel id {panel['id']} repeats")
        ids.add(panel["id"])
        if panel["type"] == "row":
            continue
        targets = panel.get("targets", [])
        if not targets or not all(t.get("expr", "").strip() for t in targets):
            fail("dashboard", f"panel {panel['title']!r} has no query")
        exprs += [t["expr"] for t in targets]
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((DEPLOY / "observability/alerts.yaml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "by", "without",
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool",
    "histogram_quantile", "abs", "absent", "clamp_min", "clamp_max", "topk", "bottomk",
    "le", "offset", "vector", "scalar", "time", "delta", "deriv", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "label_replace", "inf", "nan",
}


def metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"[^"]*"', " ", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - PROMQL_WORDS


def check_metrics(scraped_dir: Path) -> None:
    exported = set()
    for page in scraped_dir.glob("*.txt"):
        for line in page.read_text().splitlines():
            if line and not line.startswith("#"):
                exported.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    if not exported:
        fail("metrics", f"no scraped metrics in {scraped_dir}")
    used = set()
    for expr in dashboard_exprs() + alert_exprs():
        used |= metric_names(expr)
    for name in sorted(used - exported):
        fail("metrics", f"{name} is used by the dashboard or an alert but no service exports it")
    print(f"metrics: {len(used)} used by the dashboard and alerts, all among the {len(exported)} exported")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "metrics":
        check_metrics(Path(sys.argv[2]))
    elif len(sys.argv) == 1:
        crds = crd_schemas()
        total = 0
        for k in KUSTOMIZATIONS:
            objs = render(k)
            total += len(objs)
            for obj in objs:
                validate_schema(k, obj, crds)
            check_objects(k, objs)
            check_environment(k, objs)
            check_temporal(k, objs)
            check_network_policies(k, objs)
        example = check_temporal_frontend_example()
        total += len(example)
        for obj in example:
            validate_schema("temporal-frontend", obj, crds)
        check_dockerfile()
        dashboard_exprs()
        for args in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
            run = subprocess.run(["promtool", *args], cwd=DEPLOY / "observability",
                                 capture_output=True, text=True)
            if run.returncode != 0:
                fail(f"promtool {' '.join(args)}", run.stdout + run.stderr)
        if not errors:
            print(f"deploy: {total} objects in {len(KUSTOMIZATIONS) + 1} renderings valid for "
                  f"Kubernetes {' and '.join(K8S_VERSIONS)} and KEDA's CRD schemas; "
                  "alert rules and their tests pass")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors:
        print(f"deploy: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
