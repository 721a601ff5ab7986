#!/usr/bin/env bash
# Checks the chart with the real tools where they are installed:
#   helm lint and helm template for every example values file, the default
#   values' refusal to render without a database, and (when kubernetes-validate
#   is installed) validation of the rendered manifests against the Kubernetes
#   OpenAPI schemas. Without helm it says so and exits 0: the static checks
#   that need no helm run in pytest (tests/deploy).
# Usage: helm/check.sh [KUBERNETES_VERSION]   (default 1.30.0)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
chart="$here/licheng"
k8s_version="${1:-1.30.0}"

if ! command -v helm >/dev/null 2>&1; then
    echo "SKIP: helm is not installed; nothing was linted or rendered by helm."
    echo "      (tests/deploy still checks the schema, the YAML and the templates' structure.)"
    exit 0
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failed=0

echo "== default values must refuse to render (no database configured)"
if helm template check "$chart" >"$out/default.yaml" 2>"$out/default.err"; then
    echo "FAIL: the default values rendered; expected the 'set database.url' guard"
    failed=1
elif grep -q "set database.url" "$out/default.err"; then
    echo "ok: $(grep -o 'set database.url[^"]*' "$out/default.err" | head -n 1)"
else
    echo "FAIL: unexpected error:"; cat "$out/default.err"; failed=1
fi

have_validator=0
if command -v kubernetes-validate >/dev/null 2>&1; then
    have_validator=1
else
    echo "NOTE: kubernetes-validate is not installed (pip install kubernetes-validate); rendered output is not schema-checked."
fi

for values in "$here"/examples/*.yaml; do
    name="$(basename "$values" .yaml)"
    echo "== $name"
    helm lint --strict "$chart" -f "$values" || failed=1
    if helm template "check-$name" "$chart" -f "$values" --namespace licheng \
        --api-versions monitoring.coreos.com/v1 >"$out/$name.yaml"; then
        echo "rendered $(grep -c '^kind:' "$out/$name.yaml") objects"
        if [ "$have_validator" = 1 ]; then
            # kubernetes-validate knows only built-in kinds: leave out the PodMonitor (a CRD).
            python3 - "$out/$name.yaml" "$out/$name.core.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
yaml.safe_dump_all(core, open(sys.argv[2], "w"))
PY
            kubernetes-validate -k "$k8s_version" --strict "$out/$name.core.yaml" || failed=1
        fi
    else
        failed=1
    fi
done

if [ "$failed" != 0 ]; then
    echo "helm/check.sh: FAILED"
    exit 1
fi
echo "helm/check.sh: all checks passed"
