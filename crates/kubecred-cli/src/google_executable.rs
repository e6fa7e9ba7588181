//! `kubecred token --output google-executable`: kubecred as the executable of an
//! `external_account` credential configuration (`credential_source.executable`), so that any
//! Google client library, in any language, federates with a ServiceAccount token kubecred mints,
//! as `--output credential-process` does for the AWS SDKs.
//!
//! Google's executable-source contract: the libraries run the command (only when
//! `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`) with `GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE` and, if
//! the configuration names one, `GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE` set; the command prints
//! `{"version": 1, "success": true, "token_type": "urn:ietf:params:oauth:token-type:jwt",
//! "id_token": ..., "expiration_time": <unix seconds>}` and exits 0, or prints
//! `{"version": 1, "success": false, "code": ..., "message": ...}` and exits non-zero. With an
//! output file the same answer is also written there (through the one safe writer), where the
//! libraries read it back until it expires.
//!
//! The token is the generic provider's (a Kubernetes ServiceAccount token); its audience is
//! `--audience`, else the configuration's audience as the library passes it.

use std::time::UNIX_EPOCH;

use anyhow::Context;
use kubecred::{KubernetesToken, Provider};
use serde_json::json;

use crate::UsageError;
use crate::args::IdentityArgs;
use crate::request::prepare;

const AUDIENCE_VARIABLE: &str = "GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE";
const OUTPUT_FILE_VARIABLE: &str = "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE";
const TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Prints (and, if asked, writes) the executable's answer for the identity the flags name.
pub async fn run(identity: &IdentityArgs, provider: Provider) -> anyhow::Result<()> {
    if provider != Provider::Generic {
        return Err(UsageError(format!(
            "--output google-executable prints a Kubernetes ServiceAccount token for Google's \
             token exchange: use --provider generic, not '{provider}'"
        ))
        .into());
    }
    match token(identity).await {
        Ok(token) => answer(&success(&token)?),
        Err(error) => {
            // Google's libraries read the reason from standard output; people, from stderr.
            println!("{}", failure(&error));
            Err(error)
        }
    }
}

async fn token(identity: &IdentityArgs) -> anyhow::Result<KubernetesToken> {
    let mut identity = identity.clone();
    if identity.audiences.is_empty() {
        identity
            .audiences
            .extend(std::env::var(AUDIENCE_VARIABLE).ok());
    }
    let (engine, request) = prepare(&identity, Provider::Generic).await?;
    engine
        .kubernetes_token(&request)
        .await
        .context("getting the ServiceAccount token")
}

/// Prints `text`, and writes it to the output file the library named, if any.
fn answer(text: &str) -> anyhow::Result<()> {
    println!("{text}");
    if let Some(path) = std::env::var_os(OUTPUT_FILE_VARIABLE).filter(|p| !p.is_empty()) {
        let path = std::path::PathBuf::from(path);
        kubecred::fs::write_private(&path, text.as_bytes())
            .with_context(|| format!("writing {OUTPUT_FILE_VARIABLE} {}", path.display()))?;
    }
    Ok(())
}

/// The success answer.
fn success(token: &KubernetesToken) -> anyhow::Result<String> {
    let expires = token
        .expires_at
        .duration_since(UNIX_EPOCH)
        .context("the token expires before 1970")?
        .as_secs();
    Ok(json!({
        "version": 1,
        "success": true,
        "token_type": TOKEN_TYPE,
        "id_token": token.token.expose(),
        "expiration_time": expires,
    })
    .to_string())
}

/// The failure answer: `code` names the kind of failure, `message` the whole chain.
fn failure(error: &anyhow::Error) -> String {
    let code = match error.downcast_ref::<kubecred::Error>() {
        Some(e) if e.is_transient() => "UNAVAILABLE",
        Some(e) if e.is_denied() || e.is_refused() => "PERMISSION_DENIED",
        Some(e) if e.is_not_found() => "NOT_FOUND",
        _ if error.downcast_ref::<UsageError>().is_some() => "INVALID_ARGUMENT",
        _ => "FAILED",
    };
    json!({"version": 1, "success": false, "code": code, "message": format!("{error:#}")})
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use kubecred::Secret;

    use super::*;

    #[test]
    fn answers_follow_googles_contract() -> anyhow::Result<()> {
        let token = KubernetesToken {
            token: Secret::new("header.payload.signature"),
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_620_433_341),
        };
        let ok: serde_json::Value = serde_json::from_str(&success(&token)?)?;
        assert_eq!(
            ok,
            json!({"version": 1, "success": true, "token_type": TOKEN_TYPE,
                   "id_token": "header.payload.signature", "expiration_time": 1_620_433_341u64})
        );
        let denied = anyhow::Error::new(UsageError("bad flag".into()));
        let failed: serde_json::Value = serde_json::from_str(&failure(&denied))?;
        assert_eq!(failed["success"], false);
        assert_eq!(failed["code"], "INVALID_ARGUMENT");
        assert_eq!(failed["message"], "bad flag");
        Ok(())
    }
}
