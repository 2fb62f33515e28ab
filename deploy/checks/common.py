"""What the checks of deploy/validate.py share: the paths, the errors
found so far, rendering a kustomization, and reading the rendered objects
(names, durations, selectors, the pods of our image and their
environment)."""

import re
import subprocess
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent
ROOT = DEPLOY.parent
KUBECTL = ROOT / ".dev/tools/kubectl"
APP_IMAGE = "airline-booking"

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


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", value.strip())
    if not m:
        raise ValueError(f"cannot read the duration {value!r}")
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


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
