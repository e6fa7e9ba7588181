//! `kubecred kubelet-credential-provider`, run as the kubelet runs it: one
//! `CredentialProviderRequest` on stdin, the response on stdout. Pod ServiceAccount tokens come
//! from the sandbox's issuer and are exchanged at the STS stand-in; ECR Public is the stand-in,
//! private ECR is moto; the node identity is the IMDS stand-in. The example
//! `CredentialProviderConfig` files are checked against the fields the kubelet reads.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

mod support;
use support::moto::Moto;
use support::{
    AwsWorld, BoxError, STS_AUDIENCE, TestResult, assert_exit, assert_exit_for, assert_success,
    aws_world, env_plus, env_refs, json, run_with_stdin, stderr,
};

const APP_ROLE: &str = "arn:aws:iam::123456789012:role/team-a-pull";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks-node";
const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
const PUBLIC_IMAGE: &str = "public.ecr.aws/team-a/app:1.0";
const PRIVATE_HOST: &str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const USER_KEY: &str = "AKIAKUBELETEXAMPLE01";
const USER_SECRET: &str = "kubelet-user-secret-example";

/// The sandbox's issuer, trusted by one role for `team-a/app` with audience `sts.amazonaws.com`.
async fn world() -> Result<AwsWorld, BoxError> {
    aws_world()
        .web_identity_role(APP_ROLE, "team-a:app")
        .role(NODE_ROLE)
        .user(
            "arn:aws:iam::123456789012:user/kubelet",
            USER_KEY,
            USER_SECRET,
        )
        .node_role(NODE_ROLE)
        .start()
        .await
}

/// Endpoint overrides for the stand-ins (what the CredentialProviderConfig's env would set).
fn stand_in_env(w: &AwsWorld) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_STS", w.aws.sts_url()),
        ("AWS_ENDPOINT_URL_ECR_PUBLIC", w.aws.ecr_public_url()),
    ]
}

/// A request as the kubelet writes it.
fn request(image: &str, token: Option<&str>, annotations: Value) -> String {
    let mut request = json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": image,
    });
    if let Some(token) = token {
        request["serviceAccountToken"] = token.into();
        request["serviceAccountAnnotations"] = annotations;
    }
    request.to_string()
}

fn role(arn: &str) -> Value {
    json!({ ROLE_ANNOTATION: arn })
}

/// Runs the provider with `stdin`, these variables and arguments, in an isolated environment.
fn provide(
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> std::io::Result<Output> {
    let mut command = support::isolated(support::BIN, home);
    command
        .envs(env.iter().copied())
        .arg("kubelet-credential-provider")
        .args(args);
    run_with_stdin(command, stdin)
}

/// The provider with `args` and nothing in the environment, asked for `image` without a token,
/// in a fresh home.
fn provide_without_token(args: &[&str], image: &str) -> Result<Output, BoxError> {
    let home = tempfile::tempdir()?;
    let stdin = request(image, None, Value::Null);
    Ok(provide(home.path(), &[], args, &stdin)?)
}

/// A pod's request for `image` with a `team-a/app` token carrying the role annotation, answered
/// with the stand-ins' endpoints.
fn provide_for_app(w: &AwsWorld, image: &str, token: &str) -> std::io::Result<Output> {
    let stdin = request(image, Some(token), role(APP_ROLE));
    provide(w.home(), &env_refs(&stand_in_env(w)), &[], &stdin)
}

/// Seconds of a Go duration as kubecred prints it (`11h59m58s`, `0s`).
fn seconds(duration: &str) -> Option<u64> {
    let mut total = 0;
    let mut number = String::new();
    for c in duration.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' => {
                let unit = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total += number.parse::<u64>().ok()? * unit;
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(total)
}

/// Checks the response's envelope and returns the `auth` entry of `host`.
fn auth_entry(response: &Value, host: &str) -> Value {
    assert_eq!(
        response["apiVersion"],
        "credentialprovider.kubelet.k8s.io/v1"
    );
    assert_eq!(response["kind"], "CredentialProviderResponse");
    assert_eq!(response["cacheKeyType"], "Registry");
    let auth = response["auth"].as_object().cloned().unwrap_or_default();
    assert_eq!(auth.len(), 1, "{response}");
    auth.get(host).cloned().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_token_logs_in_to_ecr_public() -> TestResult {
    let w = world().await?;
    let token = w.pod_token("team-a", "app", STS_AUDIENCE);
    let output = provide_for_app(&w, PUBLIC_IMAGE, &token)?;
    assert_success(&output);
    let response = json(&output)?;
    let entry = auth_entry(&response, "public.ecr.aws");
    assert_eq!(entry["username"], "AWS");
    let password = entry["password"].as_str().unwrap_or_default();
    assert!(w.aws.ecr_public_password_valid(password));
    let cached = response["cacheDuration"].as_str().and_then(seconds);
    assert!(
        // 80% of the 12 h ECR password's remaining life: the kubelet re-asks before it ends.
        cached.is_some_and(|s| (12 * 3600 * 8 / 10 - 120..=12 * 3600 * 8 / 10).contains(&s)),
        "{response}"
    );
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 1);
    assert!(!stderr(&output).contains(password) && !stderr(&output).contains(&token));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_token_logs_in_to_private_ecr_in_the_hosts_region() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let w = world().await?;
    let token = w.pod_token("team-a", "app", STS_AUDIENCE);
    let image = format!("{PRIVATE_HOST}/team-a/app@sha256:0123");
    let stdin = request(&image, Some(&token), role(APP_ROLE));
    let sts = w.aws.sts_url();
    let env = [
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("AWS_ENDPOINT_URL_ECR", moto.endpoint.as_str()),
    ];
    // No AWS_REGION: STS and ECR can only get eu-west-1 from the registry host.
    let output = provide(w.home(), &env, &[], &stdin)?;
    assert_success(&output);
    let response = json(&output)?;
    let entry = auth_entry(&response, PRIVATE_HOST);
    assert_eq!(entry["username"], "AWS");
    assert!(entry["password"].as_str().is_some_and(|p| !p.is_empty()));
    // moto's authorization tokens are already expired: the kubelet must not cache them.
    assert_eq!(response["cacheDuration"], "0s");
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_the_role_annotation_is_refused_before_sts() -> TestResult {
    let w = world().await?;
    let token = w.pod_token("team-a", "app", STS_AUDIENCE);
    let env = stand_in_env(&w);
    for annotations in [json!({}), json!({ ROLE_ANNOTATION: "" })] {
        let stdin = request(PUBLIC_IMAGE, Some(&token), annotations);
        let output = provide(w.home(), &env_refs(&env), &[], &stdin)?;
        assert_exit(&output, 1, &[ROLE_ANNOTATION, "team-a/app", PUBLIC_IMAGE]);
        assert!(output.stdout.is_empty());
    }
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_sts_refuses_fail_with_the_reason() -> TestResult {
    let w = world().await?;
    let cases = [
        (
            w.pod_token("team-a", "app", "https://other.example"),
            "team-a/app",
            "InvalidIdentityToken",
        ),
        (
            w.pod_token("team-a", "intruder", STS_AUDIENCE),
            "team-a/intruder",
            "AccessDenied",
        ),
    ];
    for (token, account, code) in cases {
        let output = provide_for_app(&w, PUBLIC_IMAGE, &token)?;
        assert_exit(&output, 1, &[account, code, PUBLIC_IMAGE]);
        let message = stderr(&output);
        assert!(!message.contains(&token), "{message}");
        assert!(output.stdout.is_empty());
    }
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_node_identity_logs_in() -> TestResult {
    let w = world().await?;
    let mut command = w.on_the_node();
    command
        .env("AWS_ENDPOINT_URL_ECR_PUBLIC", w.aws.ecr_public_url())
        .args(["kubelet-credential-provider", "--identity", "node"]);
    let output = run_with_stdin(command, &request(PUBLIC_IMAGE, None, Value::Null))?;
    assert_success(&output);
    let response = json(&output)?;
    let entry = auth_entry(&response, "public.ecr.aws");
    let password = entry["password"].as_str().unwrap_or_default();
    assert!(w.aws.ecr_public_password_valid(password));
    assert_eq!(w.aws.calls("ImdsCredentials"), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_plugin_environment_can_log_in() -> TestResult {
    let w = world().await?;
    let endpoints = stand_in_env(&w);
    let env = env_plus(
        &env_refs(&endpoints),
        &[
            ("AWS_ACCESS_KEY_ID", USER_KEY),
            ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
        ],
    );
    let stdin = request(PUBLIC_IMAGE, None, Value::Null);
    let output = provide(w.home(), &env, &["--identity", "controller"], &stdin)?;
    assert_success(&output);
    let entry = auth_entry(&json(&output)?, "public.ecr.aws");
    let password = entry["password"].as_str().unwrap_or_default();
    assert!(w.aws.ecr_public_password_valid(password));
    assert_eq!(w.aws.calls("ImdsCredentials"), 0);
    Ok(())
}

#[test]
fn without_a_token_or_node_the_error_names_the_identity() -> TestResult {
    // IMDS is disabled in the isolated environment: the node identity cannot be read.
    let output = provide_without_token(&[], PUBLIC_IMAGE)?;
    assert_exit(&output, 1, &["node identity", PUBLIC_IMAGE]);
    // It says what the node level tried: the metadata service, not the whole environment.
    assert_exit(
        &output,
        1,
        &[
            "no AWS credentials found from the instance metadata service (IMDSv2; the node level tries nothing else)",
        ],
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!message.contains("env keys"), "{message}");
    Ok(())
}

#[test]
fn bad_requests_are_refused_with_the_field_named() -> TestResult {
    let home = tempfile::tempdir()?;
    let wrong_version =
        request(PUBLIC_IMAGE, None, Value::Null).replace("k8s.io/v1\"", "k8s.io/v1beta1\"");
    let cases = [
        ("{\"apiVersion\": ", "not valid JSON"),
        ("", "not valid JSON"),
        (
            wrong_version.as_str(),
            "apiVersion is 'credentialprovider.kubelet.k8s.io/v1beta1'",
        ),
        (
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x"}"#,
            "no kind",
        ),
    ];
    for (stdin, expected) in cases {
        let output = provide(home.path(), &[], &[], stdin)?;
        assert_exit_for(stdin, &output, 1, &[expected]);
        assert!(output.stdout.is_empty(), "{stdin}");
    }
    Ok(())
}

#[test]
fn registries_kubecred_does_not_know_are_refused() -> TestResult {
    let output = provide_without_token(&[], "ghcr.io/team/app:1")?;
    assert_exit(&output, 1, &["registry ghcr.io"]);
    // ECR look-alikes (anyone can register them) are no registry kubecred knows either.
    for host in [
        "123456789012.dkr.ecr.us-east-1.amazonaws.comnc.cc",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com:8443",
    ] {
        let output = provide_without_token(&[], &format!("{host}/team/app:1"))?;
        assert_exit(
            &output,
            1,
            &[&format!("registry {host} is not one kubecred knows")],
        );
    }
    let forced = provide_without_token(&["--provider", "nope"], PUBLIC_IMAGE)?;
    assert_exit(&forced, 2, &[]);
    Ok(())
}

// --- the example CredentialProviderConfig files ---

fn examples() -> Result<Vec<(PathBuf, Value)>, BoxError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kubelet");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let value: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path)?)?;
            files.push((path, value));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

const PROVIDER_FIELDS: [&str; 7] = [
    "name",
    "matchImages",
    "defaultCacheDuration",
    "apiVersion",
    "args",
    "env",
    "tokenAttributes",
];
const TOKEN_FIELDS: [&str; 5] = [
    "serviceAccountTokenAudience",
    "requireServiceAccount",
    "requiredServiceAccountAnnotationKeys",
    "optionalServiceAccountAnnotationKeys",
    "cacheType",
];

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The checks the kubelet's config validation makes on one provider entry.
fn check_provider(file: &Path, provider: &Value) {
    let fields = provider.as_object().cloned().unwrap_or_default();
    for key in fields.keys() {
        assert!(
            PROVIDER_FIELDS.contains(&key.as_str()),
            "{file:?}: unknown field {key}"
        );
    }
    assert_eq!(provider["name"], "kubecred", "{file:?}");
    assert!(!strings(&provider["matchImages"]).is_empty(), "{file:?}");
    let cache = provider["defaultCacheDuration"].as_str().and_then(seconds);
    assert!(cache.is_some_and(|s| s > 0), "{file:?}");
    assert_eq!(
        provider["apiVersion"],
        "credentialprovider.kubelet.k8s.io/v1"
    );
    assert_eq!(
        strings(&provider["args"]).first(),
        Some(&"kubelet-credential-provider")
    );
    let Some(token) = provider.get("tokenAttributes") else {
        return;
    };
    for key in token.as_object().cloned().unwrap_or_default().keys() {
        assert!(
            TOKEN_FIELDS.contains(&key.as_str()),
            "{file:?}: unknown field {key}"
        );
    }
    assert!(
        token["serviceAccountTokenAudience"]
            .as_str()
            .is_some_and(|a| !a.is_empty())
    );
    assert!(token["requireServiceAccount"].is_boolean(), "{file:?}");
    assert!(matches!(
        token["cacheType"].as_str(),
        Some("Token" | "ServiceAccount")
    ));
    let required = strings(&token["requiredServiceAccountAnnotationKeys"]);
    let optional = strings(&token["optionalServiceAccountAnnotationKeys"]);
    if !required.is_empty() {
        assert_eq!(token["requireServiceAccount"], true, "{file:?}");
    }
    assert!(
        required.iter().all(|key| !optional.contains(key)),
        "{file:?}"
    );
}

#[test]
fn example_configs_have_the_fields_the_kubelet_expects() -> TestResult {
    let files = examples()?;
    assert!(files.len() >= 4, "{files:?}");
    for (file, config) in &files {
        assert_eq!(config["apiVersion"], "kubelet.config.k8s.io/v1", "{file:?}");
        assert_eq!(config["kind"], "CredentialProviderConfig", "{file:?}");
        let providers = config["providers"].as_array().cloned().unwrap_or_default();
        assert_eq!(providers.len(), 1, "{file:?}");
        for provider in &providers {
            check_provider(file, provider);
        }
    }
    Ok(())
}

/// The kubelet's matchImages rule: same number of host labels, each matching its glob; a
/// pattern's port and path must match the image's.
fn matches_image(pattern: &str, image: &str) -> bool {
    let host = |s: &str| s.split('/').next().unwrap_or_default().to_owned();
    let (pattern, image) = (host(pattern), host(image));
    let (pattern_labels, image_labels): (Vec<&str>, Vec<&str>) =
        (pattern.split('.').collect(), image.split('.').collect());
    pattern_labels.len() == image_labels.len()
        && pattern_labels
            .iter()
            .zip(&image_labels)
            .all(|(p, i)| glob(p, i))
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            text.starts_with(prefix) && (prefix.len()..=text.len()).any(|i| glob(rest, &text[i..]))
        }
    }
}

#[test]
fn the_aws_examples_match_ecr_images_and_run_kubecred() -> TestResult {
    let home = tempfile::tempdir()?;
    for (file, config) in examples()? {
        let provider = &config["providers"][0];
        let patterns = strings(&provider["matchImages"]);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with("aws") {
            for image in [PUBLIC_IMAGE, &format!("{PRIVATE_HOST}/app:1")] {
                assert!(
                    patterns.iter().any(|p| matches_image(p, image)),
                    "{name}: {image}"
                );
            }
            assert!(
                !patterns.iter().any(|p| matches_image(p, "ghcr.io/app")),
                "{name}"
            );
        }
        if name == "aws.yaml" {
            let token = &provider["tokenAttributes"];
            assert_eq!(token["serviceAccountTokenAudience"], "sts.amazonaws.com");
            assert_eq!(
                strings(&token["requiredServiceAccountAnnotationKeys"]),
                [ROLE_ANNOTATION]
            );
        }
        // The kubelet runs `kubecred ARGS...`: the arguments must parse (exit 2 would be a
        // usage error); an empty request is then refused as a bad request.
        let args = strings(&provider["args"]);
        let mut command = support::isolated(support::BIN, home.path());
        command.args(&args);
        let output = run_with_stdin(command, "{}")?;
        assert_exit_for(name, &output, 1, &["no apiVersion"]);
    }
    Ok(())
}
