//! Command-line arguments (clap). Parsing only; `token.rs` and `sandbox.rs` turn them into
//! library calls.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

/// Short-lived cloud credentials for Kubernetes workloads, without long-lived secrets.
#[derive(Debug, Parser)]
#[command(name = "kubecred", version, about, max_term_width = 100)]
pub struct Cli {
    /// Log more (-v info, -vv debug, -vvv trace); KUBECRED_LOG takes a tracing filter instead.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Overall deadline of the command's network calls, retries included (e.g. 30s, 2m, 1m30s;
    /// a bare number is seconds); connect and read timeouts are capped at it. Default 60s
    /// (connect 10s, read 30s). Also for the docker, git and kubelet helpers.
    #[arg(
        long,
        global = true,
        env = "KUBECRED_REQUEST_TIMEOUT",
        value_name = "DURATION",
        value_parser = parse_timeout
    )]
    pub request_timeout: Option<Duration>,
    #[command(subcommand)]
    pub command: Command,
}

/// A `--request-timeout`: a duration with units (jiff's friendly format, e.g. `2s`, `1m30s`,
/// `500ms`) or, as kubectl takes it, a bare number of seconds. Zero is refused: there is no
/// "wait for ever".
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let parsed = match value.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => value
            .parse::<jiff::SignedDuration>()
            .map_err(|e| e.to_string())
            .and_then(|d| Duration::try_from(d).map_err(|_| "it is negative".to_owned())),
    };
    match parsed {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("it must be more than zero (kubecred always bounds its calls)".into()),
        Err(e) => Err(format!("expected a duration such as 30s or 2m: {e}")),
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a credential for a provider and identity.
    Token(Box<TokenArgs>),
    #[command(subcommand, about = crate::help::registry())]
    Registry(RegistryCommand),
    #[command(subcommand, about = crate::help::cluster())]
    Cluster(ClusterCommand),
    #[command(about = crate::help::check())]
    Check(Box<CheckArgs>),
    /// Kubelet image credential provider: a CredentialProviderRequest on stdin, the
    /// CredentialProviderResponse on stdout (credentialprovider.kubelet.k8s.io/v1).
    KubeletCredentialProvider(KubeletArgs),
    #[command(about = crate::help::git())]
    GitCredential(Box<GitCredentialArgs>),
    #[command(about = crate::help::docker())]
    DockerCredential(DockerCredentialArgs),
    /// A cluster's ServiceAccount issuer for the clouds: show it, generate its documents for a
    /// self-managed cluster, verify them as a cloud fetches them.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Why an identity works or fails: the identity level and why, the ServiceAccount and its
    /// annotations, the audiences and cloud identity, the cache key, then the exchange (unless
    /// --dry-run), each step with a verdict and a failed one with its likely cause.
    Explain(Box<ExplainArgs>),
    /// The least-privilege cloud configuration an integration needs: the identity, its trust of
    /// the ServiceAccount, the permissions on exactly one resource (JSON, the cloud CLI's
    /// commands, or Terraform). Nothing is created.
    Policy(Box<PolicyArgs>),
    /// Run the local sandbox: a Kubernetes API subset with an OIDC issuer, on loopback.
    Sandbox(SandboxArgs),
    /// Start an embedded sandbox, fetch tokens through it and verify them (no cloud needed).
    Demo,
}

/// `kubecred token`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 success, 1 credential or configuration error, 2 usage error."
)]
pub struct TokenArgs {
    #[arg(long, help = crate::help::token_provider())]
    pub provider: String,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Whose identity is used and how: shared by every command that fetches credentials, and
/// turned into a library request in one place (`request::prepare`).
#[derive(Clone, Debug, Default, Args)]
pub struct IdentityArgs {
    /// Impersonate this ServiceAccount (NAME, or NS/NAME with NS equal to --namespace).
    #[arg(long, value_name = "[NS/]NAME", conflicts_with_all = ["secret", "node"])]
    pub service_account: Option<String>,
    /// Use keys from this Secret (NAME, or NS/NAME with NS equal to --namespace).
    #[arg(long, value_name = "[NS/]NAME", conflicts_with = "node")]
    pub secret: Option<String>,
    /// Use the node's identity (instance metadata service).
    #[arg(long)]
    pub node: bool,
    /// The namespace of the object asking (default: the kubeconfig context's namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Audience of the Kubernetes token (repeatable; default: the provider's).
    #[arg(long = "audience", value_name = "AUDIENCE")]
    pub audiences: Vec<String>,
    /// OAuth scope of the cloud token (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Cloud region (AWS STS; default AWS_REGION for the controller level).
    #[arg(long)]
    pub region: Option<String>,
    /// STS endpoint override (AWS: regional, FIPS or VPC endpoints of amazonaws.com).
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// Proxy (http:// or https://, user:password@ allowed) for every cloud call of this request;
    /// without it HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<Url>,
    /// Controller level may run the cloud's CLI as a last resort (Azure: `az account
    /// get-access-token` when no managed identity answers), as Flux's --allow-shell-out does.
    #[arg(long)]
    pub allow_shell_out: bool,
    /// Assume this role after the base identity (AWS role chaining; repeatable, in order).
    #[arg(long = "assume-role", value_name = "ARN")]
    pub assume_roles: Vec<String>,
    /// External ID for the last --assume-role.
    #[arg(long, value_name = "ID", requires = "assume_roles")]
    pub external_id: Option<String>,
    /// Feature gates, as controllers take them (e.g. ObjectLevelWorkloadIdentity=false).
    /// The CLI runs as you, so ObjectLevelWorkloadIdentity defaults to true here.
    #[arg(long, value_name = "GATE=BOOL,...")]
    pub feature_gates: Option<String>,
    /// ServiceAccount forced on objects that name none (controller lockdown policy).
    #[arg(long, value_name = "NAME")]
    pub default_service_account: Option<String>,
    /// Default ServiceAccount for remote-cluster kubeconfigs.
    #[arg(long, value_name = "NAME")]
    pub default_kubeconfig_service_account: Option<String>,
    /// Default ServiceAccount for decryption.
    #[arg(long, value_name = "NAME")]
    pub default_decryption_service_account: Option<String>,
    /// Which default ServiceAccount applies.
    #[arg(long, value_enum, default_value_t = PurposeArg::General)]
    pub purpose: PurposeArg,
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
}

/// `kubecred registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Print {"username","password","expiresAt"} for a registry host.
    Login(Box<RegistryLoginArgs>),
}

/// `kubecred registry login`.
#[derive(Debug, Args)]
pub struct RegistryLoginArgs {
    /// The registry host (or an image reference).
    pub host: String,
    #[arg(long, help = crate::help::registry_provider())]
    pub provider: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `kubecred cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Print a client.authentication.k8s.io ExecCredential (for kubectl's exec plugin).
    Credentials(Box<ClusterCredentialsArgs>),
    /// Write a kubeconfig for a remote cluster whose user runs `kubecred cluster credentials`.
    Kubeconfig(Box<ClusterKubeconfigArgs>),
}

/// `kubecred cluster kubeconfig`.
#[derive(Debug, Args)]
pub struct ClusterKubeconfigArgs {
    /// The provider (default: the ConfigMap's, with --from-configmap).
    #[arg(long, long_help = crate::help::cluster_provider())]
    pub provider: Option<String>,
    /// The cloud's cluster resource (EKS: the cluster ARN; GKE:
    /// projects/P/locations/L/clusters/C).
    #[arg(long)]
    pub cluster: Option<String>,
    /// The API server address (EKS, GKE: asked from the cloud when missing).
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// The API server's CA bundle (PEM file).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Read provider, cluster, address, ca.crt, audiences and serviceAccountName from this
    /// remote-cluster ConfigMap (NAME or NS/NAME with NS equal to --namespace).
    #[arg(long, value_name = "[NS/]NAME")]
    pub from_configmap: Option<String>,
    /// Send a token of your own identity (no serviceAccountName in the ConfigMap) to the
    /// ConfigMap's address even when the cloud does not report it for the cluster. The ConfigMap
    /// is the tenant's: without this, its address must be the cloud's (EKS: DescribeCluster; GKE:
    /// clusters.get).
    #[arg(long, requires = "from_configmap")]
    pub trust_configmap_address: bool,
    /// Where to write the kubeconfig (default: standard output).
    #[arg(long = "kubeconfig-out", short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Name of the cluster, user and context in the kubeconfig (default: from the cluster).
    #[arg(long)]
    pub name: Option<String>,
    /// The command the exec entry runs (default: this kubecred binary's path).
    #[arg(long, value_name = "PATH")]
    pub exec_command: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `kubecred cluster credentials`.
#[derive(Debug, Args)]
pub struct ClusterCredentialsArgs {
    #[arg(long, help = crate::help::cluster_provider())]
    pub provider: String,
    /// The cloud's cluster resource (EKS: the cluster ARN; GKE:
    /// projects/P/locations/L/clusters/C).
    #[arg(long)]
    pub cluster: Option<String>,
    /// The API server address (the cloud is not asked when --ca-file is also given).
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,
    /// The API server's CA bundle (PEM file).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// ExecCredential API version.
    #[arg(long, value_enum, default_value_t = ExecApiVersion::V1)]
    pub api_version: ExecApiVersion,
    /// Do not use the on-disk cache (kubectl runs this for every connection).
    #[arg(long, env = "KUBECRED_NO_CACHE", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub no_cache: bool,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `client.authentication.k8s.io` versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExecApiVersion {
    /// client.authentication.k8s.io/v1
    V1,
    /// client.authentication.k8s.io/v1beta1
    V1beta1,
}

/// `kubecred check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// What to reach: the targets of this build's clouds (kubecred check --help lists them).
    pub target: String,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `kubecred kubelet-credential-provider`.
#[derive(Debug, Args)]
#[command(
    after_help = "A request with a serviceAccountToken is served with that pod's ServiceAccount \
                  (its annotations, e.g. eks.amazonaws.com/role-arn); others with --identity."
)]
pub struct KubeletArgs {
    /// The provider (default: the one the image's registry belongs to).
    #[arg(long)]
    pub provider: Option<String>,
    /// The identity for requests without a pod ServiceAccount token.
    #[arg(long, value_enum, default_value_t = KubeletIdentity::Node)]
    pub identity: KubeletIdentity,
}

/// The identity the kubelet provider falls back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KubeletIdentity {
    /// The node's instance metadata service (AWS: IMDSv2).
    Node,
    /// The plugin's environment (the CredentialProviderConfig's env; AWS: the default chain).
    Controller,
}

/// `kubecred git-credential` (git runs `git credential-kubecred [FLAGS] <operation>`).
#[derive(Debug, Args)]
#[command(
    after_help = "Needs `git config --global credential.useHttpPath true`: CodeCommit \
                  credentials are signed over the repository path. Hosts kubecred does not \
                  serve get an empty answer, so git asks its next helper."
)]
pub struct GitCredentialArgs {
    /// get, store or erase (store and erase do nothing; other operations are ignored).
    pub operation: String,
    /// Neither read nor write the on-disk cache (also KUBECRED_NO_CACHE=1).
    #[arg(long, env = "KUBECRED_NO_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_cache: bool,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `kubecred docker-credential` (docker runs `docker-credential-kubecred <verb>`).
#[derive(Debug, Args)]
#[command(
    after_help = "Identity: this environment's, or per registry host from \
                  $XDG_CONFIG_HOME/kubecred/config.yaml. Credentials are cached in \
                  $XDG_CACHE_HOME/kubecred/ until 80% of their lifetime."
)]
pub struct DockerCredentialArgs {
    /// get, store, erase, list or version (store and erase are refused: nothing is stored).
    pub verb: String,
    /// Neither read nor write the on-disk cache (also KUBECRED_NO_CACHE=1).
    #[arg(long, env = "KUBECRED_NO_CACHE", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_cache: bool,
}

/// `kubecred issuer ...`.
#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// The cluster's discovery document and JWKS (through the kubeconfig), and whether a cloud
    /// can reach its issuer as configured.
    Show(IssuerShowArgs),
    /// The discovery document and JWKS of a self-managed cluster, from its public keys (what its
    /// API server would serve with --service-account-issuer set).
    Generate(IssuerGenerateArgs),
    /// Fetch an issuer's discovery document and JWKS as a cloud does and check them (exit 1 when
    /// a check fails).
    Verify(IssuerVerifyArgs),
    /// Upload the discovery document and JWKS to a bucket (s3://, gs://, azblob://ACCOUNT/$web)
    /// as application/json, with kubecred's own credentials for that cloud.
    Publish(Box<IssuerPublishArgs>),
    /// The ordered, safe steps and kube-apiserver flags of a signing-key or issuer rotation, from
    /// the cluster's current state.
    RotatePlan(IssuerRotatePlanArgs),
    /// What a target cloud needs to trust the issuer for one ServiceAccount, as JSON and as the
    /// cloud CLI's commands (nothing is created).
    Setup(Box<IssuerSetupArgs>),
}

/// `kubecred explain`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 the identity works (or --dry-run found no problem), 1 a \
                        step failed, 2 usage error. JSON schema (--output json): {\"provider\", \
                        \"identity\", \"verdict\": ok|failed|dry-run, \"steps\": [{\"step\": \
                        identity-level|service-account|annotations|cloud-identity|cache-key|\
                        exchange|access, \"status\": ok|failed|skipped, \"detail\", \"cause\"?}]}"
)]
pub struct ExplainArgs {
    #[arg(long, help = crate::help::token_provider(), required_unless_present = "filename")]
    pub provider: Option<String>,
    /// Explain each Flux object of this manifest (OCIRepository, HelmRepository, Bucket,
    /// ImageRepository, GitRepository, Kustomization, notification Provider) as its controller
    /// would ask; --provider then names the cloud of a Kustomization's SOPS keys.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub filename: Option<std::path::PathBuf>,
    /// Then check that the credential reaches this resource (kubecred check's targets:
    /// s3://, kms://, sqs://, gs://, gcpkms://, pubsub://, gar://, azblob://, azkv://, eventhub://).
    #[arg(long, value_name = "TARGET", conflicts_with = "filename")]
    pub check: Option<String>,
    /// Then log in to this registry with the credential (what docker and the kubelet do).
    #[arg(long, value_name = "HOST", conflicts_with_all = ["filename", "check"])]
    pub registry: Option<String>,
    /// Then get credentials for this remote cluster (EKS cluster ARN, GKE
    /// projects/P/locations/L/clusters/C, AKS resource id), as kubectl's exec plugin would.
    #[arg(long, value_name = "CLUSTER", conflicts_with_all = ["filename", "check", "registry", "git"])]
    pub cluster: Option<String>,
    /// Then read this git repository's refs with the credential (what git fetch does first;
    /// an HTTPS URL, e.g. https://dev.azure.com/ORG/PROJECT/_git/REPO).
    #[arg(long, value_name = "URL", conflicts_with_all = ["filename", "check", "registry"])]
    pub git: Option<String>,
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Walk the steps without exchanging anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
}

/// An Entra identity, for `issuer setup` and `policy`: a managed identity or an app registration.
#[derive(Debug, Default, Args)]
pub struct AzureIdentityArgs {
    /// azure: the managed identity's name.
    #[arg(long, requires = "resource_group", conflicts_with = "app_id")]
    pub identity_name: Option<String>,
    /// azure: the managed identity's resource group.
    #[arg(long, requires = "identity_name")]
    pub resource_group: Option<String>,
    /// azure: the app registration's application (client) ID.
    #[arg(long)]
    pub app_id: Option<String>,
}

/// `kubecred policy`.
#[derive(Debug, Args)]
#[command(after_help = "Resources (--resource):
  aws:   registry ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO | public.ecr.aws; bucket s3://B[/PREFIX];
         kms a key ARN; cluster an EKS cluster ARN; git a CodeCommit repository URL or ARN;
         sqs a queue ARN or URL
  gcp:   registry LOCATION-docker.pkg.dev/PROJECT/REPO; bucket gs://B; kms gcpkms://projects/P/
         locations/L/keyRings/R/cryptoKeys/K; cluster projects/P/locations/L/clusters/C;
         pubsub pubsub://projects/P/topics/T
  azure: the ARM resource id of the registry, storage container, Key Vault key, AKS cluster or
         event hub; git https://dev.azure.com/ORG/PROJECT/_git/REPO
Identity options: aws --account-id --role-name [--trust oidc|pod-identity]; gcp --project-number
and --gke-project PROJECT_ID (GKE's identity namespace) or --pool and --pool-provider, optional
--gcp-service-account EMAIL to impersonate; azure --identity-name and --resource-group (a managed
identity) or --app-id, and --principal-id, --client-id, --tenant-id.
Exit status: 0 success, 2 usage error (an invalid value is named).")]
pub struct PolicyArgs {
    /// The target cloud.
    #[arg(long, value_enum)]
    pub provider: SetupCloud,
    /// What the identity is for: registry, bucket, kms, cluster, pubsub (gcp), eventhub
    /// (azure), git, sqs (aws).
    #[arg(long = "for", value_name = "PURPOSE", value_parser = parse_purpose)]
    pub purpose: kubecred::policy::Purpose,
    /// The one resource to grant access to (see below).
    #[arg(long)]
    pub resource: String,
    /// The ServiceAccount, NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    pub service_account: String,
    /// The cluster's issuer, exactly as its tokens carry it (OIDC trust, pool providers, Entra).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// aws: the 12-digit account ID.
    #[arg(long, required_if_eq("provider", "aws"))]
    pub account_id: Option<String>,
    /// aws: the IAM role's name.
    #[arg(long, required_if_eq("provider", "aws"))]
    pub role_name: Option<String>,
    /// aws: how the role trusts the ServiceAccount.
    #[arg(long, value_enum, default_value_t = PolicyAwsTrust::Oidc)]
    pub trust: PolicyAwsTrust,
    /// gcp: the project number.
    #[arg(long, required_if_eq("provider", "gcp"))]
    pub project_number: Option<String>,
    /// gcp: the GKE cluster's project ID (its identity namespace PROJECT.svc.id.goog).
    #[arg(long, conflicts_with_all = ["pool", "pool_provider"])]
    pub gke_project: Option<String>,
    /// gcp: the workload identity pool ID.
    #[arg(long, requires = "pool_provider")]
    pub pool: Option<String>,
    /// gcp: the pool's OIDC provider ID.
    #[arg(long, requires = "pool")]
    pub pool_provider: Option<String>,
    /// gcp: the Google service account to impersonate.
    #[arg(long, value_name = "EMAIL")]
    pub gcp_service_account: Option<String>,
    #[command(flatten)]
    pub azure: AzureIdentityArgs,
    /// azure: the identity's principal (object) ID, assignee of the role assignments.
    #[arg(long, required_if_eq("provider", "azure"))]
    pub principal_id: Option<String>,
    /// azure: the identity's client ID.
    #[arg(long, required_if_eq("provider", "azure"))]
    pub client_id: Option<String>,
    /// azure: the tenant ID.
    #[arg(long, required_if_eq("provider", "azure"))]
    pub tenant_id: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PolicyOutput::Json)]
    pub output: PolicyOutput,
}

/// `kubecred policy --trust` (aws).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyAwsTrust {
    /// The cluster's issuer as an IAM OIDC provider (IRSA and any cluster).
    Oidc,
    /// EKS Pod Identity.
    PodIdentity,
}

/// `kubecred policy --output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyOutput {
    /// One JSON object: identity, trust, permissions (the shape the sandbox loads).
    Json,
    /// The cloud CLI's commands, shell-quoted, with the notes as comments.
    Commands,
    /// Terraform in its JSON syntax (save as a `.tf.json` file).
    Terraform,
}

/// The cloud `issuer setup` prints for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SetupCloud {
    /// An IAM OIDC provider and a role trust policy.
    Aws,
    /// A federated identity credential on a managed identity or app.
    Azure,
    /// A workload identity pool provider.
    Gcp,
}

/// `kubecred issuer setup`.
#[derive(Debug, Args)]
#[command(
    after_help = "aws: --account-id --role-name. azure: --identity-name --resource-group (a \
                  managed identity) or --app-id (an app), optional --credential-name, \
                  --client-id, --tenant-id. gcp: --project-number --pool --provider. Nothing is \
                  created: paste the commands (each argument is shell-quoted)."
)]
pub struct IssuerSetupArgs {
    /// The issuer, exactly as the cluster's tokens carry it.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The target cloud.
    #[arg(long, value_enum)]
    pub target: SetupCloud,
    /// The ServiceAccount to trust, NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    pub service_account: String,
    /// aws: the 12-digit account ID.
    #[arg(long, required_if_eq("target", "aws"))]
    pub account_id: Option<String>,
    /// aws: the IAM role to create.
    #[arg(long, required_if_eq("target", "aws"))]
    pub role_name: Option<String>,
    #[command(flatten)]
    pub azure: AzureIdentityArgs,
    /// azure: the federated credential's name (default kubecred-NAMESPACE-NAME).
    #[arg(long)]
    pub credential_name: Option<String>,
    /// azure: the identity's client ID, for the ServiceAccount annotation.
    #[arg(long)]
    pub client_id: Option<String>,
    /// azure: the tenant ID, for the ServiceAccount annotation.
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// gcp: the project number (not its ID).
    #[arg(long, required_if_eq("target", "gcp"))]
    pub project_number: Option<String>,
    /// gcp: the workload identity pool ID.
    #[arg(long, required_if_eq("target", "gcp"))]
    pub pool: Option<String>,
    /// gcp: the pool provider ID.
    #[arg(long, required_if_eq("target", "gcp"))]
    pub provider: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
}

/// `kubecred issuer publish`.
#[derive(Debug, Args)]
#[command(
    after_help = "Keys written: [PREFIX/].well-known/openid-configuration and \
                  [PREFIX/]openid/v1/jwks. The bucket must be publicly readable (Azure: the \
                  static website's $web container); check with `kubecred issuer verify ISSUER`. \
                  Identity flags as for `kubecred token` (the target names the cloud)."
)]
pub struct IssuerPublishArgs {
    /// s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX] or azblob://ACCOUNT/$web[/PREFIX].
    pub target: String,
    /// The issuer (--service-account-issuer), to generate the documents.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    pub issuer: Option<String>,
    /// A public key file the API server verifies tokens with (repeatable).
    #[arg(long = "signing-key", value_name = "FILE", conflicts_with = "from")]
    pub signing_keys: Vec<PathBuf>,
    /// The jwks_uri (default ISSUER/openid/v1/jwks).
    #[arg(long, value_name = "URL", conflicts_with = "from")]
    pub jwks_uri: Option<String>,
    /// Publish the two files `kubecred issuer generate -o DIR` wrote.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `kubecred issuer rotate-plan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Nothing is changed: the plan is printed. Placeholders in <angle \
                  brackets> are files on the control plane."
)]
pub struct IssuerRotatePlanArgs {
    /// The issuer the clouds trust now.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// The issuer to move to.
    #[arg(long, value_name = "URL")]
    pub new_issuer: Option<String>,
    /// The public key of the new signing key (repeatable).
    #[arg(long = "new-signing-key", value_name = "FILE")]
    pub new_signing_keys: Vec<PathBuf>,
    /// Where the documents are published (s3://, gs://, azblob://), for the commands shown.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
}

/// `kubecred issuer show`.
#[derive(Debug, Args)]
pub struct IssuerShowArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
}

/// `kubecred issuer generate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Upload DIR's two files at the same keys under the issuer, as application/json \
                  (e.g. aws s3 cp --recursive DIR s3://BUCKET --content-type application/json), \
                  then check with `kubecred issuer verify ISSUER`."
)]
pub struct IssuerGenerateArgs {
    /// The issuer (--service-account-issuer): https, no query, fragment or user info.
    #[arg(long, value_name = "URL")]
    pub issuer: String,
    /// A public key file (PEM: PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE; several keys per file
    /// allowed) the API server verifies tokens with (repeatable: every key of a rotation).
    #[arg(long = "signing-key", value_name = "FILE", required = true)]
    pub signing_keys: Vec<PathBuf>,
    /// The jwks_uri (--service-account-jwks-uri; default ISSUER/openid/v1/jwks).
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// Write DIR/.well-known/openid-configuration and DIR/openid/v1/jwks (else print both as
    /// one JSON object).
    #[arg(long = "output-dir", short = 'o', value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// What to print: both documents, or (gcp-jwks) the JWKS file a GCP workload identity pool
    /// provider takes directly (gcloud ... providers create-oidc --jwk-json-path FILE).
    #[arg(long, value_enum, default_value_t = GenerateFormat::Documents, conflicts_with = "output_dir")]
    pub format: GenerateFormat,
}

/// What `issuer generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GenerateFormat {
    /// The discovery document and the JWKS.
    Documents,
    /// The JWKS file for a GCP workload identity pool provider (--jwk-json-path).
    GcpJwks,
}

/// `kubecred issuer verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every check passed, 1 a check failed or an error, 2 usage error."
)]
pub struct IssuerVerifyArgs {
    /// The issuer, exactly as registered with the cloud.
    pub issuer: String,
    /// A public key file the cluster signs with (repeatable): each must be published.
    #[arg(long = "signing-key", value_name = "FILE")]
    pub signing_keys: Vec<PathBuf>,
    /// Proxy (http:// or https://) for the fetches; without it HTTPS_PROXY and NO_PROXY apply.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<Url>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
}

/// How `issuer show` and `issuer verify` print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportOutput {
    /// Lines for a person.
    Text,
    /// One JSON object.
    Json,
}

/// How `token` prints the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The token alone.
    Text,
    /// kind, token or keys, and expiresAt (RFC 3339).
    Json,
    /// `export AWS_...=` lines for a shell (AWS keys only).
    Env,
    /// The JSON an AWS SDK's `credential_process` reads (AWS keys only).
    CredentialProcess,
    /// The answer of an executable-sourced subject token for Google's client libraries
    /// (`credential_source.executable` of an `external_account` file; generic provider).
    GoogleExecutable,
}

/// Which default ServiceAccount applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PurposeArg {
    /// --default-service-account.
    #[default]
    General,
    /// --default-kubeconfig-service-account.
    Kubeconfig,
    /// --default-decryption-service-account.
    Decryption,
}

/// `kubecred sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Kubernetes manifests to load (Namespace, ServiceAccount, Secret, ConfigMap).
    #[arg(long, value_name = "FILE")]
    pub manifests: Option<PathBuf>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the kubeconfig for clients (default: a file in the temporary directory).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kind of source cluster to present as, by its ServiceAccount issuer: kind (the API
    /// server's URL), eks, gke, aks (the managed services' issuer URLs, served by the sandbox),
    /// or other:<https URL> (a self-managed cluster's issuer, published there with `kubecred
    /// issuer publish`). The stand-ins of every cloud trust that issuer.
    #[arg(long, value_name = "TYPE", default_value = "kind", value_parser = parse_source)]
    pub source: kubecred_sandbox::SourceCluster,
    /// Set up controller level for this ServiceAccount: write the projected token files and the
    /// credential file each cloud's webhook (or its docs, off that cloud) gives a controller,
    /// next to the kubeconfig, and print the variables (IRSA, Azure workload identity, a GCP
    /// external account).
    #[arg(long, value_name = "NS/NAME")]
    pub controller: Option<String>,
}

fn parse_purpose(text: &str) -> Result<kubecred::policy::Purpose, String> {
    kubecred::policy::Purpose::parse(text).map_err(|e| e.to_string())
}

fn parse_source(text: &str) -> Result<kubecred_sandbox::SourceCluster, String> {
    kubecred_sandbox::SourceCluster::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeouts_take_units_or_seconds() {
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("45"), Ok(Duration::from_secs(45)));
        for bad in ["0", "0s", "-5s", "soon", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
