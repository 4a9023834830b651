#!/usr/bin/env bash
# Run the e2e mesh scenarios against a kind cluster, where pods really run: build the two images,
# load them into kind, install the chart (the default revision and a `canary` one), then run the
# suite with E2E_KUBECONFIG so the fixtures use this cluster and these releases. See README.md.
#
#   ENVOY_IMAGE=envoyproxy/envoy:distroless-v1.40.0@sha256:<digest> e2e/kind/run.sh [pytest args]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER=${KIND_CLUSTER:-mesh-webhooks-e2e}
TAG=${IMAGE_TAG:-e2e}
WEBHOOK_IMAGE=mesh-webhooks:${TAG}
PROXY_IMAGE=mesh-webhooks-proxy:${TAG}
NAMESPACE=istio-system
KUBECONFIG_FILE=${ROOT}/e2e/.cache/kind-${CLUSTER}.kubeconfig
PYTEST=${PYTEST:-${ROOT}/.venv/bin/pytest}

: "${ENVOY_IMAGE:?set ENVOY_IMAGE to envoyproxy/envoy:distroless-<version>@sha256:<digest> (images/README.md)}"
for tool in docker kind helm kubectl; do
    command -v "${tool}" >/dev/null || { echo "run.sh: ${tool} is not on PATH" >&2; exit 2; }
done

echo "--- building ${WEBHOOK_IMAGE} and ${PROXY_IMAGE}"
docker build -f "${ROOT}/images/Dockerfile.webhook" -t "${WEBHOOK_IMAGE}" "${ROOT}"
docker build -f "${ROOT}/images/Dockerfile.proxy" -t "${PROXY_IMAGE}" \
    --build-arg "ENVOY_IMAGE=${ENVOY_IMAGE}" "${ROOT}"

if ! kind get clusters | grep -qx "${CLUSTER}"; then
    echo "--- creating kind cluster ${CLUSTER}"
    kind create cluster --name "${CLUSTER}" --wait 180s
fi
mkdir -p "$(dirname "${KUBECONFIG_FILE}")"
kind get kubeconfig --name "${CLUSTER}" > "${KUBECONFIG_FILE}"
export KUBECONFIG=${KUBECONFIG_FILE}
kind load docker-image --name "${CLUSTER}" "${WEBHOOK_IMAGE}" "${PROXY_IMAGE}"

# Images are loaded, never pulled: pull policy Never for the server and the injected containers.
install() {  # install <release> <revision> [helm args]
    local release=$1 revision=$2
    shift 2
    helm upgrade --install "${release}" "${ROOT}/charts/mesh-webhooks" \
        --namespace "${NAMESPACE}" --create-namespace \
        --set-string "revision=${revision}" \
        --set image.repository=mesh-webhooks --set-string "image.tag=${TAG}" \
        --set image.pullPolicy=Never \
        --set "inject.proxyImage=${PROXY_IMAGE}" --set "inject.initImage=${PROXY_IMAGE}" \
        --set inject.imagePullPolicy=Never \
        --wait --timeout 5m "$@"
}
echo "--- installing the chart"
install mesh-webhooks ""
# The first release installed the CRDs; the canary answers the tag prod-stable too.
install mesh-webhooks-canary canary --skip-crds --set "revisionTags={prod-stable}"

echo "--- running the e2e suite against ${CLUSTER}"
cd "${ROOT}"
# The scenarios that need a server started by the tests (certificates, webhook down) run only
# against the local control plane; running_pods.py needs pods that really run.
E2E_KUBECONFIG=${KUBECONFIG_FILE} "${PYTEST}" -p no:cacheprovider \
    e2e/test_injection.py e2e/test_kinds.py e2e/test_rejections.py e2e/test_crd_schema.py \
    e2e/kind/running_pods.py "$@"
