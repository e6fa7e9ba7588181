//! Checks a published issuer the way AWS, Entra and Google fetch it: `https` only, the system's
//! CA roots (with `SSL_CERT_FILE`), no redirect followed, answers size-bounded and served as
//! JSON, `issuer` compared as a string, `jwks_uri` fetched the same way, and every key the
//! cluster signs with published under the `kid` its tokens carry.
//!
//! Each check ends in a [`Check`] with a stable problem code (`not-https`, `redirect`,
//! `issuer-mismatch`, `missing-key`, ...) and a message saying what to change.

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::keys::{self, Jwk, PublicKeyPem, check_published};
use super::url::{Issuer, shown};
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::timeouts::{self, Timeouts};

/// The largest discovery document or JWKS read (the API server's are a few KB; a JWKS of ten
/// 4096-bit keys is under 10 KB).
const MAX_DOCUMENT: usize = 256 * 1024;

/// How [`verify`] fetches.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Connect, read and overall deadlines.
    pub timeouts: Timeouts,
    /// A proxy for both fetches (else `HTTPS_PROXY`, `NO_PROXY`).
    pub proxy: Option<Url>,
    /// Public keys the cluster signs with (or will): each must be published.
    pub signing_keys: Vec<PublicKeyPem>,
    /// CA certificates (PEM) trusted besides the system's roots (tests; a private CA). A cloud
    /// trusts only public CAs, so an issuer that needs this is not reachable by one.
    pub extra_roots_pem: Option<String>,
}

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed; the message says what to change.
    Fail,
    /// An earlier failure left nothing to check.
    Skipped,
}

/// One check of an issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `issuer-url`, `discovery`, `issuer`, `jwks-uri`, `jwks`, `keys`,
    /// `signing-keys`.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// A stable code of the failure (`not-https`, `unreachable`, `redirect`, `http-status`,
    /// `content-type`, `too-large`, `not-json`, `issuer-mismatch`, `no-jwks-uri`, `no-keys`,
    /// `bad-key`, `missing-key`, `kid-mismatch`, `invalid-issuer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
    /// What was found, or what is wrong and how to fix it.
    pub message: String,
}

impl Check {
    fn pass(name: &'static str, message: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Pass,
            problem: None,
            message: message.into(),
        }
    }

    fn fail(name: &'static str, problem: &'static str, message: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Fail,
            problem: Some(problem),
            message: message.into(),
        }
    }

    fn skipped(name: &'static str, after: &str) -> Check {
        Check {
            name,
            outcome: Outcome::Skipped,
            problem: None,
            message: format!("not checked: {after} failed"),
        }
    }
}

/// Every check of one issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The issuer as given.
    pub issuer: String,
    /// Whether no check failed.
    pub passed: bool,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }
}

/// Fetches and checks the issuer `issuer` (see the module docs). An error only for what is not
/// the issuer's fault: unreadable `signing_keys`, an unusable proxy or CA, the overall deadline.
pub async fn verify(issuer: &str, options: &VerifyOptions) -> Result<Report> {
    let mut signing = Vec::new();
    for pem in &options.signing_keys {
        for jwk in keys::read(pem)? {
            signing.push((pem.source().to_owned(), jwk));
        }
    }
    let client = client(options)?;
    let checks = timeouts::within(
        &options.timeouts,
        "verify issuer",
        run(issuer.to_owned(), client, signing),
    )
    .await?;
    Ok(Report {
        issuer: issuer.to_owned(),
        passed: checks.iter().all(|c| c.outcome != Outcome::Fail),
        checks,
    })
}

fn client(options: &VerifyOptions) -> Result<reqwest::Client> {
    const ACTION: &str = "verify issuer";
    let proxy = Proxy::Request(options.proxy.as_ref());
    let mut builder = http::builder(ACTION, proxy, &options.timeouts)?
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &options.extra_roots_pem {
        let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|_| Error::invalid("the extra CA certificates are not PEM"))?;
        builder = builder.tls_certs_merge(roots);
    }
    http::build(builder, ACTION)
}

async fn run(
    issuer: String,
    client: reqwest::Client,
    signing: Vec<(String, Jwk)>,
) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let later = ["discovery", "issuer", "jwks-uri", "jwks", "keys"];
    let issuer = match Issuer::parse(&issuer) {
        Ok(parsed) => {
            checks.push(Check::pass(
                "issuer-url",
                "https, no user info, query or fragment",
            ));
            parsed
        }
        Err(error) => {
            let problem = match issuer.starts_with("https://") {
                true => "invalid-issuer",
                false => "not-https",
            };
            checks.push(Check::fail("issuer-url", problem, error.to_string()));
            checks.extend(later.iter().map(|n| Check::skipped(n, "issuer-url")));
            return Ok(checks);
        }
    };
    let discovery_url = issuer.discovery_url();
    let discovery = match fetch(
        &client,
        &discovery_url,
        "the discovery document",
        &["application/json"],
    )
    .await
    {
        Ok(document) => {
            checks.push(Check::pass(
                "discovery",
                format!("{discovery_url}: JSON, served as application/json"),
            ));
            document
        }
        Err((problem, message)) => {
            checks.push(Check::fail("discovery", problem, message));
            checks.extend(later[1..].iter().map(|n| Check::skipped(n, "discovery")));
            return Ok(checks);
        }
    };
    checks.push(check_issuer(&issuer, &discovery));
    let jwks_uri = match jwks_uri(&discovery) {
        Ok(uri) => {
            checks.push(Check::pass("jwks-uri", format!("{uri} (https)")));
            uri
        }
        Err(check) => {
            checks.push(check);
            checks.extend(later[3..].iter().map(|n| Check::skipped(n, "jwks-uri")));
            return Ok(checks);
        }
    };
    let types = ["application/json", "application/jwk-set+json"];
    let jwks = match fetch(&client, &jwks_uri, "the JWKS at jwks_uri", &types).await {
        Ok(jwks) => {
            checks.push(Check::pass("jwks", format!("{jwks_uri}: JSON")));
            jwks
        }
        Err((problem, message)) => {
            checks.push(Check::fail("jwks", problem, message));
            checks.push(Check::skipped("keys", "jwks"));
            return Ok(checks);
        }
    };
    let published = match published_keys(&jwks) {
        Ok((check, keys)) => {
            checks.push(check);
            keys
        }
        Err(check) => {
            checks.push(check);
            return Ok(checks);
        }
    };
    if !signing.is_empty() {
        checks.push(check_signing(&signing, &published));
    }
    Ok(checks)
}

/// The document's `issuer` must be the very string the cloud registers (and tokens carry).
fn check_issuer(issuer: &Issuer, discovery: &Value) -> Check {
    match discovery.get("issuer").and_then(Value::as_str) {
        Some(found) if found == issuer.as_str() => Check::pass(
            "issuer",
            format!("the document names '{found}', as expected"),
        ),
        Some(found) => Check::fail(
            "issuer",
            "issuer-mismatch",
            format!(
                "the discovery document names issuer {}, not '{issuer}': clouds compare the two \
                 strings exactly (scheme, host, path, trailing slash), and tokens carry the API \
                 server's --service-account-issuer; make the document's issuer, the flag and the \
                 issuer registered with the cloud the same string",
                shown(found)
            ),
        ),
        None => Check::fail(
            "issuer",
            "issuer-mismatch",
            "the discovery document has no \"issuer\" string; regenerate it (kubecred issuer generate)",
        ),
    }
}

/// The document's `jwks_uri`, which must be `https` (clouds fetch nothing else).
fn jwks_uri(discovery: &Value) -> Result<String, Check> {
    let Some(uri) = discovery.get("jwks_uri").and_then(Value::as_str) else {
        return Err(Check::fail(
            "jwks-uri",
            "no-jwks-uri",
            "the discovery document has no \"jwks_uri\" string; regenerate it (kubecred issuer generate)",
        ));
    };
    if !uri.starts_with("https://") {
        return Err(Check::fail(
            "jwks-uri",
            "not-https",
            format!(
                "jwks_uri {} is not https://: clouds fetch keys only over https; set \
                 --service-account-jwks-uri (or the document's jwks_uri) to an https:// URL",
                shown(uri)
            ),
        ));
    }
    Issuer::parse(uri)
        .map(|_| uri.to_owned())
        .map_err(|e| Check::fail("jwks-uri", "invalid-issuer", format!("jwks_uri: {e}")))
}

/// The JWKS's keys, each usable for verification.
fn published_keys(jwks: &Value) -> Result<(Check, Vec<Jwk>), Check> {
    let entries = jwks.get("keys").and_then(Value::as_array);
    let Some(entries) = entries.filter(|e| !e.is_empty()) else {
        return Err(Check::fail(
            "keys",
            "no-keys",
            "the JWKS has no \"keys\" (or an empty list): no token can be verified; publish the \
             cluster's public keys (kubecred issuer generate)",
        ));
    };
    let mut keys = Vec::new();
    let mut bad = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match check_published(entry) {
            Ok(jwk) => keys.push(jwk),
            Err(why) => {
                let kid = entry.get("kid").and_then(Value::as_str).map(shown);
                bad.push(format!(
                    "key #{index} ({}): {why}",
                    kid.as_deref().unwrap_or("no kid")
                ));
            }
        }
    }
    if !bad.is_empty() {
        return Err(Check::fail(
            "keys",
            "bad-key",
            format!(
                "a cloud cannot use {}; regenerate the JWKS from the public keys (kubecred issuer generate)",
                bad.join("; ")
            ),
        ));
    }
    let listed: Vec<String> = keys
        .iter()
        .map(|k| format!("{} ({})", k.kid, k.alg))
        .collect();
    Ok((Check::pass("keys", listed.join(", ")), keys))
}

/// Every key the cluster signs with must be published under the `kid` its tokens carry.
fn check_signing(signing: &[(String, Jwk)], published: &[Jwk]) -> Check {
    let mut missing = Vec::new();
    let mut renamed = Vec::new();
    for (source, key) in signing {
        if published
            .iter()
            .any(|p| p.kid == key.kid && p.same_key(key))
        {
            continue;
        }
        match published.iter().find(|p| p.same_key(key)) {
            Some(other) => renamed.push(format!(
                "{source}'s key is published as kid {} but the API server's tokens carry kid {}",
                shown(&other.kid),
                key.kid
            )),
            None => missing.push(format!("{} ({source})", key.kid)),
        }
    }
    if !missing.is_empty() {
        return Check::fail(
            "signing-keys",
            "missing-key",
            format!(
                "not published: {}; tokens signed with it are refused by every cloud: publish a \
                 JWKS with every key (kubecred issuer generate --signing-key ... for each) before \
                 the API server signs with it",
                missing.join(", ")
            ),
        );
    }
    if !renamed.is_empty() {
        return Check::fail(
            "signing-keys",
            "kid-mismatch",
            format!(
                "{}; clouds pick the key by kid: regenerate the JWKS (kubecred issuer generate)",
                renamed.join("; ")
            ),
        );
    }
    Check::pass("signing-keys", format!("all {} published", signing.len()))
}

/// GETs `url` as a cloud does; the JSON object, or a problem code and what to change.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    content_types: &[&str],
) -> Result<Value, (&'static str, String)> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(&e, url, what))?;
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "nowhere".to_owned(), shown);
        return Err((
            "redirect",
            format!(
                "{what} {url} answered HTTP {} redirecting to {location}: clouds do not follow \
                 redirects; publish it at exactly this URL (for a bucket, use the endpoint that \
                 answers 200 itself)",
                status.as_u16()
            ),
        ));
    }
    if !status.is_success() {
        let hint = match status.as_u16() {
            404 => "upload it at exactly this path",
            401 | 403 => {
                "make it readable without authentication (a public object or bucket policy)"
            }
            _ => "clouds need a 200 answer",
        };
        return Err((
            "http-status",
            format!("{what} {url} answered HTTP {}: {hint}", status.as_u16()),
        ));
    }
    let media = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if !media.as_deref().is_some_and(|m| content_types.contains(&m)) {
        let served = media.map_or_else(
            || "no content type".to_owned(),
            |m| format!("'{}'", m.escape_default()),
        );
        return Err((
            "content-type",
            format!(
                "{what} {url} is served with {served}; clouds require {}: set the object's \
                 Content-Type when uploading (e.g. aws s3 cp --content-type application/json)",
                content_types.join(" or ")
            ),
        ));
    }
    let too_large = || {
        (
            "too-large",
            format!(
                "{what} {url} is larger than {MAX_DOCUMENT} bytes; it holds only public keys and should be a few KB"
            ),
        )
    };
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_DOCUMENT as u64) {
        return Err(too_large());
    }
    let body = http::bounded_text(response, MAX_DOCUMENT, what)
        .await
        .map_err(|e| {
            // `bounded_text` names the bound in its message; nothing else tells the cases apart.
            match e.to_string().contains("is larger than") {
                true => too_large(),
                false => ("unreachable", format!("reading {what} {url} failed: {e}")),
            }
        })?;
    match serde_json::from_str::<Value>(&body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err((
            "not-json",
            format!("{what} {url} is JSON but not an object"),
        )),
        Err(e) => Err((
            "not-json",
            format!(
                "{what} {url} is not JSON ({:?} error at line {}, column {}): upload the file kubecred issuer generate wrote",
                e.classify(),
                e.line(),
                e.column()
            ),
        )),
    }
}

/// A fetch without an answer: why, in words (reqwest's own message omits the cause).
fn unreachable(error: &reqwest::Error, url: &str, what: &str) -> (&'static str, String) {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !causes.contains(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    let causes = causes.join(": ");
    let hint = if error.is_timeout() {
        "no answer within the connect or read timeout"
    } else if causes.to_ascii_lowercase().contains("certificate") {
        "its TLS certificate is not trusted: clouds need one from a public CA, valid for this host"
    } else {
        "clouds must reach it from the internet (a public DNS name, port open, https)"
    };
    (
        "unreachable",
        format!("cannot fetch {what} {url}: {hint} ({causes})"),
    )
}
