//! AWS end to end through the sandbox: ServiceAccount tokens from the Kubernetes stand-in are
//! exchanged at an STS stand-in that verifies them against the issuer's JWKS and the roles'
//! trust policies, and role chains are assumed with SigV4 calls it verifies.
#![cfg(feature = "aws")]

#[path = "support/sandbox_engine.rs"]
mod sandbox_engine;
use kubecred::Env;
use kubecred::clock::{Clock, ManualClock, SystemClock};
use kubecred::cluster::{self, ClusterRef};
use kubecred::registry;
use kubecred::{AssumeRole, AwsKeys, Credential, Engine, Identity, Provider, Request};
use kubecred_sandbox::aws::{AwsConfig, AwsRole, AwsStandIns, AwsUser, Trust};
use kubecred_sandbox::proxy::ForwardProxy;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use sandbox_engine::sandbox_engine;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ACCOUNT: &str = "123456789012";
const APP_ROLE: &str = "arn:aws:iam::123456789012:role/team-a-app";
const HOP_ROLE: &str = "arn:aws:iam::123456789012:role/hop";
const CROSS_ROLE: &str = "arn:aws:iam::210987654321:role/cross-account";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci";
const USER_KEY: &str = "AKIACIUSEREXAMPLE01";
const USER_SECRET: &str = "ci-user-secret-key-example";

const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: chained
  namespace: team-a
  annotations:
    eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'
    aws.kubecred.io/assume-role-arn: 'arn:aws:iam::123456789012:role/hop,arn:aws:iam::210987654321:role/cross-account'
    aws.kubecred.io/external-id: ext-1
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: plain, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bad
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: 'foobar'}
---
apiVersion: v1
kind: Secret
metadata: {name: ci-keys, namespace: team-a}
stringData: {accesskey: AKIACIUSEREXAMPLE01, secretkey: ci-user-secret-key-example}
";

struct World {
    sandbox: Sandbox,
    aws: AwsStandIns,
    engine: Engine,
    _dir: tempfile::TempDir,
}

async fn world() -> Result<World, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(MANIFESTS)?,
        ..SandboxConfig::default()
    })
    .await?;
    let web_identity = Trust::WebIdentity {
        issuer: sandbox.issuer(),
        audience: "sts.amazonaws.com".into(),
        subject: Some("system:serviceaccount:team-a:app".into()),
    };
    let chained_identity = Trust::WebIdentity {
        issuer: sandbox.issuer(),
        audience: "sts.amazonaws.com".into(),
        subject: Some("system:serviceaccount:team-a:chained".into()),
    };
    let roles = vec![
        AwsRole {
            arn: APP_ROLE.into(),
            trust: vec![web_identity, chained_identity],
        },
        AwsRole {
            arn: HOP_ROLE.into(),
            trust: vec![
                Trust::Principal {
                    arn: APP_ROLE.into(),
                    external_id: None,
                },
                Trust::Principal {
                    arn: USER_ARN.into(),
                    external_id: None,
                },
            ],
        },
        AwsRole {
            arn: CROSS_ROLE.into(),
            trust: vec![Trust::Principal {
                arn: HOP_ROLE.into(),
                external_id: Some("ext-1".into()),
            }],
        },
    ];
    let users = vec![AwsUser {
        arn: USER_ARN.into(),
        access_key_id: USER_KEY.into(),
        secret_access_key: USER_SECRET.into(),
    }];
    let aws = AwsStandIns::start(AwsConfig {
        account_id: ACCOUNT.into(),
        oidc_providers: vec![sandbox.verifier().await?],
        roles,
        users,
        ..AwsConfig::default()
    })
    .await?;
    let env = Env::from_pairs(&[
        ("AWS_ENDPOINT_URL_STS", &aws.sts_url()),
        ("AWS_ENDPOINT_URL_ECR_PUBLIC", &aws.ecr_public_url()),
    ]);
    let (engine, dir) = sandbox_engine(&sandbox, env).await?;
    Ok(World {
        sandbox,
        aws,
        engine,
        _dir: dir,
    })
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        ..Request::new(Provider::Aws)
    }
}

fn keys(credential: Credential) -> Result<AwsKeys, Box<dyn std::error::Error>> {
    match credential {
        Credential::AwsKeys(keys) => Ok(keys),
        other => Err(format!("expected keys, got {}", other.kind()).into()),
    }
}

fn message<T: std::fmt::Debug>(result: kubecred::Result<T>) -> String {
    result
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no error".into())
}

#[tokio::test]
async fn object_level_exchanges_the_service_account_token_at_sts() -> TestResult {
    let w = world().await?;
    let keys = keys(w.engine.token(&object("app")).await?)?;
    assert!(
        keys.access_key_id.starts_with("ASIA"),
        "{}",
        keys.access_key_id
    );
    assert!(keys.session_token.is_some());
    let lifetime = keys
        .expires_at
        .and_then(|t| t.duration_since(SystemClock.now()).ok());
    assert!(lifetime.is_some_and(|d| d.as_secs() > 3500), "{lifetime:?}");
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 1);
    assert_eq!(w.sandbox.token_requests(), 1);
    Ok(())
}

#[tokio::test]
async fn a_token_with_the_wrong_audience_is_refused_by_sts() -> TestResult {
    let w = world().await?;
    let request = Request {
        audiences: vec!["https://not-sts.example".into()],
        ..object("app")
    };
    let error = w
        .engine
        .token(&request)
        .await
        .err()
        .ok_or("expected a refusal")?;
    assert!(error.is_denied(), "{error}");
    assert!(
        error.to_string().contains("InvalidIdentityToken"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn a_service_account_the_role_does_not_trust_is_refused() -> TestResult {
    let w = world().await?;
    // team-b has no SA `app`, so use a trusted role with an untrusted subject: annotate nothing
    // else; `chained` is trusted, `plain` has no annotation at all.
    let missing = message(w.engine.token(&object("plain")).await);
    assert!(
        missing.contains("has no eks.amazonaws.com/role-arn annotation")
            && missing.contains("Pod Identity"),
        "{missing}"
    );
    let invalid = message(w.engine.token(&object("bad")).await);
    assert!(
        invalid.contains("invalid eks.amazonaws.com/role-arn annotation: 'foobar'. must match"),
        "{invalid}"
    );
    assert_eq!(
        w.sandbox.token_requests(),
        0,
        "annotations are checked before any token is minted"
    );
    Ok(())
}

#[tokio::test]
async fn region_and_sts_endpoint_are_checked_first() -> TestResult {
    let w = world().await?;
    let no_region = message(
        w.engine
            .token(&Request {
                region: None,
                ..object("app")
            })
            .await,
    );
    assert!(
        no_region.contains("an AWS region is required for authenticating with a service account"),
        "{no_region}"
    );
    let endpoint = Request {
        sts_endpoint: Some("https://something.amazonaws.com".into()),
        ..object("app")
    };
    let bad = message(w.engine.token(&endpoint).await);
    assert!(
        bad.contains("invalid STS endpoint: 'https://something.amazonaws.com'"),
        "{bad}"
    );
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);
    Ok(())
}

#[tokio::test]
async fn a_two_hop_chain_with_external_id() -> TestResult {
    let w = world().await?;
    // From the annotations: app role -> hop -> cross-account (external ID ext-1).
    let keys = keys(w.engine.token(&object("chained")).await?)?;
    assert!(keys.access_key_id.starts_with("ASIA"));
    assert_eq!(w.aws.calls("AssumeRole"), 2);

    // The same chain from the request, with a wrong external ID, is refused by the trust policy.
    let request = Request {
        assume_roles: vec![
            AssumeRole {
                role_arn: HOP_ROLE.into(),
                external_id: None,
            },
            AssumeRole {
                role_arn: CROSS_ROLE.into(),
                external_id: Some("wrong".into()),
            },
        ],
        ..object("app")
    };
    let error = w
        .engine
        .token(&request)
        .await
        .err()
        .ok_or("expected AccessDenied")?;
    assert!(
        error.is_denied() && error.to_string().contains("AccessDenied"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn secret_keys_sign_a_chain_the_stand_in_verifies() -> TestResult {
    let w = world().await?;
    let request = Request {
        identity: Identity::secret("ci-keys"),
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        assume_roles: vec![AssumeRole {
            role_arn: HOP_ROLE.into(),
            external_id: None,
        }],
        ..Request::new(Provider::Aws)
    };
    let keys = keys(w.engine.token(&request).await?)?;
    assert!(keys.access_key_id.starts_with("ASIA"));
    assert_eq!(w.aws.calls("AssumeRole"), 1);
    Ok(())
}

#[tokio::test]
async fn ecr_public_login_through_the_stand_in() -> TestResult {
    let w = world().await?;
    let request = Request {
        identity: Identity::secret("ci-keys"),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Aws)
    };
    let login = registry::login(&w.engine, "public.ecr.aws", &request).await?;
    assert_eq!(login.username, "AWS");
    assert!(w.aws.ecr_public_password_valid(login.password.expose()));
    Ok(())
}

#[tokio::test]
async fn eks_tokens_verify_at_the_stand_in_for_their_cluster_only() -> TestResult {
    let w = world().await?;
    let cluster = ClusterRef {
        cluster: Some("arn:aws:eks:us-east-1:123456789012:cluster/prod".into()),
        address: Some("https://prod.example.eks.amazonaws.com".into()),
        ca_data: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
        ..ClusterRef::default()
    };
    let access = cluster::credentials(&w.engine, &cluster, &object("app")).await?;
    assert_eq!(access.server, "https://prod.example.eks.amazonaws.com");
    let caller = w.aws.verify_eks_token(access.token.expose(), "prod")?;
    assert!(caller.contains("assumed-role/team-a-app/"), "{caller}");
    assert!(
        w.aws
            .verify_eks_token(access.token.expose(), "other")
            .is_err()
    );
    let mut tampered = access.token.expose().to_owned();
    let last = tampered
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    tampered.push(last);
    assert!(w.aws.verify_eks_token(&tampered, "prod").is_err());
    Ok(())
}

#[tokio::test]
async fn an_expired_eks_token_is_refused() -> TestResult {
    let w = world().await?;
    let twenty_minutes_ago = SystemClock.now() - std::time::Duration::from_secs(20 * 60);
    let engine = w
        .engine
        .with_clock(std::sync::Arc::new(ManualClock::new(twenty_minutes_ago)));
    let cluster = ClusterRef {
        cluster: Some("arn:aws:eks:us-east-1:123456789012:cluster/prod".into()),
        address: Some("https://prod.example.eks.amazonaws.com".into()),
        ca_data: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
        ..ClusterRef::default()
    };
    let access = cluster::credentials(&engine, &cluster, &object("app")).await?;
    assert!(
        access.expires_at < SystemClock.now(),
        "the token says it expired"
    );
    let refused = w
        .aws
        .verify_eks_token(access.token.expose(), "prod")
        .err()
        .ok_or("an expired token was accepted")?;
    assert!(
        refused.to_string().to_lowercase().contains("expired"),
        "{refused}"
    );
    Ok(())
}

/// `proxy`'s URL with a user and a password that needs percent-encoding (`p@ss+word`).
fn with_credentials(
    proxy: &ForwardProxy,
    password: &str,
) -> Result<url::Url, Box<dyn std::error::Error>> {
    let mut url = url::Url::parse(&proxy.url())?;
    url.set_username("team-a").map_err(|()| "no user")?;
    url.set_password(Some(password))
        .map_err(|()| "no password")?;
    Ok(url)
}

#[tokio::test]
async fn a_request_proxy_carries_every_aws_call_of_the_request() -> TestResult {
    let w = world().await?;
    let proxy = ForwardProxy::start_with_basic_auth("team-a", "p@ss+word").await?;
    let request = Request {
        proxy: Some(with_credentials(&proxy, "p%40ss%2Bword")?),
        ..object("chained")
    };
    // Object level (AssumeRoleWithWebIdentity, then a two-hop chain), then ECR Public.
    let login = registry::login(&w.engine, "public.ecr.aws", &request).await?;
    assert!(w.aws.ecr_public_password_valid(login.password.expose()));

    let relayed = proxy.relayed();
    let through = |origin: &str| {
        relayed
            .iter()
            .filter(|r| r.method == "POST" && r.target.starts_with(origin) && r.refused.is_none())
            .count()
    };
    assert_eq!(through(&w.aws.sts_url()), 3, "{relayed:?}");
    assert_eq!(through(&w.aws.ecr_public_url()), 1, "{relayed:?}");
    // Cloud calls only: the Kubernetes API (ServiceAccount, TokenRequest) follows its kubeconfig.
    assert_eq!(relayed.len(), 4, "{relayed:?}");
    assert_eq!(w.sandbox.token_requests(), 1);
    assert_eq!(
        (
            w.aws.calls("AssumeRoleWithWebIdentity"),
            w.aws.calls("AssumeRole")
        ),
        (1, 2)
    );
    let shown = format!("{request:?}");
    assert!(
        shown.contains("team-a:redacted@") && !shown.contains("p%40ss"),
        "{shown}"
    );
    Ok(())
}

#[tokio::test]
async fn a_proxy_that_refuses_or_is_down_fails_the_request_without_showing_its_password()
-> TestResult {
    let w = world().await?;
    let proxy = ForwardProxy::start_with_basic_auth("team-a", "right").await?;
    let refused = Request {
        proxy: Some(with_credentials(&proxy, "wrong-pass")?),
        ..object("app")
    };
    let result = w.engine.token(&refused).await;
    let text = message(result);
    assert!(
        !text.contains("wrong-pass") && text.contains("proxy refused") && text.contains("407"),
        "{text}"
    );
    assert_eq!(proxy.relayed().first().and_then(|r| r.refused), Some(407));
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);

    let down = url::Url::parse(&proxy.url())?;
    drop(proxy);
    let unreachable = Request {
        proxy: Some(down),
        ..object("app")
    };
    let result = w.engine.token(&unreachable).await;
    assert!(
        result
            .as_ref()
            .err()
            .is_some_and(kubecred::Error::is_transient),
        "{result:?}"
    );
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);

    let socks = Request {
        proxy: Some(url::Url::parse("socks5://127.0.0.1:1")?),
        ..object("app")
    };
    let text = message(w.engine.token(&socks).await);
    assert!(
        text.contains("socks5://127.0.0.1:1") && text.contains("http://"),
        "{text}"
    );
    Ok(())
}
