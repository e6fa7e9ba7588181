//! `kubecred token`: one credential, printed as text or JSON.

use anyhow::Context;
use kubecred::{AwsKeys, Credential, Provider};
use serde_json::json;

use crate::UsageError;
use crate::args::{Output, TokenArgs};
use crate::request::prepare;

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    if matches!(args.output, Output::Env | Output::CredentialProcess) && provider != Provider::Aws {
        let name = if args.output == Output::Env {
            "env"
        } else {
            "credential-process"
        };
        return Err(UsageError(format!(
            "--output {name} prints AWS keys; provider '{provider}' issues tokens"
        ))
        .into());
    }
    if args.output == Output::GoogleExecutable {
        return crate::google_executable::run(&args.identity, provider).await;
    }
    let (engine, request) = prepare(&args.identity, provider).await?;
    let credential = engine
        .token(&request)
        .await
        .context("getting credentials")?;
    println!("{}", render(&credential, args.output)?);
    Ok(())
}

/// The credential as the chosen output format prints it.
pub fn render(credential: &Credential, output: Output) -> anyhow::Result<String> {
    let expires_at = credential.expires_at().map(rfc3339).transpose()?;
    let keys = match credential {
        Credential::AwsKeys(keys) => Some(keys),
        _ => None,
    };
    Ok(match (output, keys) {
        (Output::Text, Some(keys)) => {
            format!("{} {}", keys.access_key_id, keys.secret_access_key.expose())
        }
        (Output::Text, None) => credential
            .bearer_token()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default(),
        (Output::Json, Some(keys)) => json!({
            "kind": credential.kind(),
            "accessKeyId": keys.access_key_id,
            "secretAccessKey": keys.secret_access_key.expose(),
            "sessionToken": keys.session_token.as_ref().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
        (Output::Json, None) => json!({
            "kind": credential.kind(),
            "token": credential.bearer_token().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
        (Output::Env, Some(keys)) => env_exports(keys, expires_at.as_deref()),
        (Output::CredentialProcess, Some(keys)) => credential_process(keys, expires_at.as_deref()),
        (Output::GoogleExecutable, _) => {
            anyhow::bail!("--output google-executable is answered by google_executable::run")
        }
        (_, None) => anyhow::bail!(
            "this output format prints AWS keys, but the credential is a {}",
            credential.kind()
        ),
    })
}

/// `export` lines for a POSIX shell, values single-quoted.
fn env_exports(keys: &AwsKeys, expires_at: Option<&str>) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let mut lines = vec![
        format!("export AWS_ACCESS_KEY_ID={}", quote(&keys.access_key_id)),
        format!(
            "export AWS_SECRET_ACCESS_KEY={}",
            quote(keys.secret_access_key.expose())
        ),
    ];
    match &keys.session_token {
        Some(token) => lines.push(format!(
            "export AWS_SESSION_TOKEN={}",
            quote(token.expose())
        )),
        None => lines.push("unset AWS_SESSION_TOKEN".to_owned()),
    }
    if let Some(expires_at) = expires_at {
        lines.push(format!(
            "export AWS_CREDENTIAL_EXPIRATION={}",
            quote(expires_at)
        ));
    }
    lines.join("\n")
}

/// The `credential_process` JSON (Version 1) of the AWS SDKs.
fn credential_process(keys: &AwsKeys, expires_at: Option<&str>) -> String {
    let mut object = json!({
        "Version": 1,
        "AccessKeyId": keys.access_key_id,
        "SecretAccessKey": keys.secret_access_key.expose(),
    });
    if let Some(token) = &keys.session_token {
        object["SessionToken"] = token.expose().into();
    }
    if let Some(expires_at) = expires_at {
        object["Expiration"] = expires_at.into();
    }
    object.to_string()
}

/// RFC 3339 in whole seconds, UTC.
pub fn rfc3339(time: std::time::SystemTime) -> anyhow::Result<String> {
    let timestamp = jiff::Timestamp::try_from(time).context("expiry out of range")?;
    Ok(timestamp
        .round(jiff::Unit::Second)
        .context("expiry out of range")?
        .to_string())
}
