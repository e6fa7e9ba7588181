//! Deadlines against a silent server (accepts TCP connections, never answers): each layer's own
//! timeouts end its calls (Kubernetes client, AWS SDK, reqwest checks), and the engine's overall
//! deadline ends an operation even when a layer's own timeouts are far longer. Each failure is
//! transient and names the timeout.
#![cfg(feature = "aws")]

use std::time::Duration;

use kubecred::Env;
use kubecred::aws::parse::EcrRegistry;
use kubecred::aws::{Transport, checks, ecr};
use kubecred::{AwsKeys, Engine, Identity, Kubernetes, PolicyConfig, Provider, Request, Secret};
use kubecred::{Error, Timeouts};
use tokio::net::TcpListener;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Accepts connections and holds them, silent, for the life of the test.
async fn silent_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(url)
}

/// Kubernetes access to `url` with these timeouts.
fn kubernetes(url: &str, timeouts: Timeouts) -> Result<Kubernetes, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let config = kube::Config::new(url.parse()?);
    Ok(Kubernetes::from_config(config, timeouts)?)
}

const LONG: Duration = Duration::from_secs(600);
const SHORT: Duration = Duration::from_millis(300);

/// `outcome` is a transient error containing `expected`, reached after `SHORT` and well
/// before ten times it.
#[track_caller]
fn assert_timed_out<T>(outcome: Result<T, Error>, elapsed: Duration, expected: &str) {
    let error = outcome.err().map(|e| (e.is_transient(), e.to_string()));
    let (transient, message) = error.unwrap_or_default();
    assert!(transient, "not a transient error: {message}");
    assert!(message.contains(expected), "no {expected:?} in: {message}");
    assert!(
        elapsed >= SHORT && elapsed < SHORT * 10,
        "{elapsed:?}: {message}"
    );
}

#[tokio::test]
async fn the_overall_deadline_ends_an_operation_whose_layers_would_wait_for_long() -> TestResult {
    let url = silent_server().await?;
    let forgetful = Timeouts {
        connect: LONG,
        read: LONG,
        overall: LONG,
    };
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    };
    let engine = Engine::new(policy.build()?)
        .with_kubernetes(kubernetes(&url, forgetful)?)
        .with_timeouts(Timeouts::with_overall(SHORT));
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Generic)
    };
    let started = tokio::time::Instant::now();
    let outcome = engine.token(&request).await;
    assert_timed_out(
        outcome,
        started.elapsed(),
        // The innermost step that was waiting names itself, with the engine's deadline.
        "get serviceaccounts team-a/app: timed out: no answer within the deadline of 300ms",
    );
    Ok(())
}

#[tokio::test]
async fn the_kubernetes_client_times_out_on_its_own() -> TestResult {
    let url = silent_server().await?;
    // Connect and read time out; the overall deadline is far off: retries are bounded by
    // attempts (three), each by the client's timeouts.
    let timeouts = Timeouts {
        connect: SHORT,
        read: SHORT,
        overall: LONG,
    };
    let kubernetes = kubernetes(&url, timeouts)?;
    let started = tokio::time::Instant::now();
    let outcome = kubernetes.service_account("team-a", "app").await;
    let expected = "get serviceaccounts team-a/app: timed out: the Kubernetes API server did not \
                    answer within the connect or read timeout";
    assert_timed_out(outcome, started.elapsed(), expected);
    Ok(())
}

fn keys() -> AwsKeys {
    AwsKeys {
        access_key_id: "AKIADEADLINEEXAMPLE".into(),
        secret_access_key: Secret::new("deadline-secret-example"),
        session_token: None,
        expires_at: None,
    }
}

fn short_transport() -> Transport<'static> {
    Transport {
        proxy: None,
        timeouts: Timeouts::with_overall(SHORT),
    }
}

#[tokio::test]
async fn aws_sdk_clients_time_out_on_their_own() -> TestResult {
    let url = silent_server().await?;
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_ECR", &url)]);
    let registry = EcrRegistry::Private {
        region: "us-east-1".into(),
    };
    let started = tokio::time::Instant::now();
    let outcome = ecr::login(&registry, &keys(), &env, short_transport()).await;
    assert_timed_out(outcome, started.elapsed(), "timed out");
    Ok(())
}

#[tokio::test]
async fn the_s3_check_times_out_on_its_own() -> TestResult {
    let url = silent_server().await?;
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_S3", &url)]);
    let started = tokio::time::Instant::now();
    let outcome =
        checks::s3_bucket("artifacts", "us-east-1", &keys(), &env, short_transport()).await;
    assert_timed_out(outcome, started.elapsed(), "timed out");
    Ok(())
}
