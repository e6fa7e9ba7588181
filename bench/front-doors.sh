#!/usr/bin/env bash
# Front-door benchmarks, side by side in one run:
#   - kubecred's docker credential helper vs docker-credential-ecr-login (Debian package
#     amazon-ecr-credential-helper), cold (GetAuthorizationToken at moto) and warm (each
#     helper's own file cache);
#   - kubectl's exec credential plugin for EKS: `kubecred cluster credentials --provider aws`
#     (as the kubeconfig `kubecred cluster kubeconfig` writes runs it) vs `aws eks get-token`
#     (the AWS CLI, which EKS kubeconfigs run by default), cold, and kubecred warm (its disk
#     cache; `aws eks get-token` has none);
#   - cold start of `kubecred kubelet-credential-provider`, warm `kubecred cluster credentials`;
#   - Azure, with the workload identity of a pod (the sandbox's Entra ID stand-in trusts team-a/app
#     as an app): kubecred's docker helper for an ACR registry vs `az acr login --expose-token`,
#     and the AKS exec plugin `kubecred cluster credentials --provider azure` vs `az account
#     get-access-token --resource <AKS server app>` (what kubelogin's azurecli mode runs), each
#     cold (Entra token, plus the ACR exchange) and warm (kubecred's disk cache; az's MSAL cache).
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
#   - The Azure CLI is pointed at the sandbox's Entra ID stand-in as a registered cloud. What it
#     asks beyond Entra ID (Resource Manager reads, the registry's /v2/ challenge), which kubecred
#     does not ask, is answered by bench/azure-front.py, part of az's time.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-40}"
HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com

need() { command -v "$1" >/dev/null 2>&1; }
need docker-credential-ecr-login && need hyperfine || { apt-get update -qq && apt-get install -y -qq amazon-ecr-credential-helper hyperfine >/dev/null; }
python3 -c 'import moto.server, multipart' 2>/dev/null || python3 -m pip install --quiet 'moto[server,proxy]'
# The Azure CLI, in a virtualenv outside the repository (AZURE_CLI_VENV to reuse one).
azvenv="${AZURE_CLI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/kubecred-bench/azure-cli}"
[ -x "$azvenv/bin/az" ] || { python3 -m venv "$azvenv" && "$azvenv/bin/pip" install --quiet azure-cli; }
azbin="$azvenv/bin/az"
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
for _ in $(seq 600); do grep -q 'Press Ctrl-C' "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
grep -q 'Press Ctrl-C' "$work/sandbox.out" || { cat "$work/sandbox.out" >&2; echo "the sandbox did not start" >&2; exit 1; }
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

# Azure, with a pod's workload identity: the environment the workload identity webhook gives a
# pod whose ServiceAccount (team-a/app) is annotated with azure.workload.identity/client-id, its
# projected token (audience api://AzureADTokenExchange) in a file. Both kubecred and az present
# that token to the Entra ID stand-in as the app's client assertion.
azure_tenant=$(exported AZURE_TENANT_ID); azure_authority=$(exported AZURE_AUTHORITY_HOST)
azure_acr=$(exported KUBECRED_AZURE_ACR_URL); azure_ca=$(exported SSL_CERT_FILE)
azure_app=00000000-0000-0000-0000-00000000000a
acr_host=kubecredsandbox.azurecr.io
aks_id=/subscriptions/00000000-0000-0000-0000-0000000000c1/resourceGroups/kubecred-sandbox/providers/Microsoft.ContainerService/managedClusters/kubecred-sandbox
aks_server_app=6dae42f8-4368-4678-94ff-3960e28e3630
kubectl --kubeconfig "$work/kubeconfig" create token app -n team-a --audience api://AzureADTokenExchange --duration 3h >"$work/azure-token"
wi="AZURE_AUTHORITY_HOST=$azure_authority AZURE_TENANT_ID=$azure_tenant AZURE_CLIENT_ID=$azure_app AZURE_FEDERATED_TOKEN_FILE=$work/azure-token"
echo "$acr_host" >"$work/acr.txt"
# kubecred's docker helper: the stand-in's CA (SSL_CERT_FILE) and ACR address (the registry's
# name does not resolve here).
acr_kc_env="PATH=$work/helpers:$PATH HOME=$work/home XDG_CACHE_HOME=$work/acr-cache $wi SSL_CERT_FILE=$azure_ca KUBECRED_AZURE_ACR_URL=$azure_acr"
acr_kc_cold_prepare="sh -c 'rm -f $work/acr-cache/kubecred/*.json'"
in_env "$acr_kc_env" sh -c "$kubecred <$work/acr.txt" >"$work/acr-kubecred.json"
grep -q '"Username":"00000000-0000-0000-0000-000000000000"' "$work/acr-kubecred.json"
# The AKS exec plugin exactly as `kubecred cluster kubeconfig --provider azure` writes it.
aks_kc_env="PATH=$PATH HOME=$work/home XDG_CACHE_HOME=$work/aks-cache $wi SSL_CERT_FILE=$azure_ca"
in_env "$aks_kc_env KUBECRED_AZURE_ARM_URL=$(exported KUBECRED_AZURE_ARM_URL)" \
  "$BIN" cluster kubeconfig --provider azure --cluster "$aks_id" -o "$work/aks.kubeconfig"
aks_kubecred="$BIN $(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["users"][0]["user"]["exec"]; print(" ".join(e["args"]))' "$work/aks.kubeconfig")"
aks_kc_cold_prepare="sh -c 'rm -f $work/aks-cache/kubecred/*.json'"
in_env "$aks_kc_env $exec_info" sh -c "$aks_kubecred" >"$work/aks-kubecred.json"
grep -q '"token"' "$work/aks-kubecred.json"

# The Azure CLI: a cloud whose Entra ID is the stand-in and whose Resource Manager (and the
# registry's login server) is bench/azure-front.py, over HTTPS with its own certificate; its own
# config directory; logged in as the app with the pod's token (`az login --service-principal
# --federated-token`, as in a workload-identity pod).
front_port=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/front.key" -out "$work/front.crt" 2>/dev/null
cat "$azure_ca" "$work/front.crt" >"$work/az-ca.pem"
python3 bench/azure-front.py "$front_port" "$work/front.crt" "$work/front.key" "$azure_acr" "$azure_ca" \
  00000000-0000-0000-0000-0000000000c1 "$azure_tenant" kubecred-sandbox "$acr_host" >"$work/front.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q ready "$work/front.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/front.log" || { cat "$work/front.log" >&2; exit 1; }
mkdir -p "$work/az-home"
az_env="PATH=$PATH HOME=$work/az-home AZURE_CONFIG_DIR=$work/azure-config REQUESTS_CA_BUNDLE=$work/az-ca.pem"
in_env "$az_env" "$azbin" cloud register -n KubecredSandbox --skip-endpoint-discovery \
  --endpoint-active-directory "${azure_authority%/}" --endpoint-resource-manager "https://127.0.0.1:$front_port/" \
  --endpoint-active-directory-resource-id https://management.core.windows.net/ --suffix-acr-login-server-endpoint .azurecr.io >/dev/null
in_env "$az_env" "$azbin" cloud set -n KubecredSandbox 2>/dev/null
in_env "$az_env" "$azbin" config set core.instance_discovery=false core.collect_telemetry=false core.survey_message=false 2>/dev/null
in_env "$az_env" "$azbin" login --service-principal -u "$azure_app" --tenant "$azure_tenant" \
  --federated-token "$(cat "$work/azure-token")" --allow-no-subscriptions >/dev/null
az_version=$(in_env "$az_env" "$azbin" version --query '"azure-cli"' -o tsv)
az_acr="$azbin acr login -n ${acr_host%%.*} --expose-token"
az_aks="$azbin account get-access-token --resource $aks_server_app"
az_cold_prepare="rm -f $work/azure-config/msal_token_cache.json"
in_env "$az_env" $az_acr 2>/dev/null >"$work/az-acr.json"; grep -q '"refreshToken"' "$work/az-acr.json"
in_env "$az_env" $az_aks >"$work/az-aks.json"; grep -q '"accessToken"' "$work/az-aks.json"

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
# Azure: ACR docker helper and AKS exec plugin, cold then warm, kubecred and az.
bench kubecred-acr-cold "$acr_kc_env" "$(fed "$kubecred" "$work/acr.txt")" "$acr_kc_cold_prepare"
mem_acr_kc_cold=$(peak "$acr_kc_env" "$acr_kc_cold_prepare; $kubecred <$work/acr.txt")
in_env "$acr_kc_env" sh -c "$kubecred <$work/acr.txt" >/dev/null   # warm its cache
bench kubecred-acr-warm "$acr_kc_env" "$(fed "$kubecred" "$work/acr.txt")"; mem_acr_kc_warm=$(peak "$acr_kc_env" "$kubecred <$work/acr.txt")
bench az-acr-login-cold "$az_env" "$az_acr" "$az_cold_prepare"
mem_az_acr_cold=$(peak "$az_env" "$az_cold_prepare; $az_acr")
in_env "$az_env" $az_acr >/dev/null 2>&1   # its MSAL cache
bench az-acr-login-warm "$az_env" "$az_acr"; mem_az_acr_warm=$(peak "$az_env" "$az_acr")
bench kubecred-aks-cold "$aks_kc_env $exec_info" "$aks_kubecred" "$aks_kc_cold_prepare"
mem_aks_kc_cold=$(peak "$aks_kc_env $exec_info" "$aks_kc_cold_prepare; $aks_kubecred")
in_env "$aks_kc_env $exec_info" sh -c "$aks_kubecred" >/dev/null   # warm its cache
bench kubecred-aks-warm "$aks_kc_env $exec_info" "$aks_kubecred"; mem_aks_kc_warm=$(peak "$aks_kc_env $exec_info" "$aks_kubecred")
bench az-get-token-aks-cold "$az_env" "$az_aks" "$az_cold_prepare"
mem_az_aks_cold=$(peak "$az_env" "$az_cold_prepare; $az_aks")
in_env "$az_env" $az_aks >/dev/null   # its MSAL cache
bench az-get-token-aks-warm "$az_env" "$az_aks"; mem_az_aks_warm=$(peak "$az_env" "$az_aks")
bench sh-exec-baseline "$common" "$(fed true "$work/private.txt")"; mem_baseline=$(peak "$common" "exec true <$work/private.txt")
rows=(ecr-login-warm kubecred-warm ecr-login-cold kubecred-cold kubelet-provider-node cluster-credentials-warm aws-eks-get-token kubecred-eks-cold kubecred-eks-warm gke-plugin-cold gke-plugin-warm kubecred-gke-cold kubecred-gke-warm kubecred-acr-cold kubecred-acr-warm az-acr-login-cold az-acr-login-warm kubecred-aks-cold kubecred-aks-warm az-get-token-aks-cold az-get-token-aks-warm sh-exec-baseline)
python3 -c 'import json,sys; print(json.dumps({"results": [json.load(open(f"{sys.argv[1]}/{n}.json"))["results"][0] for n in sys.argv[2:]]}))' \
  "$work" "${rows[@]}" >"$work/times.json"

AZ_VERSION="$az_version" python3 - "$work/times.json" "$RUNS" "${rows[*]}" "$mem_ecr_warm" "$mem_kc_warm" "$mem_ecr_cold" "$mem_kc_cold" "$mem_kubelet" "$mem_cluster" "$mem_eks_aws" "$mem_eks_cold" "$mem_eks_warm" "$mem_gke_plugin_cold" "$mem_gke_plugin_warm" "$mem_gke_cold" "$mem_gke_warm" "$mem_acr_kc_cold" "$mem_acr_kc_warm" "$mem_az_acr_cold" "$mem_az_acr_warm" "$mem_aks_kc_cold" "$mem_aks_kc_warm" "$mem_az_aks_cold" "$mem_az_aks_warm" "$mem_baseline" <<'PY' | tee bench/RESULTS.md
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
print(f"- docker helper (ACR, workload identity): az acr login --expose-token / kubecred cold = **{ratio('az-acr-login-cold', 'kubecred-acr-cold'):.1f}x**; warm / warm = **{ratio('az-acr-login-warm', 'kubecred-acr-warm'):.1f}x** (az's warm run still looks the registry up and exchanges at ACR: its MSAL cache holds the Entra token only)")
print(f"- kubectl exec plugin (AKS, workload identity): az account get-access-token / kubecred cold = **{ratio('az-get-token-aks-cold', 'kubecred-aks-cold'):.1f}x**; warm / warm = **{ratio('az-get-token-aks-warm', 'kubecred-aks-warm'):.1f}x**")
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
- Azure, both sides with a pod's workload identity as the workload identity webhook gives it
  (`AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`: the
  ServiceAccount team-a/app's token, audience `api://AzureADTokenExchange`), presented as the
  app's client assertion to the sandbox's Entra ID stand-in (HTTPS, its CA given to each tool:
  `SSL_CERT_FILE` for kubecred, `REQUESTS_CA_BUNDLE` for az). The baseline is the Azure CLI
  (azure-cli """ + os.environ["AZ_VERSION"] + """, in its own config directory, logged in once, untimed, with `az login
  --service-principal --federated-token` to a cloud registered with the stand-in as its Entra ID;
  instance discovery and telemetry off).
  - ACR docker helper: `docker-credential-kubecred get` for `kubecredsandbox.azurecr.io` (cold:
    Entra token and `/oauth2/exchange` at the ACR stand-in, whose address it gets through
    `KUBECRED_AZURE_ACR_URL` since the name does not resolve here; warm: its disk cache) vs `az
    acr login -n kubecredsandbox --expose-token`, what users run for an ACR token (no docker
    credential helper of Microsoft's exists). az also looks the registry up in Resource Manager
    (resources of its type, then the registry) and sends `GET /v2/` twice to the login server
    before the exchange; the stand-ins do not serve these, so `bench/azure-front.py` (Python,
    loopback HTTPS) answers them as the cloud's Resource Manager and the registry's login server
    and passes the exchange on to the ACR stand-in: those round trips are in az's time, as
    Azure's are in real use (it sets `TCP_NODELAY`: without it, Nagle's algorithm held its
    answers back ~40 ms each and az's ACR rows measured ~700 ms instead of ~480). Cold: az's MSAL token cache (`msal_token_cache.json`) removed before
    each run (the login stays); warm: the Entra token from that cache (the lookups and the
    exchange happen every run).
  - AKS exec plugin, with `KUBERNETES_EXEC_INFO` as kubectl sets it: `kubecred cluster
    credentials --provider azure --cluster ID --address URL`, the exec entry `kubecred cluster
    kubeconfig --provider azure` writes (the CA is in the kubeconfig's cluster entry; no Resource
    Manager call) vs `az account get-access-token --resource 6dae42f8-4368-4678-94ff-3960e28e3630`,
    what kubelogin runs in its `azurecli` mode (kubelogin itself is not installed here; its own
    time would come on top). Cold: each tool's token cache removed; warm: served from it.
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
not reduce the page faults and measured no faster.

## Where kubecred's cold Azure time goes (measured by hand, 2026-12-03)

The Azure rows are the only cold rows over HTTPS (ECR, EKS and GKE talk plain HTTP to their
stand-ins). Two things make up most of a cold Azure run, neither of them the token requests
themselves (curl gets the same Entra token, or the same ACR exchange, in ~3 ms, handshake
included):
- ~25 ms of CPU before the first ClientHello is sent (`KUBECRED_LOG=trace`: between rustls'
  "Not resuming any session" and "Sending ClientHello"; hyperfine counts ~27-30 ms of user time
  per cold run): the crypto provider's first use (randomness, key shares). The second handshake
  (ACR, in the docker helper) takes under 1 ms.
- Intermittent ~40 ms waits for a stand-in's answer (`strace`: kubecred writes the whole
  request in one `writev` on a `TCP_NODELAY` socket, then the response arrives ~41 ms later);
  curl never waits so. The stand-ins' listeners did not set `TCP_NODELAY` on accepted
  connections, so this was most likely Nagle holding the answer behind an un-acknowledged TLS
  session ticket until the client's delayed ACK: a sandbox artefact that inflated the cold rows
  (and the ACR row, with two requests, more often), which az's requests to the same stand-ins
  may meet too. The sandbox sets `TCP_NODELAY` since: in the run made right after that change
  the ACR cold row fell from 85.6 ms to ~27 ms and the AKS cold row from 30.2 ms to ~25 ms,
  so what remains of a cold run is mostly the first handshake's CPU. (Later runs also include
  the stand-ins fetching the issuer's discovery document and JWKS before each verification, as
  the clouds do on a cache miss; they add to the cold rows of kubecred and of the tools it is
  compared with alike.)""")
PY
