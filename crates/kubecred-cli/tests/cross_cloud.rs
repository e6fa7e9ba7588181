//! The cross-cloud matrix, cell by cell: {AKS, EKS, GKE, other} source clusters × {AWS, Azure,
//! GCP} targets × {object, controller} level, each a real exchange by a `kubecred` child at
//! the target's stand-in, which trusts the source cluster's issuer the way that cloud does (an
//! IAM OIDC provider, an Entra federated credential, a workload identity pool provider; for
//! GKE→GCP at object level, the cluster's identity namespace) and fetches its discovery
//! document and JWKS from where the issuer publishes them: the managed service's issuer URL
//! (served by the sandbox under that host) or, for a self-managed cluster, a site the
//! documents `kubecred issuer generate` wrote were published to.
//!
//! Each cell also shows the refusal when the issuer is not trusted: a second cluster of the same
//! type (another EKS id, GKE cluster, AKS id, self-managed issuer URL), whose tokens the same
//! stand-ins refuse with the cloud's own error.
//!
//! The rotation scenario runs once per target cloud, on a self-managed cluster whose documents
//! are published with `kubecred issuer generate` output: a new signing key is refused until the
//! JWKS is published again, then accepted, while a token of the old key stays accepted as long
//! as the old key is published.

mod support;

#[path = "../src/sandbox_aws.rs"]
#[allow(dead_code)]
mod sandbox_aws;
#[path = "../src/sandbox_gcp.rs"]
#[allow(dead_code)]
mod sandbox_gcp;

use std::process::Output;

use kubecred::issuer::{self, CONTENT_TYPE, Issuer, PublicKeyPem};
use kubecred_sandbox::aws::AwsStandIns;
use kubecred_sandbox::azure::AzureStandIns;
use kubecred_sandbox::controller::{ControllerEndpoints, TargetCloud};
use kubecred_sandbox::gcp::GcpStandIns;
use kubecred_sandbox::site::{Page, StaticSite};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig, SourceCluster};
use support::{BoxError, TestResult, isolated, sandbox_azure, stderr};

const APP_ROLE: &str = "arn:aws:iam::123456789012:role/team-a-app";
const APP_CLIENT: &str = "00000000-0000-0000-0000-00000000000a";
const PROVIDER: &str = "projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";
const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";

/// `app` names an identity in each cloud (GCP through the pool provider); `gke-app` only the
/// Google service account, for GKE's identity namespace.
fn manifests() -> String {
    let tenant = sandbox_azure::AZURE_TENANT_ID;
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-a}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations:\n    \
         eks.amazonaws.com/role-arn: '{APP_ROLE}'\n    \
         azure.workload.identity/client-id: {APP_CLIENT}\n    azure.workload.identity/tenant-id: {tenant}\n    \
         gcp.auth.fluxcd.io/workload-identity-provider: {PROVIDER}\n    \
         iam.gke.io/gcp-service-account: {APP_SA}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: gke-app\n  namespace: team-a\n  annotations:\n    \
         iam.gke.io/gcp-service-account: {APP_SA}\n"
    )
}

/// Where a self-managed cluster's documents are published: one HTTPS site (a bucket's website)
/// for every cluster of a test, each under its own path.
struct Bucket {
    site: StaticSite,
}

impl Bucket {
    async fn start() -> Result<Bucket, BoxError> {
        Ok(Bucket {
            site: StaticSite::start().await?,
        })
    }

    fn issuer(&self, cluster: &str) -> String {
        format!("{}/{cluster}", self.site.url())
    }

    /// What `kubecred issuer generate` writes for `sandbox`'s verification keys, published at
    /// its issuer (the operator's `kubecred issuer publish`).
    fn publish(&self, sandbox: &Sandbox) -> TestResult {
        let keys: Vec<PublicKeyPem> = sandbox
            .verification_key_pems()
            .into_iter()
            .enumerate()
            .map(|(i, pem)| PublicKeyPem::new(format!("sa-{i}.pub"), pem))
            .collect();
        let documents = issuer::generate(&Issuer::parse(&sandbox.issuer())?, None, &keys)?;
        let path = sandbox
            .issuer()
            .strip_prefix(&self.site.url())
            .ok_or("the issuer is not on the bucket's site")?
            .to_owned();
        self.site.put(
            &format!("{path}/.well-known/openid-configuration"),
            Page::ok(CONTENT_TYPE, documents.discovery_json()),
        );
        self.site.put(
            &format!("{path}{}", issuer::JWKS_PATH),
            Page::ok(CONTENT_TYPE, documents.jwks_json()),
        );
        Ok(())
    }
}

/// A source cluster: the sandbox presenting as it (with its documents published, if
/// self-managed), its kubeconfig, and its controller-level files for `team-a/app`.
struct Cluster {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(source: SourceCluster, bucket: &Bucket) -> Result<Cluster, BoxError> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let sandbox = Sandbox::start(SandboxConfig {
            manifests: Manifests::parse(&manifests())?,
            source: source.clone(),
            issuer_ca_pems: vec![bucket.site.ca_pem().to_owned()],
            ..SandboxConfig::default()
        })
        .await?;
        if matches!(source, SourceCluster::Other { .. }) {
            bucket.publish(&sandbox)?;
        }
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("kubeconfig"), sandbox.kubeconfig_file())?;
        Ok(Cluster { sandbox, dir })
    }

    fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    /// Writes the controller-level files for `cloud` into this cluster's directory; returns
    /// the variables.
    fn controller(
        &self,
        cloud: TargetCloud,
        endpoints: &ControllerEndpoints,
    ) -> Result<Vec<(String, String)>, BoxError> {
        let setup =
            self.sandbox
                .controller_setup(cloud, "team-a", "app", self.dir.path(), endpoints)?;
        for (name, contents) in &setup.files {
            std::fs::write(self.dir.path().join(name), contents)?;
        }
        Ok(setup.env)
    }
}

/// The three clouds' stand-ins, configured as `kubecred sandbox` configures them, trusting the
/// issuer of `trusted` only.
struct Targets {
    aws: AwsStandIns,
    gcp: GcpStandIns,
    azure: AzureStandIns,
    home: tempfile::TempDir,
    azure_ca: String,
}

impl Targets {
    async fn start(trusted: &Cluster) -> Result<Targets, BoxError> {
        let sandbox = &trusted.sandbox;
        let manifests = Manifests::parse(&manifests())?;
        let aws = sandbox_aws::start_aws(sandbox, &manifests)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let gcp = sandbox_gcp::start_gcp(sandbox, &manifests)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let azure = sandbox_azure::start_azure(sandbox, &manifests)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let home = tempfile::tempdir()?;
        let azure_ca = home.path().join("azure-ca.pem");
        std::fs::write(&azure_ca, azure.ca_pem())?;
        Ok(Targets {
            aws,
            gcp,
            azure,
            azure_ca: azure_ca.display().to_string(),
            home,
        })
    }

    fn endpoints(&self) -> ControllerEndpoints {
        ControllerEndpoints {
            azure_authority_host: self.azure.authority_host(),
            gcp_sts_url: self.gcp.sts_token_url(),
            gcp_impersonation_url: self.gcp.impersonation_url("{email}"),
        }
    }

    /// `kubecred token --provider CLOUD --output json ARGS` against `cluster`'s API server, with
    /// the stand-ins' addresses and `extra` variables.
    fn token(
        &self,
        cloud: TargetCloud,
        cluster: &Cluster,
        extra: &[(String, String)],
        args: &[&str],
    ) -> std::io::Result<Output> {
        let provider = match cloud {
            TargetCloud::Aws => "aws",
            TargetCloud::Azure => "azure",
            TargetCloud::Gcp => "gcp",
        };
        let mut command = isolated(support::BIN, self.home.path());
        command
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("AWS_ENDPOINT_URL_STS", self.aws.sts_url())
            .env("AWS_REGION", "us-west-2")
            .env("GCE_METADATA_HOST", self.gcp.metadata_host())
            .env("KUBECRED_GCP_STS_URL", self.gcp.sts_token_url())
            .env(
                "KUBECRED_GCP_IAM_CREDENTIALS_URL",
                self.gcp.iam_credentials_url(),
            )
            .envs(
                self.azure
                    .env_vars()
                    .into_iter()
                    .filter(|(name, _)| *name != "AZURE_TENANT_ID"),
            )
            .env("SSL_CERT_FILE", &self.azure_ca)
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .args(["token", "--provider", provider, "--output", "json"])
            .args(args)
            .output()
    }

    async fn shutdown(self) {
        self.azure.shutdown().await;
        self.gcp.shutdown().await;
        self.aws.shutdown().await;
    }
}

/// What a successful exchange at `cloud` answers, checked: AWS keys of the role's session,
/// an Entra token of the app, a Google token of the service account.
fn assert_exchanged(cloud: TargetCloud, cell: &str, output: &Output) -> TestResult {
    let value = support::success_json(output).map_err(|e| format!("{cell}: {e}"))?;
    match cloud {
        TargetCloud::Aws => {
            assert_eq!(value["kind"], "CloudKeys", "{cell}: {value}");
            let key = value["accessKeyId"].as_str().unwrap_or_default();
            assert!(key.starts_with("ASIA"), "{cell}: a session key, not {key}");
        }
        TargetCloud::Azure => {
            let token = support::azure::token_of(output)?;
            let claims = support::azure::claims(&token)?;
            assert_eq!(claims["appid"], APP_CLIENT, "{cell}: {claims}");
        }
        TargetCloud::Gcp => {
            assert_eq!(value["kind"], "AccessToken", "{cell}: {value}");
            assert!(
                value["token"].as_str().is_some_and(|t| !t.is_empty()),
                "{cell}: {value}"
            );
        }
    }
    Ok(())
}

/// The cloud's refusal of an untrusted issuer's token, in its own words.
fn assert_untrusted(cloud: TargetCloud, cell: &str, output: &Output) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "{cell}: accepted an untrusted issuer"
    );
    let expected: &[&str] = match cloud {
        TargetCloud::Aws => &["No OpenIDConnect provider found"],
        TargetCloud::Azure => &["AADSTS700211: No matching federated identity record"],
        TargetCloud::Gcp => &["invalid_grant: The issuer in ID Token"],
    };
    assert!(
        expected.iter().any(|part| err.contains(part)),
        "{cell}: expected one of {expected:?} in: {err}"
    );
}

/// The cloud's refusal of a token whose key the published JWKS lacks.
fn assert_unknown_key(cloud: TargetCloud, cell: &str, output: &Output) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "{cell}: accepted a key not published"
    );
    let expected = match cloud {
        TargetCloud::Aws => "The web identity token could not be validated: no key with kid",
        TargetCloud::Azure => "AADSTS700027: Client assertion failed signature validation",
        TargetCloud::Gcp => "invalid_grant: The ID Token is not acceptable: no key with kid",
    };
    assert!(
        err.contains(expected),
        "{cell}: expected {expected:?} in: {err}"
    );
}

const CLOUDS: [TargetCloud; 3] = [TargetCloud::Aws, TargetCloud::Azure, TargetCloud::Gcp];

/// The object-level arguments for `cloud` from `source`: GKE's own identity namespace for
/// GCP from GKE, the annotated ServiceAccount otherwise.
fn object_args(cloud: TargetCloud, source: &SourceCluster) -> Vec<&'static str> {
    let account = match (cloud, source) {
        (TargetCloud::Gcp, SourceCluster::Gke { .. }) => "gke-app",
        _ => "app",
    };
    let mut args = vec!["-n", "team-a", "--service-account", account];
    if cloud == TargetCloud::Aws {
        args.extend(["--region", "us-west-2"]);
    }
    args
}

/// Identity levels.
#[derive(Clone, Copy, Debug)]
enum Level {
    Object,
    Controller,
}

/// The trusted and the untrusted cluster of each source type (the self-managed ones' issuers on
/// the bucket site; only the first is registered with the targets).
fn clusters(kind: &str, bucket: &Bucket) -> (SourceCluster, SourceCluster) {
    match kind {
        "eks" => (SourceCluster::eks(1), SourceCluster::eks(2)),
        "gke" => (SourceCluster::gke(0), SourceCluster::gke(1)),
        "aks" => (SourceCluster::aks(1), SourceCluster::aks(2)),
        _ => {
            let other = |cluster: &str| SourceCluster::Other {
                issuer: bucket.issuer(cluster),
            };
            (other("cluster-a"), other("cluster-b"))
        }
    }
}

/// One cell: a sandbox presenting as `kind`, the targets trusting its issuer, a real exchange
/// at `cloud` at `level`; then the same request from another cluster of that type, refused.
async fn cell(kind: &str, cloud: TargetCloud, level: Level) -> TestResult {
    let bucket = Bucket::start().await?;
    let (trusted, untrusted) = clusters(kind, &bucket);
    let trusted = Cluster::start(trusted, &bucket).await?;
    let untrusted = Cluster::start(untrusted, &bucket).await?;
    assert_eq!(trusted.sandbox.source().kind_name(), kind);
    let targets = Targets::start(&trusted).await?;
    let endpoints = targets.endpoints();
    let cell = format!("{kind} -> {cloud:?}, {level:?} level");
    let run = |cluster: &Cluster| -> Result<Output, BoxError> {
        Ok(match level {
            Level::Object => {
                let args = object_args(cloud, cluster.sandbox.source());
                targets.token(cloud, cluster, &[], &args)?
            }
            Level::Controller => {
                let env = cluster.controller(cloud, &endpoints)?;
                targets.token(cloud, cluster, &env, &[])?
            }
        })
    };
    assert_exchanged(cloud, &cell, &run(&trusted)?)?;
    assert_untrusted(cloud, &cell, &run(&untrusted)?);
    targets.shutdown().await;
    trusted.sandbox.shutdown().await;
    untrusted.sandbox.shutdown().await;
    bucket.site.shutdown().await;
    Ok(())
}

/// One test per cell: `name: source type, target cloud, level`.
macro_rules! cells {
    ($($name:ident: $kind:literal, $cloud:ident, $level:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() -> TestResult {
            cell($kind, TargetCloud::$cloud, Level::$level).await
        }
    )*};
}

cells! {
    aks_to_aws_object: "aks", Aws, Object;
    aks_to_aws_controller: "aks", Aws, Controller;
    aks_to_azure_object: "aks", Azure, Object;
    aks_to_azure_controller: "aks", Azure, Controller;
    aks_to_gcp_object: "aks", Gcp, Object;
    aks_to_gcp_controller: "aks", Gcp, Controller;
    eks_to_aws_object: "eks", Aws, Object;
    eks_to_aws_controller: "eks", Aws, Controller;
    eks_to_azure_object: "eks", Azure, Object;
    eks_to_azure_controller: "eks", Azure, Controller;
    eks_to_gcp_object: "eks", Gcp, Object;
    eks_to_gcp_controller: "eks", Gcp, Controller;
    gke_to_aws_object: "gke", Aws, Object;
    gke_to_aws_controller: "gke", Aws, Controller;
    gke_to_azure_object: "gke", Azure, Object;
    gke_to_azure_controller: "gke", Azure, Controller;
    gke_to_gcp_object: "gke", Gcp, Object;
    gke_to_gcp_controller: "gke", Gcp, Controller;
    other_to_aws_object: "other", Aws, Object;
    other_to_aws_controller: "other", Aws, Controller;
    other_to_azure_object: "other", Azure, Object;
    other_to_azure_controller: "other", Azure, Controller;
    other_to_gcp_object: "other", Gcp, Object;
    other_to_gcp_controller: "other", Gcp, Controller;
}

/// The key rotation of a self-managed cluster, as each target cloud sees it: the issuer's JWKS
/// is what `kubecred issuer generate` wrote, published at the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_as_each_cloud_sees_it() -> TestResult {
    for cloud in CLOUDS {
        let bucket = Bucket::start().await?;
        let source = SourceCluster::Other {
            issuer: bucket.issuer("rotating"),
        };
        let cluster = Cluster::start(source.clone(), &bucket).await?;
        let targets = Targets::start(&cluster).await?;
        let endpoints = targets.endpoints();
        let object = object_args(cloud, &source);
        let cell = |step: &str| format!("{cloud:?}, {step}");

        // A controller's projected token, signed with the key in use now.
        let old_token_env = cluster.controller(cloud, &endpoints)?;
        let old_kid = cluster.sandbox.signing_kid();
        assert_exchanged(
            cloud,
            &cell("before"),
            &targets.token(cloud, &cluster, &[], &object)?,
        )?;

        // The API server signs with a new key the published JWKS does not hold yet.
        cluster.sandbox.rotate_signing_key();
        let output = targets.token(cloud, &cluster, &[], &object)?;
        assert_unknown_key(cloud, &cell("rotated, not published"), &output);
        let old = targets.token(cloud, &cluster, &old_token_env, &[])?;
        assert_exchanged(cloud, &cell("old token, old key published"), &old)?;

        // `issuer generate` with both keys, published: the new key's tokens pass, the old still.
        bucket.publish(&cluster.sandbox)?;
        assert_exchanged(
            cloud,
            &cell("published"),
            &targets.token(cloud, &cluster, &[], &object)?,
        )?;
        let old = targets.token(cloud, &cluster, &old_token_env, &[])?;
        assert_exchanged(cloud, &cell("old token after publishing"), &old)?;

        // The old key retired and the JWKS published without it: its tokens are refused.
        assert!(cluster.sandbox.retire_key(&old_kid));
        bucket.publish(&cluster.sandbox)?;
        let old = targets.token(cloud, &cluster, &old_token_env, &[])?;
        assert_unknown_key(cloud, &cell("old key retired"), &old);
        assert_exchanged(
            cloud,
            &cell("after retiring"),
            &targets.token(cloud, &cluster, &[], &object)?,
        )?;

        targets.shutdown().await;
        cluster.sandbox.shutdown().await;
        bucket.site.shutdown().await;
    }
    Ok(())
}

/// `kubecred sandbox --source eks --controller team-a/app` needs no hand set-up: what its banner
/// exports (the stand-ins, then each cloud's controller-level variables, whose files it wrote)
/// is all a controller-level `kubecred token` needs, for every cloud; the issuer is EKS's shape.
#[test]
fn the_sandbox_command_presents_as_eks_and_sets_up_controller_level() -> TestResult {
    let home = tempfile::tempdir()?;
    let sandbox = support::SandboxProcess::start_with(
        home.path(),
        &manifests(),
        0,
        &["--source", "eks", "--controller", "team-a/app"],
    )?;
    let issuer_line = sandbox
        .banner
        .iter()
        .find(|line| line.starts_with("OIDC issuer: "))
        .ok_or("no issuer line")?;
    assert!(
        issuer_line.contains("https://oidc.eks.us-west-2.amazonaws.com/id/")
            && issuer_line.contains("source cluster type eks"),
        "{issuer_line}"
    );
    let exports = |indent: &str| -> Vec<(String, String)> {
        let prefix = format!("{indent}export ");
        sandbox
            .banner
            .iter()
            .filter_map(|line| line.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .filter(|(k, _)| k != "AZURE_TENANT_ID" && k != "AZURE_CLIENT_ID")
            .collect()
    };
    let stand_ins = exports("  ");
    let mut section = None;
    let mut controller: Vec<(&str, Vec<(String, String)>)> = Vec::new();
    for line in &sandbox.banner {
        if let Some(cloud) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && ["Aws", "Azure", "Gcp"].contains(&cloud)
        {
            section = Some(cloud);
            controller.push((cloud, Vec::new()));
        } else if let (Some(_), Some((k, v))) = (
            section,
            line.strip_prefix("    export ")
                .and_then(|r| r.split_once('=')),
        ) && let Some(last) = controller.last_mut()
        {
            last.1.push((k.to_owned(), v.to_owned()));
        }
    }
    assert_eq!(controller.len(), 3, "{:?}", sandbox.banner);
    for (cloud, env) in controller {
        assert!(!env.is_empty(), "{cloud}: {:?}", sandbox.banner);
        let output = isolated(support::BIN, home.path())
            .envs(stand_ins.iter().map(|(k, v)| (k, v)))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args([
                "token",
                "--provider",
                &cloud.to_lowercase(),
                "--output",
                "json",
            ])
            .output()?;
        let value = support::success_json(&output).map_err(|e| format!("{cloud}: {e}"))?;
        assert!(
            value["kind"] == "CloudKeys" || value["kind"] == "AccessToken",
            "{cloud}: {value}"
        );
    }
    Ok(())
}
