"""Temporal's client settings in the renderings: the TEMPORAL_* variables
the gateway and the worker read, mutual TLS from the mounted client
certificate (plain text in the dev overlay), and KEDA's trigger with the
same certificate."""

from .common import effective_env, fail, name_of, our_pods

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
