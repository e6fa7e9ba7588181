//! `kubecred policy --provider aws` proven sufficient and necessary.
//!
//! Permissions, for every `--for` (bucket, kms, registry, cluster, git, sqs), on the sandbox's
//! AWS stand-ins: the generated role, OIDC provider and permission policy are loaded as written;
//! the ServiceAccount's token becomes the role through the STS stand-in, and with those keys
//! kubecred's step passes (`explain --check s3://` / `kms://` / `sqs://`, `--registry`,
//! `--cluster` with the token then accepted by the EKS authenticator, git's first request to
//! CodeCommit) and so do the calls the integration's consumer makes (`kms:Decrypt`, the ECR pull
//! actions, `sqs:ReceiveMessage` / `DeleteMessage`, signed with aws-sigv4). With any one action
//! taken out, kubecred's step fails and explain names the action and the `kubecred policy`
//! command (CodeCommit's refusal names it for git), or the consumer's call is refused naming it.
//!
//! Permissions on moto as well (AWS's emulator, its own IAM evaluation and SigV4 verification):
//! an IAM principal holding exactly the generated document passes kubecred's call for a bucket,
//! a key and a registry login, and is denied without that action (KMS with the key scope widened
//! to `*`, which is all moto evaluates for KMS). The document is attached to a user because
//! moto's IAM evaluates user policies for signed calls.
//!
//! Trust, on the STS stand-in: without the provider, without the role, with the subject of
//! another namespace, or with another audience (the provider's client id and the condition), the
//! exchange is refused, and `kubecred explain` names the piece left out. Without the `sub`
//! condition IAM trusts every ServiceAccount of the cluster, and without the `aud` condition
//! every client id of the provider (no error to name): the test shows another namespace's
//! ServiceAccount, or a token for another client id of a shared provider, then gets in, which the
//! generated conditions prevent.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
#[allow(dead_code)]
mod moto;

#[path = "support/sandbox_engine.rs"]
mod sandbox_engine;
use kubecred::aws::parse::EcrRegistry;
use kubecred::aws::{Transport, checks, ecr};
use kubecred::policy::{self, AwsTrust, CloudOptions, Policy, PolicyRequest, Purpose};
use kubecred::{Credential, Engine, Env, Identity, Provider, Request};
use kubecred_sandbox::aws::{
    AwsConfig, AwsResources, AwsStandIns, Bucket, EksCluster, load_policy,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use moto::{BoxError, Moto};
use sandbox_engine::sandbox_engine;
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

#[tokio::test]
async fn generated_trust_lets_the_service_account_in_and_each_part_is_needed() -> TestResult {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-b\n  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}\n",
    )?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests,
        source: kubecred_sandbox::SourceCluster::eks(1),
        ..SandboxConfig::default()
    })
    .await?;
    let policy = aws_policy(Purpose::Bucket, "s3://flux-artifacts", &sandbox.issuer())?.json();
    let sub_key = |policy: &Value| -> Result<String, BoxError> {
        Ok(policy["trust"][1]["assumeRolePolicyDocument"]["Statement"][0]["Condition"]
            ["StringEquals"]
            .as_object()
            .and_then(|c| c.keys().find(|k| k.ends_with(":sub")).cloned())
            .ok_or("no sub condition")?)
    };

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
    // The provider and the role agree on another audience than the token's.
    let mut other_audience = policy.clone();
    other_audience["trust"][0]["clientIdList"] = serde_json::json!(["api://other"]);
    let aud = sub_key(&policy)?.replace(":sub", ":aud");
    other_audience["trust"][1]["assumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]
        [&aud] = "api://other".into();
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
        (
            "another audience",
            other_audience,
            "Incorrect token audience",
            "audience is not a client ID of the IAM OIDC provider",
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

    // Without the `sub` condition IAM trusts every ServiceAccount of the cluster: team-b's gets
    // in too, which the generated condition prevents.
    let team_b_in = |policy: Value| {
        let sandbox = &sandbox;
        async move {
            let aws = stand_ins_for(sandbox, &policy).await?;
            let (engine, request, _dir) = engine(sandbox, &aws).await?;
            let request = Request {
                namespace: Some("team-b".into()),
                ..request
            };
            let admitted = engine.token(&request).await.is_ok();
            aws.shutdown().await;
            Ok::<bool, BoxError>(admitted)
        }
    };
    assert!(
        !team_b_in(policy.clone()).await?,
        "the generated trust admits team-b"
    );
    let mut without_sub = policy.clone();
    let sub = sub_key(&policy)?;
    without_sub["trust"][1]["assumeRolePolicyDocument"]["Statement"][0]["Condition"]
        ["StringEquals"]
        .as_object_mut()
        .ok_or("no conditions")?
        .remove(&sub);
    assert!(team_b_in(without_sub).await?, "without the sub condition");

    // An OIDC provider shared with another audience (another tool's client id): the `aud`
    // condition is what keeps that audience's tokens out of the role.
    let other_audience_in = |policy: Value| {
        let sandbox = &sandbox;
        async move {
            let aws = stand_ins_for(sandbox, &policy).await?;
            let (engine, request, _dir) = engine(sandbox, &aws).await?;
            let request = Request {
                audiences: vec!["api://other".into()],
                ..request
            };
            let admitted = engine.token(&request).await.is_ok();
            aws.shutdown().await;
            Ok::<bool, BoxError>(admitted)
        }
    };
    let mut shared = policy.clone();
    shared["trust"][0]["clientIdList"] = serde_json::json!(["sts.amazonaws.com", "api://other"]);
    assert!(
        !other_audience_in(shared.clone()).await?,
        "the generated aud condition admits another audience"
    );
    let mut shared_without_aud = shared.clone();
    shared_without_aud["trust"][1]["assumeRolePolicyDocument"]["Statement"][0]["Condition"]
        ["StringEquals"]
        .as_object_mut()
        .ok_or("no conditions")?
        .remove(&aud);
    assert!(
        other_audience_in(shared_without_aud).await?,
        "without the aud condition"
    );
    sandbox.shutdown().await;
    Ok(())
}

// --- Permissions on the sandbox's stand-ins, through the exchange ------------------------------

const REGION: &str = "us-east-1";
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:events";
const CLUSTER_ARN: &str = "arn:aws:eks:us-east-1:123456789012:cluster/prod";
const CODECOMMIT_HOST: &str = "git-codecommit.us-east-1.amazonaws.com";

/// What kubecred does with the role's keys for one `--for`.
#[derive(Clone, Copy)]
enum Use<'a> {
    /// `kubecred explain --check TARGET`.
    Check(&'a str),
    /// `kubecred explain --registry HOST`.
    Registry(&'a str),
    /// `kubecred explain --cluster ARN`, then the token presented to the cluster.
    Cluster,
    /// `kubecred git credentials`, then git's first request to CodeCommit.
    Git,
}

/// The sandbox as an EKS cluster holding `team-a/app` (annotated with the role).
async fn eks_sandbox() -> Result<Sandbox, BoxError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}\n",
    )?;
    Ok(Sandbox::start(SandboxConfig {
        manifests,
        source: kubecred_sandbox::SourceCluster::eks(1),
        ..SandboxConfig::default()
    })
    .await?)
}

/// The stand-ins holding everything `policy` loads to (trust and permissions, checked), and the
/// resources of every case.
async fn enforcing_stand_ins(sandbox: &Sandbox, policy: &Value) -> Result<AwsStandIns, BoxError> {
    let loaded = load_policy(policy)?;
    let resources = AwsResources {
        buckets: vec![Bucket {
            name: "flux-artifacts".into(),
            objects: vec![("app.tgz".into(), b"artifact".to_vec())],
        }],
        kms_keys: vec![KEY_ARN.into()],
        ecr_repositories: vec![format!(
            "arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team-a/app"
        )],
        eks_clusters: vec![EksCluster {
            arn: CLUSTER_ARN.into(),
            endpoint: sandbox.url(),
            ca_pem: sandbox.ca_pem().to_owned(),
        }],
        sqs_queues: vec![QUEUE_ARN.into()],
    };
    Ok(AwsStandIns::start(AwsConfig {
        account_id: ACCOUNT.into(),
        oidc_providers: vec![sandbox.verifier().await?],
        roles: loaded.roles,
        permissions: Some(loaded.permission_policies),
        resources,
        ..AwsConfig::default()
    })
    .await?)
}

/// An engine whose AWS calls go to the stand-ins (STS, and the service APIs for S3, KMS, ECR,
/// EKS and SQS), and `team-a/app`'s request.
async fn engine(
    sandbox: &Sandbox,
    aws: &AwsStandIns,
) -> Result<(Engine, Request, tempfile::TempDir), BoxError> {
    let api = aws.api_url();
    let env = Env::from_pairs(&[
        ("AWS_ENDPOINT_URL_STS", &aws.sts_url()),
        ("AWS_ENDPOINT_URL_S3", &api),
        ("AWS_ENDPOINT_URL_KMS", &api),
        ("AWS_ENDPOINT_URL_ECR", &api),
        ("AWS_ENDPOINT_URL_EKS", &api),
        ("AWS_ENDPOINT_URL_SQS", &api),
    ]);
    let (engine, dir) = sandbox_engine(sandbox, env).await?;
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        region: Some(REGION.into()),
        ..Request::new(Provider::Aws)
    };
    Ok((engine, request, dir))
}

/// Runs `used` against stand-ins holding `policy`: `Ok(())` when kubecred's side works, else
/// the failed step's cause (explain's) or the service's refusal (git).
async fn use_with(
    sandbox: &Sandbox,
    policy: &Value,
    used: Use<'_>,
) -> Result<Result<(), String>, BoxError> {
    let aws = enforcing_stand_ins(sandbox, policy).await?;
    let (engine, request, _dir) = engine(sandbox, &aws).await?;
    let cluster = kubecred::cluster::ClusterRef {
        cluster: Some(CLUSTER_ARN.into()),
        ..Default::default()
    };
    let access = match used {
        Use::Check(target) => Some(kubecred::explain::Access::Check(target)),
        Use::Registry(host) => Some(kubecred::explain::Access::Registry(host)),
        Use::Cluster => Some(kubecred::explain::Access::Cluster(&cluster)),
        Use::Git => None,
    };
    let outcome = match access {
        Some(access) => {
            let explanation =
                kubecred::explain::explain_access(&engine, &request, access, false).await;
            match explanation.verdict() {
                "ok" => Ok(()),
                _ => Err(explanation.cause().unwrap_or("(no cause)").to_owned()),
            }
        }
        None => git_pull(&engine, &request, &aws).await?,
    };
    if outcome.is_ok() && matches!(used, Use::Cluster) {
        // The token is what the cluster's authenticator accepts as the role.
        let cluster = kubecred::cluster::ClusterRef {
            cluster: Some(CLUSTER_ARN.into()),
            ..Default::default()
        };
        let credentials = kubecred::cluster::credentials(&engine, &cluster, &request).await?;
        assert_eq!(credentials.server, sandbox.url());
        let caller = aws.verify_eks_token(credentials.token.expose(), "prod")?;
        assert!(caller.contains(":assumed-role/team-a-app/"), "{caller}");
    }
    aws.shutdown().await;
    Ok(outcome)
}

/// git's first request to the repository (`info/refs` of upload-pack) with kubecred's git
/// credentials: `Err` with CodeCommit's refusal.
async fn git_pull(
    engine: &Engine,
    request: &Request,
    aws: &AwsStandIns,
) -> Result<Result<(), String>, BoxError> {
    let codecommit = aws.start_codecommit(CODECOMMIT_HOST, "app").await?;
    let url = url::Url::parse(&codecommit.repository_url())?;
    let credentials = kubecred::git::credentials(engine, &url, request).await?;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(
            codecommit.ca_pem().as_bytes(),
        )?)
        .resolve(
            CODECOMMIT_HOST,
            std::net::SocketAddr::from(([127, 0, 0, 1], codecommit.port())),
        )
        .build()?;
    let response = client
        .get(format!("{url}/info/refs?service=git-upload-pack"))
        .basic_auth(
            credentials.username.expose(),
            Some(credentials.password.expose()),
        )
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    codecommit.shutdown().await;
    Ok(match status.is_success() {
        true => Ok(()),
        false => Err(format!("{status}: {body}")),
    })
}

/// A call the integration's consumer makes with the role's keys (source-controller reading an
/// object, SOPS decrypting, the kubelet pulling, a queue consumer receiving), signed as the AWS
/// SDKs sign: `None` for an action kubecred's own step makes.
async fn consumer_call(
    sandbox: &Sandbox,
    policy: &Value,
    action: &str,
) -> Result<Option<Result<(), String>>, BoxError> {
    let (service, target, body) = match action {
        "kms:Decrypt" => (
            "kms",
            "TrentService.Decrypt".to_owned(),
            serde_json::json!({"KeyId": KEY_ARN, "CiphertextBlob": "AAAA"}),
        ),
        "sqs:ReceiveMessage" | "sqs:DeleteMessage" => (
            "sqs",
            format!("AmazonSQS.{}", &action[4..]),
            serde_json::json!({
                "QueueUrl": format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/events"),
                "ReceiptHandle": "r",
            }),
        ),
        "ecr:GetAuthorizationToken" => return Ok(None),
        ecr if ecr.starts_with("ecr:") => (
            "ecr",
            format!("AmazonEC2ContainerRegistry_V20150921.{}", &ecr[4..]),
            serde_json::json!({"registryId": ACCOUNT, "repositoryName": "team-a/app"}),
        ),
        _ => return Ok(None),
    };
    let aws = enforcing_stand_ins(sandbox, policy).await?;
    let (engine, request, _dir) = engine(sandbox, &aws).await?;
    let Credential::AwsKeys(keys) = engine.token(&request).await? else {
        return Err("not AWS keys".into());
    };
    let content_type = match service {
        "sqs" => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    };
    let url = format!("{}/", aws.api_url());
    let body = body.to_string();
    let headers = [
        ("content-type", content_type),
        ("x-amz-target", target.as_str()),
    ];
    let signed = sign(
        &keys,
        service,
        &url,
        &headers,
        body.as_bytes(),
        Env::from_pairs(&[]).now(),
    )?;
    let mut builder = reqwest::Client::new().post(&url).body(body);
    for (name, value) in headers
        .iter()
        .copied()
        .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let status = response.status();
    let text = response.text().await?;
    aws.shutdown().await;
    Ok(Some(match status.is_success() {
        true => Ok(()),
        false => Err(text),
    }))
}

/// SigV4 headers for a POST of `body` to `url`, with aws-sigv4 (what the AWS SDKs use).
fn sign(
    keys: &kubecred::AwsKeys,
    service: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: std::time::SystemTime,
) -> Result<Vec<(String, String)>, BoxError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(
        &keys.access_key_id,
        keys.secret_access_key.expose(),
        keys.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "policy-test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}

/// Every action of the generated permission policy.
fn actions(policy: &Value) -> Vec<String> {
    policy["permissions"][0]["policyDocument"]["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// The generated policy for `purpose` and `resource`, loaded into the stand-ins, lets kubecred
/// do `used` and the integration's consumer make its calls; with any one action taken out,
/// either kubecred's step fails and explain names the action (with the `kubecred policy`
/// command), or the consumer's call is refused naming it.
async fn each_permission_is_needed(purpose: Purpose, resource: &str, used: Use<'_>) -> TestResult {
    let sandbox = eks_sandbox().await?;
    let policy = aws_policy(purpose, resource, &sandbox.issuer())?.json();
    let actions = actions(&policy);
    assert!(!actions.is_empty());
    if let Err(cause) = use_with(&sandbox, &policy, used).await? {
        panic!("{purpose:?} with the generated policy: {cause}");
    }
    for action in &actions {
        if let Some(refused) = consumer_call(&sandbox, &policy, action).await? {
            refused.map_err(|e| format!("{action} with the generated policy: {e}"))?;
        }
    }
    for action in &actions {
        let mut broken = policy.clone();
        broken["permissions"][0]["policyDocument"] =
            without(&policy["permissions"][0]["policyDocument"], action);
        match use_with(&sandbox, &broken, used).await? {
            Err(cause) => {
                assert!(cause.contains(action.as_str()), "without {action}: {cause}");
                if !matches!(used, Use::Git) {
                    assert!(
                        cause.contains(&format!("the role lacks {action}"))
                            && cause.contains(&format!(
                                "kubecred policy --provider aws --for {}",
                                purpose_name(purpose)
                            )),
                        "explain without {action}: {cause}"
                    );
                }
            }
            Ok(()) => {
                let refused = consumer_call(&sandbox, &broken, action)
                    .await?
                    .ok_or_else(|| format!("nothing needs {action}"))?
                    .err()
                    .ok_or_else(|| format!("{action} allowed without it"))?;
                assert!(
                    refused.contains(&format!("is not authorized to perform: {action}")),
                    "{action}: {refused}"
                );
            }
        }
    }
    sandbox.shutdown().await;
    Ok(())
}

fn purpose_name(purpose: Purpose) -> String {
    serde_json::to_value(purpose)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn bucket_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    each_permission_is_needed(
        Purpose::Bucket,
        "s3://flux-artifacts",
        Use::Check("s3://flux-artifacts"),
    )
    .await
}

#[tokio::test]
async fn kms_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    each_permission_is_needed(
        Purpose::Kms,
        KEY_ARN,
        Use::Check(&format!("kms://{KEY_ARN}")),
    )
    .await
}

#[tokio::test]
async fn registry_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    let host = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com");
    each_permission_is_needed(
        Purpose::Registry,
        &format!("{host}/team-a/app"),
        Use::Registry(&host),
    )
    .await
}

#[tokio::test]
async fn cluster_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    each_permission_is_needed(Purpose::Cluster, CLUSTER_ARN, Use::Cluster).await
}

#[tokio::test]
async fn git_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    each_permission_is_needed(
        Purpose::Git,
        &format!("https://{CODECOMMIT_HOST}/v1/repos/app"),
        Use::Git,
    )
    .await
}

#[tokio::test]
async fn sqs_permissions_are_sufficient_and_each_is_needed() -> TestResult {
    each_permission_is_needed(
        Purpose::Sqs,
        QUEUE_ARN,
        Use::Check(&format!("sqs://{QUEUE_ARN}")),
    )
    .await
}
