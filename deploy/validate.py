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

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
KUBECTL = ROOT / ".dev/tools/kubectl"
# The oldest and the newest Kubernetes these manifests are for.
K8S_VERSIONS = ["1.33.0", "1.36.0"]
KUSTOMIZATIONS = ["base", "overlays/dev"]
APP_IMAGE = "airline-booking"
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

# The variables the Temporal client reads (temporalio-common 1.1.1,
# src/envconfig.rs, what `ClientOptions::load_from_config` applies), with
# the project's own TEMPORAL_TASK_QUEUE: any other TEMPORAL_* name is a typo
# the client would silently ignore.
TEMPORAL_ENV_VARS = {
    "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_CODEC_AUTH", "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_PROFILE", "TEMPORAL_TASK_QUEUE",
}
# The Deployments that dial Temporal, and whether each rendering does it
# over mutual TLS: the file each path variable names, as the KEDA
# `temporal` scaler's auth parameter of the same file.
TEMPORAL_CLIENTS = ("api", "worker")
TEMPORAL_TLS = {"base": True, "overlays/dev": False}
TLS_FILES = {
    "TEMPORAL_TLS_CLIENT_CERT_PATH": "cert",
    "TEMPORAL_TLS_CLIENT_KEY_PATH": "key",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "ca",
}
# The temporal scaler's `authParams` (KEDA 2.20.2, temporal_scaler.go).
TEMPORAL_AUTH_PARAMS = {"apiKey", "cert", "key", "keyPassword", "ca"}

# Who may open a connection to which pod and port, per rendering: (the
# peer's namespace, its app.kubernetes.io/name), SAME for the namespace of
# the policy, "*" for any pod. Every container port of every rendered pod
# must allow exactly these peers (nothing when not listed), with the base's
# default deny. The other namespaces by their kubernetes.io/metadata.name,
# as deploy/README.md's "Network policies" names them.
SAME = "<same namespace>"
BASE_INGRESS = {
    ("api", 8080): {("ingress-nginx", "*")},
    ("api", 9465): {("monitoring", "*"), ("operators", "*")},
    ("flights", 8081): {(SAME, "api"), (SAME, "worker"), ("monitoring", "*")},
    ("worker", 8082): {(SAME, "kannel"), ("monitoring", "*")},
    ("worker", 9464): {("monitoring", "*")},
}
DEV_INGRESS = BASE_INGRESS | {
    ("api", 8080): BASE_INGRESS[("api", 8080)] | {(SAME, "localstripe")},
    ("temporal", 7233): {(SAME, "api"), (SAME, "worker"), ("keda", "keda-operator")},
    ("postgres", 5432): {(SAME, n) for n in
                         ("api", "flights", "worker", "airline-migrate", "airline-seed")},
    ("localstripe", 8420): {(SAME, "worker")},
    ("mailpit", 1025): {(SAME, "api"), (SAME, "worker")},
}
INGRESS = {"base": BASE_INGRESS, "overlays/dev": DEV_INGRESS}
# Peers the renderings expect beside them without containing them.
EXTERNAL_PEERS = {"kannel"}
# The example for Temporal's namespace (deploy/temporal-frontend): the
# frontend's gRPC port from Temporal's own pods, the gateway and the
# worker, and KEDA's operator; its metrics from Prometheus.
TEMPORAL_FRONTEND = {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "frontend"}
TEMPORAL_FRONTEND_INGRESS = {
    7233: {(SAME, "temporal"), ("airline", "api"), ("airline", "worker"), ("keda", "keda-operator")},
    9090: {(SAME, "temporal"), ("monitoring", "*")},
}

errors: list[str] = []


def fail(where: str, message: str) -> None:
    errors.append(f"{where}: {message}")


def name_of(obj: dict) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def render(kustomization: str) -> list[dict]:
    out = subprocess.run(
        [str(KUBECTL), "kustomize", str(DEPLOY / kustomization)],
        check=True, capture_output=True, text=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


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


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", value.strip())
    if not m:
        raise ValueError(f"cannot read the duration {value!r}")
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


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


def effective_env(container: dict, configmaps: dict) -> dict:
    """The variables a container starts with, as far as the rendering says:
    its ConfigMaps' data, then its own `env` over them; a value from a
    Secret is `<secret NAME/KEY>`."""
    out = {}
    for src in container.get("envFrom", []):
        ref = src.get("configMapRef")
        if ref:
            for k, v in configmaps.get(ref["name"], {}).get("data", {}).items():
                out[src.get("prefix", "") + k] = v
    for env in container.get("env", []):
        if "value" in env:
            out[env["name"]] = env["value"]
        elif ref := env.get("valueFrom", {}).get("secretKeyRef"):
            out[env["name"]] = f"<secret {ref['name']}/{ref['key']}>"
        elif ref := env.get("valueFrom", {}).get("configMapKeyRef"):
            out[env["name"]] = configmaps.get(ref["name"], {}).get("data", {}).get(ref["key"])
        else:
            out[env["name"]] = ""
    return out


def our_pods(objs: list[dict]):
    """(object, pod spec) of every Deployment and Job running our image."""
    for obj in objs:
        if obj["kind"] not in ("Deployment", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        if any(c["image"].split("/")[-1].startswith(APP_IMAGE)
               for c in pod.get("containers", []) + pod.get("initContainers", [])):
            yield obj, pod


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


def secret_file(pod: dict, container: dict, path: str):
    """(Secret name, key) of the file at `path` in the container, when a
    read-only mount of a Secret volume provides it; else None."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in container.get("volumeMounts", []):
        base = m["mountPath"].rstrip("/") + "/"
        if not path.startswith(base) or "subPath" in m:
            continue
        secret = volumes.get(m["name"], {}).get("secret")
        if not secret or not m.get("readOnly"):
            return None
        name = path[len(base):]
        for item in secret.get("items", []):
            if item["path"] == name:
                return secret["secretName"], item["key"]
        return (secret["secretName"], name) if not secret.get("items") else None
    return None


def check_temporal(where: str, objs: list[dict]) -> None:
    """The gateway and the worker dial Temporal over mutual TLS from the
    mounted client certificate, and KEDA's trigger with the same one; or,
    in the dev overlay, in plain text with TLS explicitly off."""
    configmaps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    tls = TEMPORAL_TLS.get(where)
    for obj, pod in our_pods(objs):
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for name in effective_env(c, configmaps):
                if name.startswith("TEMPORAL_") and name not in TEMPORAL_ENV_VARS \
                        and not name.startswith("TEMPORAL_GRPC_META_"):
                    fail(f"{where} {name_of(obj)} container {c['name']}",
                         f"{name} is not a variable the Temporal client reads")
    client_files = {}
    for name in TEMPORAL_CLIENTS:
        obj = deployments.get(name)
        if obj is None:
            continue
        pod = obj["spec"]["template"]["spec"]
        c = pod["containers"][0]
        at = f"{where} {name_of(obj)}"
        env = effective_env(c, configmaps)
        if tls is None:
            continue
        if env.get("TEMPORAL_TLS") != ("true" if tls else "false"):
            fail(at, f"TEMPORAL_TLS is {env.get('TEMPORAL_TLS')!r}, must be "
                 f"{'true' if tls else 'false'} explicitly")
        if not tls:
            for var in TLS_FILES:
                if var in env:
                    fail(at, f"{var} is set, though Temporal is reached in plain text here")
            if any("secret" in v and v["secret"]["secretName"] == "temporal-client-tls"
                   for v in pod.get("volumes", [])):
                fail(at, "mounts temporal-client-tls, though Temporal is reached in plain text here")
            continue
        files = {}
        for var, param in TLS_FILES.items():
            path = env.get(var)
            if not path:
                fail(at, f"{var} is not set: no mutual TLS to Temporal")
                continue
            ref = secret_file(pod, c, path)
            if ref is None:
                fail(at, f"{var}={path} is not a file of a Secret mounted read-only")
                continue
            files[param] = ref
        client_files[name] = files
    if tls and len({tuple(sorted(f.items())) for f in client_files.values()}) > 1:
        fail(where, f"the gateway and the worker mount different client certificates: {client_files}")

    auths = {o["metadata"]["name"]: o for o in objs if o["kind"] == "TriggerAuthentication"}
    for so in (o for o in objs if o["kind"] == "ScaledObject"):
        at = f"{where} {name_of(so)}"
        for trigger in so["spec"]["triggers"]:
            if trigger["type"] != "temporal":
                continue
            endpoint = trigger["metadata"].get("endpoint")
            address = configmaps.get("airline-config", {}).get("data", {}).get("TEMPORAL_ADDRESS")
            if endpoint != address:
                fail(at, f"the trigger's endpoint {endpoint!r} is not TEMPORAL_ADDRESS {address!r}")
            ref = trigger.get("authenticationRef")
            if tls is False:
                if ref:
                    fail(at, "the trigger authenticates, though the dev server is plain text")
                continue
            if tls is None:
                continue
            if not ref:
                fail(at, "the temporal trigger has no authenticationRef: KEDA would dial in plain text")
                continue
            if ref.get("kind", "TriggerAuthentication") != "TriggerAuthentication" \
                    or ref["name"] not in auths:
                fail(at, f"authenticationRef {ref} names no TriggerAuthentication here")
                continue
            auth = auths[ref["name"]]
            params = {}
            for t in auth["spec"].get("secretTargetRef", []):
                if t["parameter"] not in TEMPORAL_AUTH_PARAMS:
                    fail(f"{where} {name_of(auth)}",
                         f"the temporal scaler has no auth parameter {t['parameter']!r}")
                params[t["parameter"]] = (t["name"], t["key"])
            if ("cert" in params) != ("key" in params):
                fail(f"{where} {name_of(auth)}", "the temporal scaler needs cert and key together")
            if not ({"cert", "apiKey"} & set(params)):
                fail(f"{where} {name_of(auth)}", "neither cert/key nor apiKey: KEDA would dial in plain text")
            worker = client_files.get("worker")
            if worker and {k: params.get(k) for k in worker} != worker:
                fail(f"{where} {name_of(auth)}",
                     f"KEDA's {params} are not the worker's client certificate {worker}")
    if tls is False and auths:
        fail(where, f"TriggerAuthentication {sorted(auths)} left in a plain-text rendering")


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels, matchExpressions) against labels."""
    if not matches(selector.get("matchLabels", {}), labels):
        return False
    for e in selector.get("matchExpressions", []):
        value, op = labels.get(e["key"]), e["operator"]
        if op == "In" and value not in e["values"]:
            return False
        if op == "NotIn" and value in e["values"]:
            return False
        if op == "Exists" and e["key"] not in labels:
            return False
        if op == "DoesNotExist" and e["key"] in labels:
            return False
    return True


def peer_keys(at: str, peer: dict) -> set:
    """(namespace, app.kubernetes.io/name) of a policy peer, "*" for any."""
    if "ipBlock" in peer:
        fail(at, f"ipBlock peer {peer['ipBlock']}: name namespaces and pods instead")
        return set()
    ns = SAME
    if "namespaceSelector" in peer:
        sel = peer["namespaceSelector"]
        labels = sel.get("matchLabels", {})
        if sel.get("matchExpressions") or set(labels) - {"kubernetes.io/metadata.name"}:
            fail(at, f"namespaceSelector {sel}: select by kubernetes.io/metadata.name only")
            return set()
        ns = labels.get("kubernetes.io/metadata.name", "*")
    sel = peer.get("podSelector", {})
    labels, exprs = sel.get("matchLabels", {}), sel.get("matchExpressions", [])
    if set(labels) - {"app.kubernetes.io/name"} or any(
            e["key"] != "app.kubernetes.io/name" or e["operator"] != "In" for e in exprs):
        fail(at, f"podSelector {sel}: select by app.kubernetes.io/name only")
        return set()
    if not labels and not exprs:
        return {(ns, "*")}
    names = {labels["app.kubernetes.io/name"]} if labels else None
    for e in exprs:
        names = set(e["values"]) if names is None else names & set(e["values"])
    return {(ns, n) for n in names}


def allowed_peers(where: str, policies: list[dict], labels: dict, port: int,
                  named: dict) -> set | None:
    """The peers let in to a pod with `labels` on `port` (named: its
    container ports by name); None when no policy isolates the pod."""
    isolated, peers = False, set()
    for pol in policies:
        spec = pol["spec"]
        if "Ingress" not in spec.get("policyTypes", ["Ingress"]) or not selects(spec["podSelector"], labels):
            continue
        isolated = True
        at = f"{where} {name_of(pol)}"
        for rule in spec.get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(
                p.get("protocol", "TCP") == "TCP"
                and (p.get("port") == port or named.get(p.get("port")) == port
                     or (isinstance(p.get("port"), int) and p.get("endPort")
                         and p["port"] <= port <= p["endPort"]))
                for p in ports
            ):
                continue
            if not rule.get("from"):
                peers.add(("*", "*"))
            for peer in rule.get("from", []):
                peers |= peer_keys(at, peer)
    return peers if isolated else None


def check_network(where: str, objs: list[dict], expected: dict, rendered_names: set) -> None:
    """Every container port of every pod lets in exactly the expected peers;
    every policy selects a pod; same-namespace peers are pods here."""
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    pods = [
        (o, o["spec"]["template"]) for o in objs if o["kind"] in ("Deployment", "Job")
    ]
    seen = set()
    for obj, template in pods:
        labels = template.get("metadata", {}).get("labels", {})
        name = labels.get("app.kubernetes.io/name")
        if name is None:
            fail(f"{where} {name_of(obj)}", "pods have no app.kubernetes.io/name: no policy can name them")
            continue
        ports = {p["containerPort"]: p.get("name") for c in template["spec"]["containers"]
                 for p in c.get("ports", []) if p.get("protocol", "TCP") == "TCP"}
        named = {n: num for num, n in ports.items() if n}
        for port in ports:
            seen.add((name, port))
            got = allowed_peers(where, policies, labels, port, named)
            want = expected.get((name, port), set())
            if got is None:
                fail(f"{where} {name_of(obj)}", f"port {port}: no NetworkPolicy selects these pods "
                     "(is the default deny missing?)")
            elif got != want:
                fail(f"{where} {name_of(obj)}", f"port {port} lets in {sorted(got) or 'no one'}, "
                     f"expected {sorted(want) or 'no one'}")
    for key in sorted(set(expected) - seen):
        fail(where, f"no pod {key[0]} with port {key[1]} to apply the expected policy to")
    for pol in policies:
        at = f"{where} {name_of(pol)}"
        if not any(selects(pol["spec"]["podSelector"], t.get("metadata", {}).get("labels", {}))
                   for _, t in pods) and pol["spec"]["podSelector"]:
            if rendered_names:
                fail(at, f"podSelector {pol['spec']['podSelector']} selects no pod here")
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    continue
                for _, n in peer_keys(at, peer):
                    if rendered_names and n != "*" and n not in rendered_names | EXTERNAL_PEERS:
                        fail(at, f"peer app.kubernetes.io/name={n} is no pod of this rendering")
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
            and "Ingress" in p["spec"].get("policyTypes", [])]
    if rendered_names and not deny:
        fail(where, "no default-deny ingress NetworkPolicy (podSelector {}, no ingress rules)")


def check_network_policies(where: str, objs: list[dict]) -> None:
    expected = INGRESS.get(where)
    if expected is None:
        return
    names = {o["spec"]["template"].get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name")
             for o in objs if o["kind"] in ("Deployment", "Job")} - {None}
    check_network(where, objs, expected, names)


def check_temporal_frontend_example() -> None:
    where = "temporal-frontend"
    objs = render(where)
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    if not policies:
        fail(where, "no NetworkPolicy")
    for port, want in TEMPORAL_FRONTEND_INGRESS.items():
        got = allowed_peers(where, policies, TEMPORAL_FRONTEND, port, {})
        if got != want:
            fail(where, f"the frontend's port {port} lets in {sorted(got or [])}, expected {sorted(want)}")
    got = allowed_peers(where, policies, TEMPORAL_FRONTEND, 7234, {})
    if got != {(SAME, "temporal")}:
        fail(where, f"the frontend's other ports let in {sorted(got or [])}, expected Temporal's own pods only")
    return objs


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
