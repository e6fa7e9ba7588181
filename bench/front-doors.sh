#!/usr/bin/env bash
# Front-door benchmarks, side by side in one run:
#   - kubecred's docker credential helper vs docker-credential-ecr-login (Debian package
#     amazon-ecr-credential-helper), cold (GetAuthorizationToken at moto) and warm (each
#     helper's own file cache);
#   - cold start of `kubecred kubelet-credential-provider` and `kubecred cluster credentials`.
# Prints a table and writes bench/RESULTS.md. Everything runs on loopback.
#
# Notes on fairness, also written into RESULTS.md:
#   - docker-credential-ecr-login has no endpoint override, so it reaches moto through
#     moto_proxy (HTTPS interception); kubecred reaches moto directly (AWS_ENDPOINT_URL_ECR).
#   - moto issues ECR tokens that are already expired, so neither helper can serve them from
#     its cache. Warm runs therefore use a credential that is valid for 12 h: for ecr-login its
#     cache file from a moto login with the expiry moved ahead; for kubecred a cached login at
#     the sandbox's ECR Public stand-in. A warm run makes no network call in either helper.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-40}"
HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com

need() { command -v "$1" >/dev/null 2>&1; }
need docker-credential-ecr-login && need hyperfine || { apt-get update -qq && apt-get install -y -qq amazon-ecr-credential-helper hyperfine >/dev/null; }
python3 -c 'import moto.server, multipart' 2>/dev/null || python3 -m pip install --quiet 'moto[server,proxy]'
cargo build --release -q -p kubecred-cli
BIN="$PWD/target/release/kubecred"
[ -n "${CARGO_TARGET_DIR:-}" ] && BIN="$CARGO_TARGET_DIR/release/kubecred"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

moto_port=$(free_port); proxy_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 & pids+=($!)
moto_proxy -H 127.0.0.1 -p "$proxy_port" >"$work/proxy.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$moto_port/moto-api/"
"$BIN" sandbox --manifests examples/sandbox.yaml --kubeconfig "$work/kubeconfig" >"$work/sandbox.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q 'Press Ctrl-C' "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
exported() { sed -n "s/^  export $1=//p" "$work/sandbox.out"; }
ecr_public=$(exported AWS_ENDPOINT_URL_ECR_PUBLIC); imds=$(exported AWS_EC2_METADATA_SERVICE_ENDPOINT)

ca=$(python3 -c 'import moto,os;print(os.path.join(os.path.dirname(moto.__file__),"moto_proxy","ca.crt"))')
cat /etc/ssl/certs/ca-certificates.crt "$ca" >"$work/bundle.pem"
mkdir -p "$work/home" "$work/helpers"
ln -s "$BIN" "$work/helpers/docker-credential-kubecred"
echo "$HOST" >"$work/private.txt"; echo public.ecr.aws >"$work/public.txt"
base="env -i PATH=$work/helpers:$PATH HOME=$work/home AWS_ACCESS_KEY_ID=AKIAEXAMPLEBENCH01 AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true"
ecr_login="$base HTTPS_PROXY=http://127.0.0.1:$proxy_port AWS_CA_BUNDLE=$work/bundle.pem docker-credential-ecr-login get"
kubecred="$base XDG_CACHE_HOME=$work/cache AWS_ENDPOINT_URL_ECR=http://127.0.0.1:$moto_port docker-credential-kubecred get"
# The ECR Public stand-in verifies signatures, so the warm entry is minted with keys it issued:
# the node role its instance metadata service serves (the default chain's last source).
kubecred_public="env -i PATH=$work/helpers:$PATH HOME=$work/home AWS_REGION=us-east-1 AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds XDG_CACHE_HOME=$work/cache AWS_ENDPOINT_URL_ECR_PUBLIC=$ecr_public docker-credential-kubecred get"

# Sanity: both answer with moto's password.
sh -c "$ecr_login <$work/private.txt" | grep -q '"Username":"AWS"'
sh -c "$kubecred <$work/private.txt" | grep -q '"Username":"AWS"'
# Warm caches: ecr-login's moto entry moved 12 h ahead; kubecred's ECR Public login.
python3 - "$work/home/.ecr/cache.json" <<'PY'
import json, sys, datetime
path = sys.argv[1]
cache = json.load(open(path))
later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
for entry in cache["Registries"].values():
    entry["ExpiresAt"] = later
json.dump(cache, open(path, "w"))
PY
sh -c "$kubecred_public <$work/public.txt" >/dev/null
ls "$work/cache/kubecred/"*.json >/dev/null

req() { printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"public.ecr.aws/team/app:1"}' >"$work/kubelet.json"; }; req
kubelet="env -i PATH=$PATH HOME=$work/home AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds AWS_ENDPOINT_URL_ECR_PUBLIC=$ecr_public $BIN kubelet-credential-provider"
cluster="env -i PATH=$PATH HOME=$work/home $BIN cluster credentials --provider generic --address https://remote.example.test --namespace team-a --service-account app --kubeconfig $work/kubeconfig"

hyperfine --warmup 3 --runs "$RUNS" --export-json "$work/times.json" \
  -n ecr-login-warm "$ecr_login <$work/private.txt" \
  -n kubecred-warm "$kubecred_public <$work/public.txt" \
  -n ecr-login-cold "rm -f $work/home/.ecr/cache.json; $ecr_login <$work/private.txt" \
  -n kubecred-cold "$kubecred <$work/private.txt" \
  -n kubelet-provider-node "$kubelet <$work/kubelet.json" \
  -n cluster-credentials-generic "$cluster" >"$work/hyperfine.txt"

# ecr-login's cache is gone after the cold runs: restore the warm entry for the memory runs.
sh -c "$ecr_login <$work/private.txt" >/dev/null
python3 - "$work/home/.ecr/cache.json" <<'PY'
import json, sys, datetime
path = sys.argv[1]; cache = json.load(open(path))
later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
for entry in cache["Registries"].values(): entry["ExpiresAt"] = later
json.dump(cache, open(path, "w"))
PY
peak() { for _ in 1 2 3 4 5; do /usr/bin/time -f %M sh -c "$1" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p; }
mem_ecr_warm=$(peak "$ecr_login <$work/private.txt"); mem_kc_warm=$(peak "$kubecred_public <$work/public.txt")
mem_ecr_cold=$(peak "rm -f $work/home/.ecr/cache.json; $ecr_login <$work/private.txt"); mem_kc_cold=$(peak "$kubecred <$work/private.txt")
mem_kubelet=$(peak "$kubelet <$work/kubelet.json"); mem_cluster=$(peak "$cluster")

python3 - "$work/times.json" "$mem_ecr_warm" "$mem_kc_warm" "$mem_ecr_cold" "$mem_kc_cold" "$mem_kubelet" "$mem_cluster" "$RUNS" <<'PY' | tee bench/RESULTS.md
import json, sys, statistics, platform, subprocess
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mem = dict(zip(["ecr-login-warm", "kubecred-warm", "ecr-login-cold", "kubecred-cold", "kubelet-provider-node", "cluster-credentials-generic"], sys.argv[2:8]))
med = lambda n: statistics.median(times[n]["times"]) * 1000
print("# Front-door benchmarks\n")
print(f"Produced by `bench/front-doors.sh` (RUNS={sys.argv[8]}), on {platform.machine()} with {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; whole-process wall time (hyperfine, shell start subtracted) and peak RSS (`/usr/bin/time`, median of 5).\n")
print("| command | median wall (ms) | peak RSS (MiB) |\n|---|---:|---:|")
for name in mem:
    print(f"| {name} | {med(name):.1f} | {int(mem[name]) / 1024:.1f} |")
print()
print(f"- warm: docker-credential-ecr-login / kubecred = **{med('ecr-login-warm') / med('kubecred-warm'):.1f}x** (target ≥ 3x)")
print(f"- cold: docker-credential-ecr-login / kubecred = **{med('ecr-login-cold') / med('kubecred-cold'):.1f}x**")
print("""
Setup: moto (ECR) on loopback; docker-credential-ecr-login reaches it through moto_proxy (it has no
endpoint override), kubecred directly (`AWS_ENDPOINT_URL_ECR`). moto issues already-expired ECR tokens,
so warm runs use a 12 h credential: ecr-login's cache entry from a moto login with its expiry moved
ahead, and kubecred's cached login at the sandbox's ECR Public stand-in (minted with the node role of its
IMDS stand-in, since it verifies signatures); neither makes a network call when warm. The kubelet provider runs with node identity (IMDSv2 stand-in, ECR Public); `cluster
credentials` mints a generic ServiceAccount token through the sandbox's API server.""")
PY
