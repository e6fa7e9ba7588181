//! `kubecred::explain` on seeded misconfigurations, against the sandbox and the GCP stand-ins (a
//! cluster off GKE, federating through a workload identity pool provider): each is named by its
//! own step and a distinct likely cause (the feature gate off, a default ServiceAccount missing,
//! the provider annotation missing, an annotation malformed, an impersonation binding naming
//! another namespace's principal, a provider whose allowed audiences leave kubecred's out, a
//! provider trusting another issuer, a permission the identity lacks on the checked resource,
//! an STS that does not answer), and a working identity is ok; on GKE (its identity namespace),
//! an impersonation binding naming another namespace's member and an identity namespace that
//! does not trust the cluster's issuer.
#![cfg(feature = "gcp")]

#[path = "support/seeded.rs"]
mod seeded;
use kubecred::explain::{self, Access, Explanation, Status, StepName};
use kubecred::{Engine, Env, Identity, PolicyConfig, Provider, Request};
use kubecred_sandbox::gcp::{
    Binding, GcpConfig, GcpServiceAccount, GcpStandIns, GkeCluster, OidcProvider, ResourceBinding,
    WorkloadIdentityPool,
};
use kubecred_sandbox::{JwtVerifier, Manifests, Sandbox, SandboxConfig};
use seeded::{SandboxKubeconfig, assert_distinct_failures, gate_on};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PROJECT: &str = "example-project";
const PROJECT_NUMBER: &str = "123456789000";
const POOL: &str = "kubecred-sandbox";
const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
const OTHER_SA: &str = "team-b-app@example-project.iam.gserviceaccount.com";
/// The topic `app`'s service account may publish to, and one it may not.
const GRANTED_TOPIC: &str = "pubsub://projects/example-project/topics/granted";
const TOPIC: &str = "pubsub://projects/example-project/topics/flux-events";

/// `app` works; `other-subject` impersonates a service account whose binding names the
/// principal of `team-b/other-subject`; `wrong-audience` and `wrong-issuer` name providers whose
/// allowed audiences leave kubecred's out, and that trust another issuer; `plain` has no
/// annotation (and the cluster is not GKE); `malformed` names no valid email.
const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gke-app
  namespace: team-a
  annotations: {iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gke-other
  namespace: team-a
  annotations: {iam.gke.io/gcp-service-account: team-b-app@example-project.iam.gserviceaccount.com}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: other-subject
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-b-app@example-project.iam.gserviceaccount.com
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: wrong-audience
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/narrow'
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: wrong-issuer
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/elsewhere'
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: plain, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: malformed
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: foobar
";

struct World {
    sandbox: Sandbox,
    elsewhere: Sandbox,
    gcp: GcpStandIns,
    kubeconfig: SandboxKubeconfig,
}

fn provider(id: &str, verifier: JwtVerifier, allowed_audiences: Vec<String>) -> OidcProvider {
    OidcProvider {
        id: id.into(),
        verifier,
        allowed_audiences,
    }
}

async fn world() -> Result<World, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(MANIFESTS)?,
        ..SandboxConfig::default()
    })
    .await?;
    // Another cluster: its issuer is the one the `elsewhere` provider trusts.
    let elsewhere = Sandbox::start(SandboxConfig::default()).await?;
    let verifier = sandbox.verifier().await?;
    let mut config = GcpConfig {
        project_id: PROJECT.into(),
        project_number: PROJECT_NUMBER.into(),
        pools: vec![WorkloadIdentityPool {
            id: POOL.into(),
            providers: vec![
                provider("sandbox", verifier.clone(), Vec::new()),
                provider(
                    "narrow",
                    verifier,
                    vec!["https://audience.example/not-kubecred".into()],
                ),
                provider("elsewhere", elsewhere.verifier().await?, Vec::new()),
            ],
        }],
        resource_bindings: vec![
            ResourceBinding {
                resource: GRANTED_TOPIC.into(),
                role: "roles/pubsub.publisher".into(),
                member: format!("serviceAccount:{APP_SA}"),
            },
            // The topic exists (an owner's binding on it), but `app` has no role on it.
            ResourceBinding {
                resource: TOPIC.into(),
                role: "roles/owner".into(),
                member: "user:owner@example.com".into(),
            },
        ],
        ..GcpConfig::default()
    };
    let principal = |subject: &str| config.principal(POOL, subject);
    config.service_accounts = vec![
        GcpServiceAccount {
            email: APP_SA.into(),
            bindings: vec![Binding::workload_identity_user(principal(
                "system:serviceaccount:team-a:app",
            ))],
        },
        // The binding names team-b's ServiceAccount of the same name, not team-a's.
        GcpServiceAccount {
            email: OTHER_SA.into(),
            bindings: vec![Binding::workload_identity_user(principal(
                "system:serviceaccount:team-b:other-subject",
            ))],
        },
    ];
    let gcp = GcpStandIns::start(config).await?;
    let kubeconfig = SandboxKubeconfig::write(&sandbox)?;
    Ok(World {
        sandbox,
        elsewhere,
        gcp,
        kubeconfig,
    })
}

impl World {
    async fn engine(
        &self,
        policy: PolicyConfig,
        sts: &str,
    ) -> Result<Engine, Box<dyn std::error::Error>> {
        let apis = self.gcp.apis_url();
        self.kubeconfig
            .engine(
                policy,
                Env::from_pairs(&[
                    ("KUBECRED_GCP_STS_URL", sts),
                    (
                        "KUBECRED_GCP_IAM_CREDENTIALS_URL",
                        &self.gcp.iam_credentials_url(),
                    ),
                    ("GCE_METADATA_HOST", &self.gcp.metadata_host()),
                    ("KUBECRED_GCP_PUBSUB_URL", &apis),
                ]),
            )
            .await
    }

    async fn explain(
        &self,
        policy: PolicyConfig,
        sts: &str,
        request: Request,
    ) -> Result<Explanation, Box<dyn std::error::Error>> {
        let engine = self.engine(policy, sts).await?;
        Ok(explain::explain(&engine, &request, false).await)
    }

    async fn explain_access(
        &self,
        request: Request,
        target: &str,
    ) -> Result<Explanation, Box<dyn std::error::Error>> {
        let engine = self.engine(gate_on(), &self.gcp.sts_token_url()).await?;
        Ok(explain::explain_access(&engine, &request, Access::Check(target), false).await)
    }
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    }
}

#[tokio::test]
async fn each_seeded_misconfiguration_is_named_with_a_distinct_cause() -> TestResult {
    let w = world().await?;
    let sts = w.gcp.sts_token_url();

    let works = w.explain(gate_on(), &sts, object("app")).await?;
    assert_eq!(works.verdict(), "ok", "{}", works.text());
    let reaches = w.explain_access(object("app"), GRANTED_TOPIC).await?;
    assert_eq!(reaches.verdict(), "ok", "{}", reaches.text());
    let access = reaches.steps.last().ok_or("no steps")?;
    assert_eq!(
        (access.step, access.status),
        (StepName::Access, Status::Ok),
        "{}",
        reaches.text()
    );

    let gate_off = PolicyConfig {
        object_level_workload_identity: false,
        ..PolicyConfig::default()
    };
    let default_missing = PolicyConfig {
        default_service_account: Some("missing".into()),
        ..gate_on()
    };
    let controller_request = Request {
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    };
    let closed = format!(
        "http://{}/v1/token",
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?
    );
    let cases: Vec<(&str, Explanation, StepName, &str)> = vec![
        (
            "gate off",
            w.explain(gate_off, &sts, object("app")).await?,
            StepName::IdentityLevel,
            "feature gate is off",
        ),
        (
            "default ServiceAccount missing",
            w.explain(default_missing, &sts, controller_request).await?,
            StepName::ServiceAccount,
            "default ServiceAccount team-a/missing does not exist",
        ),
        (
            "annotation missing (off GKE)",
            w.explain(gate_on(), &sts, object("plain")).await?,
            StepName::CloudIdentity,
            "lacks annotation gcp.auth.fluxcd.io/workload-identity-provider",
        ),
        (
            "annotation malformed",
            w.explain(gate_on(), &sts, object("malformed")).await?,
            StepName::Annotations,
            "is malformed: invalid iam.gke.io/gcp-service-account annotation: 'foobar'",
        ),
        (
            "wrong namespace in the impersonation binding",
            w.explain(gate_on(), &sts, object("other-subject")).await?,
            StepName::Exchange,
            "system:serviceaccount:team-a:other-subject may not impersonate",
        ),
        (
            "wrong audience",
            w.explain(gate_on(), &sts, object("wrong-audience")).await?,
            StepName::Exchange,
            "audience is not one the pool provider allows",
        ),
        (
            "issuer not trusted",
            w.explain(gate_on(), &sts, object("wrong-issuer")).await?,
            StepName::Exchange,
            "does not trust the cluster's issuer",
        ),
        (
            "missing permission on the resource",
            w.explain_access(object("app"), TOPIC).await?,
            StepName::Access,
            "kubecred policy --provider gcp --for pubsub --resource \
             pubsub://projects/example-project/topics/flux-events writes the grant",
        ),
        (
            "unreachable endpoint",
            w.explain(gate_on(), &closed, object("app")).await?,
            StepName::Exchange,
            "an endpoint did not answer",
        ),
    ];
    assert_distinct_failures(&cases);
    w.gcp.shutdown().await;
    w.sandbox.shutdown().await;
    w.elsewhere.shutdown().await;
    Ok(())
}

/// GCP stand-ins playing GKE for the sandbox's cluster (their metadata server reports it; STS
/// trusts `cluster`'s issuer for its identity namespace): `gke-app` may impersonate `APP_SA`,
/// whose binding names its GKE member; `OTHER_SA`'s binding names team-b's `gke-other`.
async fn gke_stand_ins(cluster: JwtVerifier) -> Result<GcpStandIns, Box<dyn std::error::Error>> {
    let mut config = GcpConfig {
        project_id: PROJECT.into(),
        project_number: PROJECT_NUMBER.into(),
        gke: Some(GkeCluster {
            name: "kubecred-sandbox".into(),
            location: "europe-west1".into(),
            verifier: cluster,
        }),
        ..GcpConfig::default()
    };
    let member = |namespace: &str, name: &str| {
        format!(
            "serviceAccount:{}[{namespace}/{name}]",
            config.identity_namespace()
        )
    };
    config.service_accounts = vec![
        GcpServiceAccount {
            email: APP_SA.into(),
            bindings: vec![Binding::workload_identity_user(member("team-a", "gke-app"))],
        },
        GcpServiceAccount {
            email: OTHER_SA.into(),
            bindings: vec![Binding::workload_identity_user(member(
                "team-b",
                "gke-other",
            ))],
        },
    ];
    Ok(GcpStandIns::start(config).await?)
}

/// On GKE (the audience from the metadata server, GKE's identity namespace instead of a pool):
/// a working identity, an impersonation binding naming another namespace's member, and an
/// identity namespace that does not trust the cluster's issuer, each with its own cause.
#[tokio::test]
async fn on_gke_the_trust_misconfigurations_are_named() -> TestResult {
    let w = world().await?;
    let explain_with = |gcp: &GcpStandIns, name: &str| {
        let env = Env::from_pairs(&[
            ("KUBECRED_GCP_STS_URL", &gcp.sts_token_url()),
            (
                "KUBECRED_GCP_IAM_CREDENTIALS_URL",
                &gcp.iam_credentials_url(),
            ),
            ("GCE_METADATA_HOST", &gcp.metadata_host()),
        ]);
        let request = object(name);
        let kubeconfig = &w.kubeconfig;
        async move {
            let engine = kubeconfig.engine(gate_on(), env).await?;
            Ok::<Explanation, Box<dyn std::error::Error>>(
                explain::explain(&engine, &request, false).await,
            )
        }
    };
    let trusting = gke_stand_ins(w.sandbox.verifier().await?).await?;
    let works = explain_with(&trusting, "gke-app").await?;
    assert_eq!(works.verdict(), "ok", "{}", works.text());
    let identity = works
        .steps
        .iter()
        .find(|s| s.step == StepName::CloudIdentity)
        .ok_or("no cloud-identity step")?;
    assert!(
        identity
            .detail
            .contains("audience example-project.svc.id.goog becomes GKE workload identity"),
        "{}",
        identity.detail
    );
    let untrusting = gke_stand_ins(w.elsewhere.verifier().await?).await?;
    let cases: Vec<(&str, Explanation, StepName, &str)> = vec![
        (
            "wrong namespace in the impersonation binding (GKE member)",
            explain_with(&trusting, "gke-other").await?,
            StepName::Exchange,
            "system:serviceaccount:team-a:gke-other may not impersonate",
        ),
        (
            "identity namespace trusting another cluster",
            explain_with(&untrusting, "gke-app").await?,
            StepName::Exchange,
            "does not trust the cluster's issuer",
        ),
    ];
    assert_distinct_failures(&cases);
    trusting.shutdown().await;
    untrusting.shutdown().await;
    w.gcp.shutdown().await;
    w.sandbox.shutdown().await;
    w.elsewhere.shutdown().await;
    Ok(())
}
