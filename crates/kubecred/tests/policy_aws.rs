//! `kubecred policy --provider aws` proven sufficient and necessary.
//!
//! Permissions, on moto (AWS's emulator, IAM evaluation and SigV4 verification on): an IAM
//! principal holding exactly the generated permission policy passes the check kubecred's own
//! call makes (`s3:ListBucket` for a bucket, `kms:DescribeKey` for a key,
//! `ecr:GetAuthorizationToken` for a registry login); the same policy without that action is
//! denied (for KMS with the key scope widened to `*`, which is all moto's IAM evaluates for
//! KMS). The policy is attached to a user rather than the role because moto's IAM evaluates
//! user policies for signed calls; the document is the role's, unchanged. What kubecred's calls
//! do not use (the pull actions, `s3:GetObject`, `kms:Decrypt`) is used by the clients that read
//! the artifact and is not proven here; nor are EKS (moto cannot verify its signatures),
//! CodeCommit (kubecred signs git passwords locally) and SQS (kubecred makes no SQS call).
//!
//! Trust, on the sandbox's STS stand-in: the generated role and OIDC provider, loaded as they
//! are written, let the ServiceAccount's token become the role; without the provider, without
//! the role, or with the subject of another namespace, the exchange is refused, and `kubecred
//! explain` names the piece left out.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
#[allow(dead_code)]
mod moto;

use kubecred::aws::parse::EcrRegistry;
use kubecred::aws::{Transport, checks, ecr};
use kubecred::policy::{self, AwsTrust, CloudOptions, Policy, PolicyRequest, Purpose};
use kubecred::{Credential, Engine, Env, Identity, Kubernetes, PolicyConfig, Provider, Request};
use kubecred_sandbox::aws::{AwsConfig, AwsStandIns, load_policy};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use moto::{BoxError, Moto};
use serde_json::Value;

type TestResult = Result<(), BoxError>;

const ACCOUNT: &str = "123456789012";

fn aws_policy(purpose: Purpose, resource: &str, issuer: &str) -> Result<Policy, BoxError> {
    Ok(policy::policy(&PolicyRequest {
        purpose,
        resource: resource.into(),
        service_account: "team-a/app".into(),
        issuer: Some(issuer.into()),
        cloud: CloudOptions::Aws {
            account_id: ACCOUNT.into(),
            role_name: "team-a-app".into(),
            trust: AwsTrust::Oidc,
        },
    })?)
}

/// The permission policy document.
fn permissions(policy: &Policy) -> Value {
    policy.permissions[0]["policyDocument"].clone()
}

/// `document` with `action` taken out of every statement (a statement left empty is dropped).
fn without(document: &Value, action: &str) -> Value {
    let mut document = document.clone();
    let statements: Vec<Value> = document["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|mut statement| {
            let actions: Vec<Value> = statement["Action"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a != action)
                .collect();
            (!actions.is_empty()).then(|| {
                statement["Action"] = Value::Array(actions);
                statement
            })
        })
        .collect();
    assert_ne!(
        statements,
        document["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        "{action} is not in the policy"
    );
    document["Statement"] = Value::Array(statements);
    document
}

fn denied<T>(result: kubecred::Result<T>) -> String {
    match result {
        Ok(_) => panic!("allowed without the permission"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn generated_permissions_pass_each_check_and_each_action_is_needed() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    moto.bucket("flux-artifacts").await?;
    let key = moto.kms_key().await?;
    let issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
    let bucket = permissions(&aws_policy(Purpose::Bucket, "s3://flux-artifacts", issuer)?);
    // moto's IAM evaluates KMS calls against the resource `*` (it does not name the key), so the
    // key-scoped statement is checked with its resource widened: what is proven for KMS is the
    // action set, not the key scope.
    let mut kms = permissions(&aws_policy(Purpose::Kms, &key, issuer)?);
    assert_eq!(kms["Statement"][0]["Resource"], serde_json::json!([key]));
    kms["Statement"][0]["Resource"] = serde_json::json!("*");
    let registry = permissions(&aws_policy(
        Purpose::Registry,
        &format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team-a/app"),
        issuer,
    )?);
    let users = [
        ("bucket", bucket.clone()),
        ("bucket-without", without(&bucket, "s3:ListBucket")),
        ("kms", kms.clone()),
        ("kms-without", without(&kms, "kms:DescribeKey")),
        ("registry", registry.clone()),
        (
            "registry-without",
            without(&registry, "ecr:GetAuthorizationToken"),
        ),
    ];
    let mut keys = std::collections::HashMap::new();
    for (name, document) in &users {
        keys.insert(*name, moto.user_with_policy(name, document).await?);
    }
    moto.verify_signatures().await?;
    let env = moto.env();
    let t = Transport::default;

    checks::s3_bucket("flux-artifacts", "us-east-1", &keys["bucket"], &env, t()).await?;
    let refused = denied(
        checks::s3_bucket(
            "flux-artifacts",
            "us-east-1",
            &keys["bucket-without"],
            &env,
            t(),
        )
        .await,
    );
    assert!(refused.contains("AccessDenied"), "{refused}");

    checks::kms_key(&key, &keys["kms"], &env, t()).await?;
    let refused = denied(checks::kms_key(&key, &keys["kms-without"], &env, t()).await);
    assert!(refused.contains("AccessDenied"), "{refused}");

    let ecr_registry = EcrRegistry::Private {
        region: "us-east-1".into(),
    };
    ecr::login(&ecr_registry, &keys["registry"], &env, t()).await?;
    let refused = denied(ecr::login(&ecr_registry, &keys["registry-without"], &env, t()).await);
    assert!(refused.contains("AccessDenied"), "{refused}");
    Ok(())
}

/// The sandbox, and AWS stand-ins holding what `policy` loads to (its OIDC providers trusted
/// with the sandbox's keys when they name its issuer).
async fn stand_ins_for(sandbox: &Sandbox, policy: &Value) -> Result<AwsStandIns, BoxError> {
    let loaded = load_policy(policy)?;
    let mut oidc_providers = Vec::new();
    for url in &loaded.oidc_providers {
        if *url == sandbox.issuer() {
            oidc_providers.push(sandbox.verifier().await?);
        }
    }
    Ok(AwsStandIns::start(AwsConfig {
        account_id: ACCOUNT.into(),
        oidc_providers,
        roles: loaded.roles,
        ..AwsConfig::default()
    })
    .await?)
}

/// `team-a/app`'s AWS keys through the stand-ins (object level), or the error.
async fn exchange(
    sandbox: &Sandbox,
    aws: &AwsStandIns,
) -> Result<kubecred::Result<Credential>, BoxError> {
    let (engine, request, _dir) = engine(sandbox, aws).await?;
    Ok(engine.token(&request).await)
}

/// What `kubecred explain` says of `team-a/app` through the stand-ins: the failed step's cause.
async fn explained(sandbox: &Sandbox, aws: &AwsStandIns) -> Result<String, BoxError> {
    let (engine, request, _dir) = engine(sandbox, aws).await?;
    let explanation = kubecred::explain::explain(&engine, &request, false).await;
    Ok(explanation.cause().unwrap_or("(nothing failed)").to_owned())
}

/// An engine for the sandbox's cluster and the stand-ins' STS, and `team-a/app`'s request.
async fn engine(
    sandbox: &Sandbox,
    aws: &AwsStandIns,
) -> Result<(Engine, Request, tempfile::TempDir), BoxError> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()?;
    let engine = Engine::new(policy)
        .with_kubernetes(Kubernetes::from_kubeconfig(&kubeconfig, None).await?)
        .with_env(Env::from_pairs(&[("AWS_ENDPOINT_URL_STS", &aws.sts_url())]));
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        ..Request::new(Provider::Aws)
    };
    Ok((engine, request, dir))
}

#[tokio::test]
async fn generated_trust_lets_the_service_account_in_and_each_part_is_needed() -> TestResult {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}\n",
    )?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests,
        source: kubecred_sandbox::SourceCluster::eks(1),
        ..SandboxConfig::default()
    })
    .await?;
    let policy = aws_policy(Purpose::Bucket, "s3://flux-artifacts", &sandbox.issuer())?.json();

    let aws = stand_ins_for(&sandbox, &policy).await?;
    let credential = exchange(&sandbox, &aws).await??;
    assert!(
        matches!(credential, Credential::AwsKeys(_)),
        "{credential:?}"
    );
    aws.shutdown().await;

    let mut without_provider = policy.clone();
    without_provider["trust"]
        .as_array_mut()
        .ok_or("no trust")?
        .retain(|d| d["kind"] != "aws_iam_openid_connect_provider");
    let mut without_role = policy.clone();
    without_role["trust"]
        .as_array_mut()
        .ok_or("no trust")?
        .retain(|d| d["kind"] != "aws_iam_role");
    let mut other_namespace = policy.clone();
    let conditions = &mut other_namespace["trust"][1]["assumeRolePolicyDocument"]["Statement"][0]["Condition"]
        ["StringEquals"];
    let sub = conditions
        .as_object()
        .and_then(|c| c.keys().find(|k| k.ends_with(":sub")).cloned())
        .ok_or("no sub condition")?;
    conditions[&sub] = "system:serviceaccount:team-b:app".into();
    // Each refused, and `kubecred explain` names the piece left out.
    let not_allowed = "does not allow subject system:serviceaccount:team-a:app";
    for (what, broken, expected, cause) in [
        (
            "no OIDC provider",
            without_provider,
            "No OpenIDConnect provider",
            "not registered as an IAM OIDC provider",
        ),
        ("no role", without_role, "AccessDenied", not_allowed),
        (
            "another namespace's subject",
            other_namespace,
            "AccessDenied",
            not_allowed,
        ),
    ] {
        let aws = stand_ins_for(&sandbox, &broken).await?;
        let error = exchange(&sandbox, &aws)
            .await?
            .err()
            .ok_or(what)?
            .to_string();
        assert!(error.contains(expected), "{what}: {error}");
        let explained = explained(&sandbox, &aws).await?;
        assert!(explained.contains(cause), "{what}: {explained}");
        aws.shutdown().await;
    }
    sandbox.shutdown().await;
    Ok(())
}
