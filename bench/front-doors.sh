#!/usr/bin/env bash
# Front-door benchmarks, side by side in one run:
#   - kubecred's docker credential helper vs docker-credential-ecr-login (Debian package
#     amazon-ecr-credential-helper), cold (GetAuthorizationToken at moto) and warm (each
#     helper's own file cache);
#   - kubectl's exec credential plugin for EKS: `kubecred cluster credentials --provider aws`
#     (as the kubeconfig `kubecred cluster kubeconfig` writes runs it) vs `aws eks get-token`
#     (the AWS CLI, which EKS kubeconfigs run by default), cold, and kubecred warm (its disk
#     cache; `aws eks get-token` has none);
#   - cold start of `kubecred kubelet-credential-provider`, warm `kubecred cluster credentials`.
# Prints a table and writes bench/RESULTS.md. Everything runs on loopback.
#
# Notes on fairness, also written into RESULTS.md:
#   - docker-credential-ecr-login has no endpoint override, so its cold run reaches moto through
#     moto_proxy (HTTPS interception: HTTPS_PROXY and a CA bundle with moto's CA); kubecred
#     reaches moto directly (AWS_ENDPOINT_URL_ECR). Warm runs make no network call, so each tool
#     gets what a user would give it: keys and region, no proxy, no CA bundle, no endpoint.
#   - Each tool runs in its own environment, set on hyperfine; cache removal before a cold run
#     is hyperfine's untimed --prepare step.
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
# Each tool runs with its own environment, set on hyperfine itself, so no `env` process is
# timed (it would add the same ~1 ms to both sides).
common="PATH=$work/helpers:$PATH HOME=$work/home AWS_REGION=us-east-1"
keys="AWS_ACCESS_KEY_ID=AKIAEXAMPLEBENCH01 AWS_SECRET_ACCESS_KEY=bench-secret AWS_EC2_METADATA_DISABLED=true"
ecr_env="$common $keys HTTPS_PROXY=http://127.0.0.1:$proxy_port AWS_CA_BUNDLE=$work/bundle.pem"
# Warm: what a user gives the helper (no interception proxy, no extra CA bundle to load).
ecr_warm_env="$common $keys"
kc_env="$common $keys XDG_CACHE_HOME=$work/cache AWS_ENDPOINT_URL_ECR=http://127.0.0.1:$moto_port"
# The ECR Public stand-in verifies signatures, so the warm entry is minted with keys it issued:
# the node role its instance metadata service serves (the default chain's last source).
kc_public_env="$common AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds XDG_CACHE_HOME=$work/cache AWS_ENDPOINT_URL_ECR_PUBLIC=$ecr_public"
ecr_login="docker-credential-ecr-login get"
kubecred="docker-credential-kubecred get"
in_env() { local vars="$1"; shift; env -i $vars "$@"; }

# Sanity: both answer with moto's password.
in_env "$ecr_env" sh -c "$ecr_login <$work/private.txt" | grep -q '"Username":"AWS"'
in_env "$kc_env" sh -c "$kubecred <$work/private.txt" | grep -q '"Username":"AWS"'
# kubecred's warm entry: an ECR Public login, valid 12 h.
in_env "$kc_public_env" sh -c "$kubecred <$work/public.txt" >/dev/null
ls "$work/cache/kubecred/"*.json >/dev/null

printf '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"public.ecr.aws/team/app:1"}' >"$work/kubelet.json"
kubelet_env="PATH=$PATH HOME=$work/home AWS_EC2_METADATA_SERVICE_ENDPOINT=$imds AWS_ENDPOINT_URL_ECR_PUBLIC=$ecr_public"
cluster_env="PATH=$PATH HOME=$work/home XDG_CACHE_HOME=$work/cache"
cluster="$BIN cluster credentials --provider generic --address https://remote.example.test --namespace team-a --service-account app --kubeconfig $work/kubeconfig"
in_env "$cluster_env" sh -c "$cluster" >/dev/null   # warm its cache

# kubectl's exec plugin for EKS, with the user's keys, as kubectl runs it (KUBERNETES_EXEC_INFO
# set). kubecred: the arguments `cluster kubeconfig --provider aws --cluster ARN --region R` writes
# (the address it read from DescribeCluster included); aws: what `aws eks update-kubeconfig` writes.
# Both presign an STS GetCallerIdentity URL locally: no network call.
exec_info='KUBERNETES_EXEC_INFO={"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'
eks_arn=arn:aws:eks:us-east-1:123456789012:cluster/bench
eks_kc_env="$common $keys XDG_CACHE_HOME=$work/eks-cache"
eks_aws_env="$common $keys"
eks_kubecred="$BIN cluster credentials --provider aws --cluster $eks_arn --address https://bench.eks.example.test --region us-east-1"
eks_aws="aws --region us-east-1 eks get-token --cluster-name bench --output json"
eks_cold_prepare="sh -c 'rm -f $work/eks-cache/kubecred/*.json'"
# Sanity: both print an EKS token (output kept in files: `grep -q` closing the pipe early would
# break the AWS CLI's write).
in_env "$eks_kc_env $exec_info" sh -c "$eks_kubecred" >"$work/eks-kubecred.json"
in_env "$eks_aws_env $exec_info" sh -c "$eks_aws" >"$work/eks-aws.json"
grep -q '"token":"k8s-aws-v1\.' "$work/eks-kubecred.json"; grep -q '"token": *"k8s-aws-v1\.' "$work/eks-aws.json"

# kubectl's exec plugin for GKE, with the node's identity (the sandbox's metadata server
# stand-in), as kubectl runs it. Google's plugin: `gke-gcloud-auth-plugin
# --use_application_default_credentials` (its ADC finds the metadata server through
# GCE_METADATA_HOST, as on a node); kubecred: `cluster credentials --provider gcp --node --cluster
# ID`. Both fetch the node service account's token from the metadata server when cold.
gce=$(exported GCE_METADATA_HOST)
gke_id=projects/example-project/locations/europe-west1/clusters/kubecred-sandbox
mkdir -p "$work/gke-home"
gke_plugin_env="PATH=$PATH HOME=$work/gke-home GCE_METADATA_HOST=$gce"
gke_kc_env="PATH=$PATH HOME=$work/gke-home GCE_METADATA_HOST=$gce XDG_CACHE_HOME=$work/gke-cache"
gke_plugin="gke-gcloud-auth-plugin --use_application_default_credentials"
gke_kubecred="$BIN cluster credentials --provider gcp --node --cluster $gke_id"
gke_cold_prepare="sh -c 'rm -rf $work/gke-cache/kubecred $work/gke-home/.kube'"
in_env "$gke_plugin_env $exec_info" sh -c "$gke_plugin" >"$work/gke-plugin.json"
in_env "$gke_kc_env $exec_info" sh -c "$gke_kubecred" >"$work/gke-kubecred.json"
grep -q '"token"' "$work/gke-plugin.json"; grep -q '"token"' "$work/gke-kubecred.json"

restore_ecr_warm() {
  in_env "$ecr_env" sh -c "$ecr_login <$work/private.txt" >/dev/null
  python3 - "$work/home/.ecr/cache.json" <<'PY'
import json, sys, datetime
path = sys.argv[1]; cache = json.load(open(path))
later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
for entry in cache["Registries"].values(): entry["ExpiresAt"] = later
json.dump(cache, open(path, "w"))
PY
}
# bench NAME VARS COMMAND [PREPARE]: PREPARE runs before each timed run, untimed. Commands run
# directly (`-N`): hyperfine's subtraction of its own shell's start is noisier than the ~1 ms
# runs on a busy machine (it has printed 0.0 ms). A command that reads stdin is `fed`: started by
# `sh -c 'exec CMD <FILE'` (hyperfine 1.15 has no --input), the same cost on both sides, measured
# alone as the `sh-exec-baseline` row.
bench() {
  local name="$1" vars="$2" command="$3" prepare="${4:-true}"
  in_env "$vars" hyperfine -N --warmup 3 --runs "$RUNS" --prepare "$prepare" --export-json "$work/$name.json" -n "$name" "$command" >>"$work/hyperfine.txt"
}
fed() { echo "sh -c 'exec $1 <$2'"; }
peak() { for _ in 1 2 3 4 5; do in_env "$1" /usr/bin/time -f %M sh -c "$2" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p; }

restore_ecr_warm
# The warm sanity check: ecr-login answers from its cache without the proxy (a network call
# would go to the real ECR, unreachable here, and fail).
in_env "$ecr_warm_env" sh -c "$ecr_login <$work/private.txt" | grep -q '"Username":"AWS"'
ecr_cold_prepare="rm -f $work/home/.ecr/cache.json"
bench ecr-login-warm "$ecr_warm_env" "$(fed "$ecr_login" "$work/private.txt")"; mem_ecr_warm=$(peak "$ecr_warm_env" "$ecr_login <$work/private.txt")
bench kubecred-warm "$kc_public_env" "$(fed "$kubecred" "$work/public.txt")"; mem_kc_warm=$(peak "$kc_public_env" "$kubecred <$work/public.txt")
bench ecr-login-cold "$ecr_env" "$(fed "$ecr_login" "$work/private.txt")" "$ecr_cold_prepare"
mem_ecr_cold=$(peak "$ecr_env" "$ecr_cold_prepare; $ecr_login <$work/private.txt")
bench kubecred-cold "$kc_env" "$(fed "$kubecred" "$work/private.txt")"; mem_kc_cold=$(peak "$kc_env" "$kubecred <$work/private.txt")
bench kubelet-provider-node "$kubelet_env" "$(fed "$BIN kubelet-credential-provider" "$work/kubelet.json")"
mem_kubelet=$(peak "$kubelet_env" "$BIN kubelet-credential-provider <$work/kubelet.json")
bench cluster-credentials-warm "$cluster_env" "$cluster"; mem_cluster=$(peak "$cluster_env" "$cluster")
bench aws-eks-get-token "$eks_aws_env $exec_info" "$eks_aws"; mem_eks_aws=$(peak "$eks_aws_env $exec_info" "$eks_aws")
bench kubecred-eks-cold "$eks_kc_env $exec_info" "$eks_kubecred" "$eks_cold_prepare"
mem_eks_cold=$(peak "$eks_kc_env $exec_info" "$eks_cold_prepare; $eks_kubecred")
in_env "$eks_kc_env $exec_info" sh -c "$eks_kubecred" >/dev/null   # warm its cache
bench kubecred-eks-warm "$eks_kc_env $exec_info" "$eks_kubecred"; mem_eks_warm=$(peak "$eks_kc_env $exec_info" "$eks_kubecred")
bench gke-plugin-cold "$gke_plugin_env $exec_info" "$gke_plugin" "$gke_cold_prepare"
mem_gke_plugin_cold=$(peak "$gke_plugin_env $exec_info" "$gke_cold_prepare; $gke_plugin")
in_env "$gke_plugin_env $exec_info" sh -c "$gke_plugin" >/dev/null   # its own cache, if it keeps one
bench gke-plugin-warm "$gke_plugin_env $exec_info" "$gke_plugin"; mem_gke_plugin_warm=$(peak "$gke_plugin_env $exec_info" "$gke_plugin")
bench kubecred-gke-cold "$gke_kc_env $exec_info" "$gke_kubecred" "$gke_cold_prepare"
mem_gke_cold=$(peak "$gke_kc_env $exec_info" "$gke_cold_prepare; $gke_kubecred")
in_env "$gke_kc_env $exec_info" sh -c "$gke_kubecred" >/dev/null   # warm its cache
bench kubecred-gke-warm "$gke_kc_env $exec_info" "$gke_kubecred"; mem_gke_warm=$(peak "$gke_kc_env $exec_info" "$gke_kubecred")
bench sh-exec-baseline "$common" "$(fed true "$work/private.txt")"; mem_baseline=$(peak "$common" "exec true <$work/private.txt")
rows=(ecr-login-warm kubecred-warm ecr-login-cold kubecred-cold kubelet-provider-node cluster-credentials-warm aws-eks-get-token kubecred-eks-cold kubecred-eks-warm gke-plugin-cold gke-plugin-warm kubecred-gke-cold kubecred-gke-warm sh-exec-baseline)
python3 -c 'import json,sys; print(json.dumps({"results": [json.load(open(f"{sys.argv[1]}/{n}.json"))["results"][0] for n in sys.argv[2:]]}))' \
  "$work" "${rows[@]}" >"$work/times.json"

python3 - "$work/times.json" "$RUNS" "${rows[*]}" "$mem_ecr_warm" "$mem_kc_warm" "$mem_ecr_cold" "$mem_kc_cold" "$mem_kubelet" "$mem_cluster" "$mem_eks_aws" "$mem_eks_cold" "$mem_eks_warm" "$mem_gke_plugin_cold" "$mem_gke_plugin_warm" "$mem_gke_cold" "$mem_gke_warm" "$mem_baseline" <<'PY' | tee bench/RESULTS.md
import json, os, sys, statistics, platform, subprocess
times = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mem = dict(zip(sys.argv[3].split(), sys.argv[4:]))
med = lambda n: statistics.median(times[n]["times"]) * 1000
ratio = lambda a, b: med(a) / med(b)
aws_version = (lambda r: (r.stdout or r.stderr).split(" ")[0])(subprocess.run(["aws", "--version"], capture_output=True, text=True))
print("# Front-door benchmarks\n")
print(f"Produced by `RUNS={sys.argv[2]} bench/front-doors.sh`, on {platform.machine()} with {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; whole-process wall time (hyperfine `-N`, no shell; the docker helpers and the kubelet provider, which read stdin, started by `sh -c 'exec CMD <FILE'`, whose cost alone is the `sh-exec-baseline` row) and peak RSS (`/usr/bin/time`, median of 5). Ratios are of medians measured in this run. Load average (1 min) at its end: {os.getloadavg()[0]:.1f} (a shared machine: absolute times vary between runs more than the ratios).\n")
print("| command | median wall (ms) | peak RSS (MiB) |\n|---|---:|---:|")
for name in mem:
    print(f"| {name} | {med(name):.1f} | {int(mem[name]) / 1024:.1f} |")
print()
warm = ratio('ecr-login-warm', 'kubecred-warm')
print(f"- docker helper, warm: docker-credential-ecr-login / kubecred = **{warm:.1f}x** (target ≥ 3x: {'met' if warm >= 3 else 'not met'}; both include `sh-exec-baseline`, {med('sh-exec-baseline'):.1f} ms)")
print(f"- docker helper, cold: docker-credential-ecr-login / kubecred = **{ratio('ecr-login-cold', 'kubecred-cold'):.1f}x** (ecr-login through an intercepting proxy, see below)")
gke_warm = ratio('gke-plugin-warm', 'kubecred-gke-warm')
print(f"- kubectl exec plugin (GKE, node identity): gke-gcloud-auth-plugin cold / kubecred cold = **{ratio('gke-plugin-cold', 'kubecred-gke-cold'):.1f}x**; warm / warm = **{gke_warm:.1f}x** (kubecred's warm exec plugin {'faster' if gke_warm > 1 else 'NOT faster'})")
print(f"- kubectl exec plugin (EKS): aws eks get-token / kubecred cold = **{ratio('aws-eks-get-token', 'kubecred-eks-cold'):.1f}x**; / kubecred warm (disk cache) = **{ratio('aws-eks-get-token', 'kubecred-eks-warm'):.1f}x** (`aws eks get-token` has no cache: every kubectl call is a cold one)")
print("""
Each tool runs in the environment a user would give it for that case, set on hyperfine (no `env`
process is timed); removing a cache before a cold run is hyperfine's untimed `--prepare` step.

- Docker helper, warm: both answer from their own cache file, no network call. ecr-login gets
  `PATH`, `HOME` and the user's keys and region (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
  `AWS_REGION`): no proxy, no CA bundle. kubecred gets the environment its entry was cached in
  (`PATH`, `HOME`, `XDG_CACHE_HOME`, `AWS_REGION` and the stand-ins' endpoints, which a warm hit
  does not use). moto issues already-expired ECR tokens, so the warm
  entries are a 12 h credential: ecr-login's cache entry from a moto login with its expiry moved
  ahead, and kubecred's cached login at the sandbox's ECR Public stand-in (minted with the node
  role of its IMDS stand-in, since it verifies signatures). The two entries are for different
  registries (private ECR vs ECR Public); neither helper reads more than its one cache file.
- Docker helper, cold: `GetAuthorizationToken` at moto on loopback. ecr-login has no endpoint
  override, so it reaches moto through moto_proxy (`HTTPS_PROXY`, and `AWS_CA_BUNDLE` with the
  system CAs plus moto_proxy's CA; loading that bundle is part of its time); kubecred reaches
  moto directly (`AWS_ENDPOINT_URL_ECR`). Both with env keys; each run starts with its cache removed.
- kubectl exec plugin for EKS, both with env keys and `KUBERNETES_EXEC_INFO` as kubectl sets it:
  `aws --region us-east-1 eks get-token --cluster-name bench --output json` (""" + aws_version + """,
  what `aws eks update-kubeconfig` writes) and `kubecred cluster credentials
  --provider aws --cluster ARN --address URL --region us-east-1` (what `kubecred cluster
  kubeconfig` writes). Both presign an STS `GetCallerIdentity` URL locally, no network call.
  kubecred cold: its cache file removed before each run (the run writes a new one); warm: served
  from its disk cache.
- kubectl exec plugin for GKE, both with `KUBERNETES_EXEC_INFO` and the node's identity from the
  sandbox's metadata server stand-in (`GCE_METADATA_HOST`, as Google's libraries read it):
  `gke-gcloud-auth-plugin --use_application_default_credentials` (what GKE kubeconfigs run, in
  ADC mode) and `kubecred cluster credentials --provider gcp --node --cluster ID`. Cold: each
  run starts with both tools' caches removed (kubecred's disk cache, the plugin's `~/.kube`);
  warm: whatever each keeps between runs (kubecred's disk cache).
- The kubelet provider runs cold (the kubelet caches by `cacheDuration`) with node identity (IMDSv2
  stand-in, ECR Public); `cluster-credentials-warm` is the generic provider's exec plugin served
  from its disk cache.

## Where kubecred's warm time goes (measured by hand, 2026-11-24)

A plain warm `get` (no option, no `KUBECRED_LOG`, no `KUBECRED_NO_CACHE`) is answered before the
command-line parser, the logger, the TLS provider and the async runtime are set up: it reads stdin,
the optional config file and one cache file (`src/docker.rs`, `answer_warm_get`). That took the
warm `get` from ~1.7 ms to ~1.3 ms (hyperfine, same machine, same cache entry); an empty Rust
`main` takes ~0.8 ms here. What is left is process start-up: `perf` counts ~350 page faults
against ~130 for the empty program, ~170 of them in the dynamic loader applying the PIE's
~34k relative relocations (`.data.rel.ro`, ~540 KiB). A non-PIE link
(`-C relocation-model=static`) removes those (~0.3 ms) but gives up ASLR for the binary's
image; the shipped build stays PIE. Packed relative relocations (`-z pack-relative-relocs`) do
not reduce the page faults and measured no faster.""")
PY
