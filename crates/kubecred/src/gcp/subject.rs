//! The subject token of an `external_account` configuration, from its credential source: a
//! file, a URL (GET with the configured headers) or an executable (only with
//! `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`, run with its timeout, answering with Google's
//! executable-response JSON), in text or in a JSON field. Errors name the source and the step,
//! never the token.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

use super::external_account::ExternalAccount;
use super::source::{ALLOW_EXECUTABLES_VAR, CredentialSource, Executable, SubjectTokenFormat};
use super::wire;
use crate::error::{Error, Result};
use crate::fs::read_bounded;
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;
use crate::{Env, Secret};

/// The subject token of `account`'s source.
pub(crate) async fn subject_token(
    account: &ExternalAccount,
    env: &Env,
    proxy: Option<&Url>,
    timeouts: &Timeouts,
) -> Result<Secret> {
    match &account.source {
        CredentialSource::File { path, format } => {
            let text = read_bounded(path).await?;
            formatted(&text, format)
                .map_err(|e| e.within(format_args!("subject token file {}", path.display())))
        }
        CredentialSource::Url {
            url,
            headers,
            format,
        } => {
            let action = "fetch the subject token from credential_source.url";
            let client = http::client(action, Proxy::Request(proxy), timeouts)?;
            let mut request = client.get(url.clone());
            for (name, value) in headers {
                request = request.header(name, value.expose());
            }
            let text = wire::text(request, action).await?;
            formatted(&text, format).map_err(|e| e.within(format_args!("subject token URL {url}")))
        }
        CredentialSource::Executable(executable) => {
            executable_token(account, executable, env).await
        }
    }
}

/// The token in `text`, as `format` says; errors show no value.
fn formatted(text: &str, format: &SubjectTokenFormat) -> Result<Secret> {
    let token = match format {
        SubjectTokenFormat::Text => text.trim().to_owned(),
        SubjectTokenFormat::Json { field } => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|_| Error::invalid("the content is not JSON (format type json)"))?;
            let token = value.get(field).and_then(|v| v.as_str());
            token
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "no string field '{}' (subject_token_field_name)",
                        field.escape_default()
                    ))
                })?
                .trim()
                .to_owned()
        }
    };
    match token.is_empty() {
        true => Err(Error::invalid("the subject token is empty")),
        false => Ok(Secret::new(token)),
    }
}

/// Google's executable response (version 1).
#[derive(Deserialize)]
struct Response {
    version: u32,
    success: bool,
    token_type: Option<String>,
    id_token: Option<String>,
    saml_response: Option<String>,
    expiration_time: Option<u64>,
    code: Option<String>,
    message: Option<String>,
}

const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";

async fn executable_token(
    account: &ExternalAccount,
    executable: &Executable,
    env: &Env,
) -> Result<Secret> {
    let program = executable.program.display();
    let context = format!("credential_source.executable {program}");
    if env.var(ALLOW_EXECUTABLES_VAR).as_deref() != Some("1") {
        return Err(Error::not_configured(format!(
            "{context}: executables may run only when {ALLOW_EXECUTABLES_VAR}=1 is set, \
             as Google's libraries require"
        )));
    }
    if let Some(token) = cached_output(account, executable, env).await {
        return Ok(token);
    }
    let stdout = run(account, executable)
        .await
        .map_err(|e| e.within(&context))?;
    response_token(&stdout, account, env.now()).map_err(|e| e.within(&context))
}

/// The unexpired answer the executable left in its `output_file`, if any (one without an
/// `expiration_time` is never reused, as Google's libraries require it there).
async fn cached_output(
    account: &ExternalAccount,
    executable: &Executable,
    env: &Env,
) -> Option<Secret> {
    let text = read_bounded(executable.output_file.as_deref()?)
        .await
        .ok()?;
    let expires = serde_json::from_str::<Response>(&text)
        .ok()?
        .expiration_time;
    expires?;
    response_token(&text, account, env.now()).ok()
}

async fn run(account: &ExternalAccount, executable: &Executable) -> Result<String> {
    let mut command = tokio::process::Command::new(&executable.program);
    command
        .args(&executable.args)
        .env("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", &account.audience)
        .env(
            "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
            &account.subject_token_type,
        )
        .env("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(impersonation) = &account.impersonation {
        command.env(
            "GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL",
            &impersonation.service_account,
        );
    }
    if let Some(file) = &executable.output_file {
        command.env("GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE", file);
    }
    let output = tokio::time::timeout(executable.timeout, command.output())
        .await
        .map_err(|_| Error::transient(format!("did not finish within {:?}", executable.timeout)))?
        .map_err(|e| Error::invalid(format!("cannot be started ({})", e.kind())))?;
    if !output.status.success() {
        return Err(Error::upstream(format!("exited with {}", output.status)));
    }
    String::from_utf8(output.stdout).map_err(|_| Error::upstream("printed no UTF-8 response"))
}

/// The token of an executable's response, checked against `account` and `now`.
fn response_token(text: &str, account: &ExternalAccount, now: SystemTime) -> Result<Secret> {
    let response: Response = serde_json::from_str(text)
        .map_err(|_| Error::upstream("the response is not Google's executable-response JSON"))?;
    if response.version != 1 {
        return Err(Error::upstream(format!(
            "response version {} is not 1",
            response.version
        )));
    }
    if !response.success {
        let shown = |v: Option<String>| {
            v.unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
                .escape_debug()
                .to_string()
        };
        return Err(Error::denied(format!(
            "the executable failed: {}: {}",
            shown(response.code),
            shown(response.message)
        )));
    }
    if response.token_type.as_deref() != Some(account.subject_token_type.as_str()) {
        return Err(Error::upstream(
            "the response's token_type is not the configuration's subject_token_type",
        ));
    }
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if response.expiration_time.is_some_and(|at| at <= seconds) {
        return Err(Error::upstream(
            "the response's token has expired (expiration_time)",
        ));
    }
    let token = match account.subject_token_type.as_str() {
        SAML2 => response.saml_response,
        _ => response.id_token,
    };
    match token.filter(|t| !t.is_empty()) {
        Some(token) => Ok(Secret::new(token)),
        None => Err(Error::upstream(
            "the response holds no id_token or saml_response",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::fs::MAX_FILE_LEN;
    use crate::gcp::urls::Endpoints;

    fn account() -> ExternalAccount {
        let json = r#"{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{"executable":{"command":"/bin/true"}}}"#;
        ExternalAccount::parse(json, Endpoints::Google).unwrap_or_else(|e| panic!("{e}"))
    }

    fn shown(text: &str, at: u64) -> String {
        let now = UNIX_EPOCH + std::time::Duration::from_secs(at);
        match response_token(text, &account(), now) {
            Ok(token) => format!("token {}", token.expose()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn executable_responses_are_googles() {
        let ok = r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":"eyJ.sub","expiration_time":2000}"#;
        assert_eq!(shown(ok, 1000), "token eyJ.sub");
        assert_eq!(
            shown(ok, 2000),
            "the response's token has expired (expiration_time)"
        );
        let failed =
            r#"{"version":1,"success":false,"code":"401","message":"Caller not authorized."}"#;
        assert_eq!(
            shown(failed, 0),
            "the executable failed: 401: Caller not authorized."
        );
        let saml = r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:saml2","saml_response":"x"}"#;
        assert!(shown(saml, 0).contains("token_type is not"));
        assert_eq!(
            shown(r#"{"version":2,"success":true}"#, 0),
            "response version 2 is not 1"
        );
        let leaky = r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt","id_token":5}"#;
        assert!(!shown(leaky, 0).contains('5'));
        let empty =
            r#"{"version":1,"success":true,"token_type":"urn:ietf:params:oauth:token-type:jwt"}"#;
        assert_eq!(
            shown(empty, 0),
            "the response holds no id_token or saml_response"
        );
    }

    #[tokio::test]
    async fn credential_files_are_regular_and_bounded() {
        let shown = |r: Result<String>| r.unwrap_or_else(|e| e.to_string());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let big = dir.path().join("big.json");
        std::fs::write(&big, " ".repeat(MAX_FILE_LEN + 1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(shown(read_bounded(&big).await).ends_with("big.json: larger than 65536 bytes"));
        assert_eq!(
            shown(read_bounded(Path::new("/dev/zero")).await),
            "/dev/zero: not a regular file"
        );
        assert!(shown(read_bounded(dir.path()).await).ends_with(": not a regular file"));
        let missing = read_bounded(&dir.path().join("none")).await;
        assert!(
            missing.as_ref().is_err_and(crate::Error::is_not_found),
            "{missing:?}"
        );
    }

    #[test]
    fn formats_are_text_or_a_json_field() {
        let field = SubjectTokenFormat::Json {
            field: "access_token".into(),
        };
        let token = |r: Result<Secret>| {
            r.map(|s| s.expose().to_owned())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(token(formatted(" abc\n", &SubjectTokenFormat::Text)), "abc");
        assert_eq!(token(formatted(r#"{"access_token":"abc"}"#, &field)), "abc");
        assert_eq!(
            token(formatted(r#"{"other":"abc"}"#, &field)),
            "no string field 'access_token' (subject_token_field_name)"
        );
        assert_eq!(
            token(formatted("abc", &field)),
            "the content is not JSON (format type json)"
        );
        assert_eq!(
            token(formatted("\n", &SubjectTokenFormat::Text)),
            "the subject token is empty"
        );
    }
}
