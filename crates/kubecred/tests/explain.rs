//! `kubecred::explain` on seeded misconfigurations, against the sandbox and the AWS stand-ins:
//! each is named by its own step and a distinct likely cause (the feature gate off, a default
//! ServiceAccount missing, an annotation missing or malformed, a trust policy whose subject names
//! another namespace, a wrong audience, an issuer the account does not trust, a permission the
//! role lacks for the next hop, an endpoint that does not answer), and a working identity is ok.
#![cfg(feature = "aws")]

#[path = "support/seeded.rs"]
mod seeded;
use kubecred::explain::{self, Explanation, StepName};
use kubecred::{Engine, Env, Identity, PolicyConfig, Provider, Request};
use kubecred_sandbox::aws::{AwsConfig, AwsRole, AwsStandIns, Trust};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use seeded::{SandboxKubeconfig, assert_distinct_failures, gate_on};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/app'}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: other-subject
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-b'}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: chained
  namespace: team-a
  annotations:
    eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/app-chained'
    aws.kubecred.io/assume-role-arn: 'arn:aws:iam::123456789012:role/locked'
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
  annotations: {eks.amazonaws.com/role-arn: 'foobar'}
";

struct World {
    sandbox: Sandbox,
    trusting: AwsStandIns,
    untrusting: AwsStandIns,
    kubeconfig: SandboxKubeconfig,
}

fn web_identity(issuer: &str, subject: &str) -> Trust {
    Trust::WebIdentity {
        issuer: issuer.into(),
        audience: "sts.amazonaws.com".into(),
        subject: Some(subject.into()),
    }
}

async fn world() -> Result<World, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(MANIFESTS)?,
        ..SandboxConfig::default()
    })
    .await?;
    let issuer = sandbox.issuer();
    let role = |name: &str, trust: Vec<Trust>| AwsRole {
        arn: format!("arn:aws:iam::123456789012:role/{name}"),
        trust,
    };
    let roles = vec![
        role(
            "app",
            vec![web_identity(&issuer, "system:serviceaccount:team-a:app")],
        ),
        role(
            "team-b",
            vec![web_identity(&issuer, "system:serviceaccount:team-b:app")],
        ),
        role(
            "app-chained",
            vec![web_identity(
                &issuer,
                "system:serviceaccount:team-a:chained",
            )],
        ),
        role("locked", vec![]),
    ];
    let trusting = AwsStandIns::start(AwsConfig {
        account_id: "123456789012".into(),
        oidc_providers: vec![sandbox.verifier().await?],
        roles: roles.clone(),
        ..AwsConfig::default()
    })
    .await?;
    let untrusting = AwsStandIns::start(AwsConfig {
        account_id: "123456789012".into(),
        roles,
        ..AwsConfig::default()
    })
    .await?;
    let kubeconfig = SandboxKubeconfig::write(&sandbox)?;
    Ok(World {
        sandbox,
        trusting,
        untrusting,
        kubeconfig,
    })
}

impl World {
    async fn engine(
        &self,
        policy: PolicyConfig,
        sts: &str,
    ) -> Result<Engine, Box<dyn std::error::Error>> {
        self.kubeconfig
            .engine(policy, Env::from_pairs(&[("AWS_ENDPOINT_URL_STS", sts)]))
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
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        ..Request::new(Provider::Aws)
    }
}

#[tokio::test]
async fn each_seeded_misconfiguration_is_named_with_a_distinct_cause() -> TestResult {
    let w = world().await?;
    let sts = w.trusting.sts_url();

    let works = w.explain(gate_on(), &sts, object("app")).await?;
    assert_eq!(works.verdict(), "ok", "{}", works.text());
    let dry = explain::explain(&w.engine(gate_on(), &sts).await?, &object("app"), true).await;
    assert_eq!(dry.verdict(), "dry-run", "{}", dry.text());
    let cache = dry
        .steps
        .iter()
        .find(|s| s.step == StepName::CacheKey)
        .ok_or("no cache step")?;
    assert!(
        cache.detail.contains("serviceAccountName=app"),
        "{}",
        cache.detail
    );

    let gate_off = PolicyConfig {
        object_level_workload_identity: false,
        ..PolicyConfig::default()
    };
    let mut wrong_audience = object("app");
    wrong_audience.audiences = vec!["https://not-sts.example".into()];
    let default_missing = PolicyConfig {
        default_service_account: Some("missing".into()),
        ..gate_on()
    };
    let controller_request = Request {
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        ..Request::new(Provider::Aws)
    };
    let closed = format!(
        "http://{}",
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
            "annotation missing",
            w.explain(gate_on(), &sts, object("plain")).await?,
            StepName::Annotations,
            "lacks annotation eks.amazonaws.com/role-arn",
        ),
        (
            "annotation malformed",
            w.explain(gate_on(), &sts, object("malformed")).await?,
            StepName::Annotations,
            "is malformed",
        ),
        (
            "wrong namespace in the trust subject",
            w.explain(gate_on(), &sts, object("other-subject")).await?,
            StepName::Exchange,
            "does not allow subject system:serviceaccount:team-a:other-subject",
        ),
        (
            "wrong audience",
            w.explain(gate_on(), &sts, wrong_audience).await?,
            StepName::Exchange,
            "not a client ID of the IAM OIDC provider",
        ),
        (
            "issuer not trusted",
            w.explain(gate_on(), &w.untrusting.sts_url(), object("app"))
                .await?,
            StepName::Exchange,
            "not registered as an IAM OIDC provider",
        ),
        (
            "missing permission for the next hop",
            w.explain(gate_on(), &sts, object("chained")).await?,
            StepName::Exchange,
            "lacks a permission: sts:AssumeRole",
        ),
        (
            "unreachable endpoint",
            w.explain(gate_on(), &closed, object("app")).await?,
            StepName::Exchange,
            "did not answer",
        ),
    ];
    assert_distinct_failures(&cases);
    w.trusting.shutdown().await;
    w.untrusting.shutdown().await;
    w.sandbox.shutdown().await;
    Ok(())
}
