//! Proxies through the CLI: `--proxy` carries every AWS call of the command; without it the
//! proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY`) apply, to the cloud calls and, as
//! for kubectl, to the Kubernetes API (with the kubeconfig's `proxy-url` first). The sandbox's
//! forward proxy records what it relays; the AWS stand-ins count what reached them.

use kubecred_sandbox::aws::AwsStandIns;
use kubecred_sandbox::proxy::ForwardProxy;

mod support;
use support::{
    SandboxProcess, TestResult, assert_exit, assert_success, aws_world, kubecred, success_json,
};

const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci";
const USER_KEY: &str = "AKIACIUSEREXAMPLE01";
const USER_SECRET: &str = "ci-user-secret-key-example";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/deployer";

async fn stand_ins() -> Result<AwsStandIns, support::BoxError> {
    aws_world()
        .role_for(ROLE_ARN, USER_ARN)
        .user(USER_ARN, USER_KEY, USER_SECRET)
        .start_aws()
        .await
}

/// `kubecred token` for the role, from the user's keys, with `env` and `args` added.
fn assume_role(
    aws: &AwsStandIns,
    home: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::io::Result<std::process::Output> {
    let sts = aws.sts_url();
    let mut all_env = vec![
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    all_env.extend_from_slice(env);
    let mut all_args = vec![
        "token",
        "--provider",
        "aws",
        "--region",
        "us-east-1",
        "--assume-role",
        ROLE_ARN,
        "--output",
        "json",
    ];
    all_args.extend_from_slice(args);
    kubecred(home, &all_env, &all_args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_variables_carry_aws_calls_unless_no_proxy_names_the_host() -> TestResult {
    let aws = stand_ins().await?;
    let proxy = ForwardProxy::start().await?;
    let home = tempfile::tempdir()?;
    let url = proxy.url();

    let output = assume_role(&aws, home.path(), &[("HTTP_PROXY", url.as_str())], &[])?;
    let keys = success_json(&output)?;
    assert!(
        keys["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{keys}"
    );
    let relayed = proxy.relayed();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert!(relayed[0].target.starts_with(&aws.sts_url()) && relayed[0].refused.is_none());
    assert_eq!(aws.calls("AssumeRole"), 1);

    // Lower case works too, and NO_PROXY takes the host out.
    let env = [("http_proxy", url.as_str()), ("NO_PROXY", "127.0.0.1")];
    assert_success(&assume_role(&aws, home.path(), &env, &[])?);
    assert_eq!(proxy.relayed().len(), 1);
    assert_eq!(aws.calls("AssumeRole"), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_flag_carries_aws_calls_with_its_credentials() -> TestResult {
    let aws = stand_ins().await?;
    let proxy = ForwardProxy::start_with_basic_auth("ci", "pa:ss").await?;
    let home = tempfile::tempdir()?;
    let with_user = proxy.url().replacen("http://", "http://ci:pa%3Ass@", 1);

    // The flag wins over NO_PROXY: a request's proxy has no exceptions (but the IMDS).
    let env = [("NO_PROXY", "127.0.0.1")];
    let output = assume_role(&aws, home.path(), &env, &["--proxy", &with_user])?;
    assert_success(&output);
    let relayed = proxy.relayed();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert_eq!(relayed[0].refused, None);

    let wrong = proxy
        .url()
        .replacen("http://", "http://ci:wrong-secret@", 1);
    let refused = assume_role(&aws, home.path(), &[], &["--proxy", &wrong])?;
    assert_exit(&refused, 1, &["proxy refused", "407"]);
    assert!(!support::stderr(&refused).contains("wrong-secret"));
    assert_eq!(aws.calls("AssumeRole"), 1);

    // A proxy that is down: a failure that names neither the password nor anything secret.
    let down = ForwardProxy::start().await?;
    let down_url = down.url().replacen("http://", "http://ci:down-secret@", 1);
    drop(down);
    let unreachable = assume_role(&aws, home.path(), &[], &["--proxy", &down_url])?;
    assert_exit(&unreachable, 1, &["AssumeRole"]);
    assert!(
        !support::stderr(&unreachable).contains("down-secret"),
        "{}",
        support::stderr(&unreachable)
    );

    let socks = assume_role(&aws, home.path(), &[], &["--proxy", "socks5://127.0.0.1:1"])?;
    assert_exit(&socks, 1, &["socks5://127.0.0.1:1", "http://"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_api_calls_follow_https_proxy_and_no_proxy_as_kubectl_does() -> TestResult {
    let home = tempfile::tempdir()?;
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/sandbox.yaml");
    let sandbox = SandboxProcess::start(home.path(), &std::fs::read_to_string(examples)?, 0)?;
    let proxy = ForwardProxy::start().await?;
    let kubeconfig = sandbox.kubeconfig.to_string_lossy().into_owned();
    let url = proxy.url();
    let token = [
        "token",
        "--provider",
        "generic",
        "--namespace",
        "team-a",
        "--service-account",
        "app",
        "--audience",
        "https://example.test",
    ];
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("HTTPS_PROXY", url.as_str()),
    ];
    assert_success(&kubecred(home.path(), &env, &token)?);
    // The API server is HTTPS: the proxy sees a CONNECT to it, never the token.
    let authority = sandbox.url.trim_start_matches("https://");
    let relayed = proxy.relayed();
    assert!(
        relayed
            .iter()
            .all(|r| r.method == "CONNECT" && r.target == authority && r.refused.is_none()),
        "{relayed:?}"
    );
    assert!(!relayed.is_empty());

    let direct = [env[0], env[1], ("NO_PROXY", "127.0.0.1")];
    assert_success(&kubecred(home.path(), &direct, &token)?);
    assert_eq!(proxy.relayed().len(), relayed.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_aws_calls_tunnel_through_the_proxy_and_verify_tls() -> TestResult {
    let aws = stand_ins().await?;
    let sts = aws.start_sts_https().await?;
    let proxy = ForwardProxy::start().await?;
    let home = tempfile::tempdir()?;
    let ca = home.path().join("sts-ca.pem");
    std::fs::write(&ca, sts.ca_pem())?;
    let ca = ca.to_string_lossy().into_owned();
    let (sts_url, proxy_url) = (sts.url(), proxy.url());
    let https = [
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("SSL_CERT_FILE", ca.as_str()),
    ];

    // Direct: the SDK's client trusts the stand-in's CA through the native root store.
    assert_success(&assume_role(&aws, home.path(), &https, &[])?);
    // Through the proxy: a CONNECT tunnel to the endpoint, TLS inside it.
    let tunnelled = [https[0], https[1], ("HTTPS_PROXY", proxy_url.as_str())];
    assert_success(&assume_role(&aws, home.path(), &tunnelled, &[])?);
    let relayed = proxy.relayed();
    let authority = sts_url.trim_start_matches("https://");
    assert!(
        relayed.len() == 1 && relayed[0].method == "CONNECT" && relayed[0].target == authority,
        "{relayed:?}"
    );
    assert_eq!(aws.calls("AssumeRole"), 2);

    // A CA the client does not trust: refused, whatever the proxy.
    let untrusted = home.path().join("other-ca.pem");
    std::fs::write(&untrusted, aws.start_sts_https().await?.ca_pem())?;
    let untrusted = untrusted.to_string_lossy().into_owned();
    let refused = assume_role(
        &aws,
        home.path(),
        &[https[0], ("SSL_CERT_FILE", untrusted.as_str())],
        &[],
    )?;
    assert_exit(&refused, 1, &["AssumeRole", "invalid peer certificate"]);
    assert_eq!(aws.calls("AssumeRole"), 2);
    Ok(())
}
