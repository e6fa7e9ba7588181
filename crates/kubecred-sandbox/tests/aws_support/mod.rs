//! Helpers shared by the AWS stand-ins' integration tests: a sandbox (the
//! OIDC issuer) with AWS stand-ins trusting it, and a clean-environment
//! runner for the AWS CLI.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use kubecred_sandbox::aws::{AwsConfig, AwsRole, AwsStandIns, AwsUser, PodIdentity, Trust};
use kubecred_sandbox::{Sandbox, SandboxConfig};

pub const ACCOUNT: &str = "123456789012";
/// Assumable with web identity by `team/app` tokens for `sts.amazonaws.com`.
pub const APP_ROLE: &str = "arn:aws:iam::123456789012:role/app";
/// Assumable by [`USER_ARN`] with [`EXTERNAL_ID`] and by sessions of [`APP_ROLE`].
pub const TARGET_ROLE: &str = "arn:aws:iam::123456789012:role/target";
pub const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/node";
pub const POD_ROLE: &str = "arn:aws:iam::123456789012:role/pod";
pub const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci";
pub const USER_KEY: &str = "AKIASANDBOXCI0000001";
/// Holds `/` and `+` on purpose.
pub const USER_SECRET: &str = "sandbox/secret+key/for+ci+tests/00000000";
pub const EXTERNAL_ID: &str = "tenant-42";
pub const POD_TOKEN: &str = "pod-identity-token-abc";
pub const AUDIENCE: &str = "sts.amazonaws.com";

/// A sandbox issuer and the AWS stand-ins trusting it.
pub struct Env {
    pub sandbox: Sandbox,
    pub aws: AwsStandIns,
}

impl Env {
    /// A `team/app` ServiceAccount token for `audiences`, valid `ttl`.
    pub fn token(&self, name: &str, audiences: &[&str], ttl: Duration) -> String {
        let audiences: Vec<String> = audiences.iter().map(|a| a.to_string()).collect();
        self.sandbox.issue_token("team", name, &audiences, ttl)
    }

    /// A valid token of `team/app` for STS.
    pub fn app_token(&self) -> String {
        self.token("app", &[AUDIENCE], Duration::from_secs(3600))
    }

    pub async fn shutdown(self) {
        self.aws.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

/// Starts the sandbox and the AWS stand-ins.
pub async fn start() -> Env {
    start_with(|_| {}).await
}

/// Starts the sandbox and the AWS stand-ins, with `edit` applied to their configuration.
pub async fn start_with(edit: impl FnOnce(&mut AwsConfig)) -> Env {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let verifier = sandbox
        .verifier()
        .await
        .expect("the sandbox's issuer is discoverable");
    let issuer = sandbox.issuer();
    let mut config = AwsConfig {
        account_id: ACCOUNT.into(),
        oidc_providers: vec![verifier],
        roles: roles(&issuer),
        users: vec![AwsUser {
            arn: USER_ARN.into(),
            access_key_id: USER_KEY.into(),
            secret_access_key: USER_SECRET.into(),
        }],
        node_role: Some(NODE_ROLE.into()),
        pod_identity: Some(PodIdentity {
            token: POD_TOKEN.into(),
            role_arn: POD_ROLE.into(),
        }),
        ..AwsConfig::default()
    };
    edit(&mut config);
    let aws = AwsStandIns::start(config)
        .await
        .expect("AWS stand-ins start");
    Env { sandbox, aws }
}

fn roles(issuer: &str) -> Vec<AwsRole> {
    vec![
        AwsRole {
            arn: APP_ROLE.into(),
            trust: vec![Trust::WebIdentity {
                issuer: issuer.into(),
                audience: AUDIENCE.into(),
                subject: Some("system:serviceaccount:team:app".into()),
            }],
        },
        AwsRole {
            arn: TARGET_ROLE.into(),
            trust: vec![
                Trust::Principal {
                    arn: USER_ARN.into(),
                    external_id: Some(EXTERNAL_ID.into()),
                },
                Trust::Principal {
                    arn: APP_ROLE.into(),
                    external_id: None,
                },
            ],
        },
        AwsRole {
            arn: NODE_ROLE.into(),
            trust: vec![],
        },
        AwsRole {
            arn: POD_ROLE.into(),
            trust: vec![],
        },
    ]
}

/// What a child process printed and how it ended.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout as JSON, or a panic showing stderr.
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "command failed: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `program args` with a clean environment: PATH, HOME = `home`,
/// `AWS_EC2_METADATA_DISABLED=true` unless `env` points the metadata
/// endpoint at a stand-in, plus `env`.
pub async fn run(program: &str, args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut command = std::process::Command::new(program);
    command.args(args).env_clear().env("HOME", home);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    if !env
        .iter()
        .any(|(k, _)| *k == "AWS_EC2_METADATA_SERVICE_ENDPOINT")
    {
        command.env("AWS_EC2_METADATA_DISABLED", "true");
    }
    command.envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the blocking task runs")
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The AWS CLI with `args`, `--output json`, against the stand-ins.
pub async fn aws_cli(args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--region", "us-east-1", "--output", "json"]);
    run("aws", &all, env, home).await
}

/// POSTs a Query API form to STS; returns status and body.
pub async fn sts_post(env: &Env, form: &[(&str, &str)]) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(env.aws.sts_url())
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(form_body(form))
        .send()
        .await
        .expect("STS answers");
    let status = response.status().as_u16();
    (status, response.text().await.expect("STS body"))
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The text of the first `<name>` element of `xml`.
pub fn xml_field<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// Temporary keys from AssumeRoleWithWebIdentity for `team/app`.
pub async fn app_session(env: &Env) -> (String, String, String) {
    let token = env.app_token();
    let (status, body) = sts_post(
        env,
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", APP_ROLE),
            ("RoleSessionName", "app-session"),
            ("WebIdentityToken", &token),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let field = |name| {
        xml_field(&body, name)
            .expect("credential field")
            .to_string()
    };
    (
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    )
}

/// The AWS CLI's `sts assume-role` of [`TARGET_ROLE`] by the user (with [`EXTERNAL_ID`]) as
/// session `session_name`: its JSON answer.
pub async fn assume_target_role(env: &Env, home: &Path, session_name: &str) -> serde_json::Value {
    let user = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
    ];
    let sts = env.aws.sts_url();
    let assume = [
        "sts",
        "assume-role",
        "--endpoint-url",
        &sts,
        "--role-arn",
        TARGET_ROLE,
        "--role-session-name",
        session_name,
        "--external-id",
        EXTERNAL_ID,
    ];
    aws_cli(&assume, &user, home).await.json()
}

/// The variables that make the AWS CLI use the session keys of an assume-role answer.
pub fn session_env(answer: &serde_json::Value) -> Vec<(String, String)> {
    let field = |name: &str| {
        answer["Credentials"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    vec![
        ("AWS_ACCESS_KEY_ID".into(), field("AccessKeyId")),
        ("AWS_SECRET_ACCESS_KEY".into(), field("SecretAccessKey")),
        ("AWS_SESSION_TOKEN".into(), field("SessionToken")),
    ]
}
