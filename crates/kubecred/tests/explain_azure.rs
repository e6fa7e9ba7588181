//! `kubecred::explain` on seeded misconfigurations, against the sandbox and the Azure stand-ins:
//! each is named by its own step and a distinct likely cause (the feature gate off, a default
//! ServiceAccount missing, the annotations missing, a client id that is not a GUID, a federated
//! credential whose subject names another namespace, one whose audience is not
//! api://AzureADTokenExchange, one naming another issuer, a role assignment the app lacks on the
//! checked key, an Entra that does not answer), and a working identity is ok.
//!
//! The stand-ins serve HTTPS with a CA they generate, which kubecred trusts as a user's shell
//! does, through `SSL_CERT_FILE`: the explanations run in a child process of this test binary
//! whose `SSL_CERT_FILE` names the file the child writes the CA to once the stand-ins start (the
//! process environment cannot be changed in-process).
#![cfg(feature = "azure")]

#[path = "support/seeded.rs"]
mod seeded;
use kubecred::explain::{self, Access, Explanation, Status, StepName};
use kubecred::{Engine, Env, Identity, PolicyConfig, Provider, Request};
use kubecred_sandbox::azure::{
    AzureConfig, AzureStandIns, EntraApp, FederatedCredential, KEY_VAULT_CRYPTO_USER, RoleGrant,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use seeded::{SandboxKubeconfig, assert_distinct_failures, gate_on};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Where the child writes the stand-ins' CA (the file its `SSL_CERT_FILE` names).
const CA_VAR: &str = "KUBECRED_TEST_EXPLAIN_AZURE_CA";
const CHILD: &str = "child_explains_each_seeded_misconfiguration";

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const APP: &str = "00000000-0000-4000-8000-00000000000a";
const OTHER_SUBJECT: &str = "00000000-0000-4000-8000-00000000000b";
const WRONG_AUDIENCE: &str = "00000000-0000-4000-8000-00000000000c";
const WRONG_ISSUER: &str = "00000000-0000-4000-8000-00000000000d";
/// The key `app` may use, and one it may not.
const GRANTED_KEY: &str = "azkv://flux-vault/keys/granted";
const KEY: &str = "azkv://flux-vault/keys/sops";

fn manifests() -> String {
    let account = |name: &str, client_id: &str| {
        format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: team-a\n  \
             annotations:\n    azure.workload.identity/client-id: '{client_id}'\n    \
             azure.workload.identity/tenant-id: '{TENANT}'\n"
        )
    };
    [
        account("app", APP),
        account("other-subject", OTHER_SUBJECT),
        account("wrong-audience", WRONG_AUDIENCE),
        account("wrong-issuer", WRONG_ISSUER),
        account("malformed", "not-a-guid"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: plain, namespace: team-a}\n".into(),
    ]
    .join("---\n")
}

struct World {
    sandbox: Sandbox,
    azure: AzureStandIns,
    kubeconfig: SandboxKubeconfig,
}

/// An app federating `subject` of `issuer` for `audience`.
fn app(client_id: &str, issuer: &str, subject: &str, audience: &str) -> EntraApp {
    EntraApp {
        federated_credentials: vec![FederatedCredential {
            issuer: issuer.into(),
            subject: subject.into(),
            audiences: vec![audience.into()],
        }],
        ..EntraApp::new(client_id)
    }
}

async fn world() -> Result<World, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(&manifests())?,
        ..SandboxConfig::default()
    })
    .await?;
    let issuer = sandbox.issuer();
    let exchange = "api://AzureADTokenExchange";
    let azure = AzureStandIns::start(AzureConfig {
        tenant_id: TENANT.into(),
        apps: vec![
            app(APP, &issuer, "system:serviceaccount:team-a:app", exchange),
            // The subject names team-b's ServiceAccount of the same name.
            app(
                OTHER_SUBJECT,
                &issuer,
                "system:serviceaccount:team-b:other-subject",
                exchange,
            ),
            app(
                WRONG_AUDIENCE,
                &issuer,
                "system:serviceaccount:team-a:wrong-audience",
                "api://not-the-token-exchange",
            ),
            app(
                WRONG_ISSUER,
                "https://issuer.example/another-cluster",
                "system:serviceaccount:team-a:wrong-issuer",
                exchange,
            ),
        ],
        issuers: vec![sandbox.verifier().await?],
        grants: vec![
            RoleGrant::new(GRANTED_KEY, KEY_VAULT_CRYPTO_USER, APP),
            // The key exists (another principal's role on it), but `app` has none.
            RoleGrant::new(
                KEY,
                KEY_VAULT_CRYPTO_USER,
                "00000000-0000-4000-8000-0000000000ff",
            ),
        ],
        ..AzureConfig::default()
    })
    .await?;
    let kubeconfig = SandboxKubeconfig::write(&sandbox)?;
    Ok(World {
        sandbox,
        azure,
        kubeconfig,
    })
}

impl World {
    async fn engine(
        &self,
        policy: PolicyConfig,
        authority: &str,
    ) -> Result<Engine, Box<dyn std::error::Error>> {
        self.kubeconfig
            .engine(
                policy,
                Env::from_pairs(&[
                    ("AZURE_AUTHORITY_HOST", authority),
                    ("KUBECRED_AZURE_KEYVAULT_URL", &self.azure.keyvault_url()),
                ]),
            )
            .await
    }

    async fn explain(
        &self,
        policy: PolicyConfig,
        authority: &str,
        request: Request,
    ) -> Result<Explanation, Box<dyn std::error::Error>> {
        let engine = self.engine(policy, authority).await?;
        Ok(explain::explain(&engine, &request, false).await)
    }

    async fn explain_access(
        &self,
        request: Request,
        target: &str,
    ) -> Result<Explanation, Box<dyn std::error::Error>> {
        let engine = self.engine(gate_on(), &self.azure.authority_host()).await?;
        Ok(explain::explain_access(&engine, &request, Access::Check(target), false).await)
    }
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Azure)
    }
}

/// Runs [`child_explains_each_seeded_misconfiguration`] in a child process whose
/// `SSL_CERT_FILE` names the file it writes the stand-ins' CA to.
#[test]
fn each_seeded_misconfiguration_is_named_with_a_distinct_cause() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("azure-ca.pem");
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["--exact", CHILD, "--ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env("SSL_CERT_FILE", &ca)
        .env(CA_VAR, &ca)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{stderr}"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "child process of each_seeded_misconfiguration_is_named_with_a_distinct_cause"]
async fn child_explains_each_seeded_misconfiguration() -> TestResult {
    let ca = std::env::var(CA_VAR).map_err(|_| format!("run by its parent, with {CA_VAR}"))?;
    let w = world().await?;
    std::fs::write(&ca, w.azure.ca_pem())?;
    let authority = w.azure.authority_host();

    let works = w.explain(gate_on(), &authority, object("app")).await?;
    assert_eq!(works.verdict(), "ok", "{}", works.text());
    let reaches = w.explain_access(object("app"), GRANTED_KEY).await?;
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
        ..Request::new(Provider::Azure)
    };
    let closed = format!(
        "https://{}/",
        std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?
    );
    let cases: Vec<(&str, Explanation, StepName, &str)> = vec![
        (
            "gate off",
            w.explain(gate_off, &authority, object("app")).await?,
            StepName::IdentityLevel,
            "feature gate is off",
        ),
        (
            "default ServiceAccount missing",
            w.explain(default_missing, &authority, controller_request)
                .await?,
            StepName::ServiceAccount,
            "default ServiceAccount team-a/missing does not exist",
        ),
        (
            "annotation missing",
            w.explain(gate_on(), &authority, object("plain")).await?,
            StepName::Annotations,
            "lacks annotation azure.workload.identity/client-id",
        ),
        (
            "annotation malformed",
            w.explain(gate_on(), &authority, object("malformed"))
                .await?,
            StepName::Annotations,
            "is malformed: invalid azure.workload.identity/client-id annotation",
        ),
        (
            "wrong namespace in the federated credential's subject",
            w.explain(gate_on(), &authority, object("other-subject"))
                .await?,
            StepName::Exchange,
            "does not match subject system:serviceaccount:team-a:other-subject",
        ),
        (
            "wrong audience",
            w.explain(gate_on(), &authority, object("wrong-audience"))
                .await?,
            StepName::Exchange,
            "audience is not the token's (api://AzureADTokenExchange)",
        ),
        (
            "issuer not trusted",
            w.explain(gate_on(), &authority, object("wrong-issuer"))
                .await?,
            StepName::Exchange,
            "no federated credential for the cluster's issuer",
        ),
        (
            "missing permission on the resource",
            w.explain_access(object("app"), KEY).await?,
            StepName::Access,
            "kubecred policy --provider azure --for kms --resource <the ARM resource id of \
             azkv://flux-vault/keys/sops> writes the grant",
        ),
        (
            "unreachable endpoint",
            w.explain(gate_on(), &closed, object("app")).await?,
            StepName::Exchange,
            "an endpoint did not answer",
        ),
    ];
    assert_distinct_failures(&cases);
    w.azure.shutdown().await;
    w.sandbox.shutdown().await;
    Ok(())
}
