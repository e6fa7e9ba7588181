use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::gcp::source::{Executable, SubjectTokenFormat};

const AUDIENCE: &str = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/flux-pool/providers/k8s-provider";
const IMPERSONATION: &str = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/flux@project-id.iam.gserviceaccount.com:generateAccessToken";

/// The seeds' direct-access configuration (`token_info_url`, a text file source).
fn direct() -> Value {
    json!({
        "universe_domain": "googleapis.com",
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "token_info_url": "https://sts.googleapis.com/v1/introspect",
        "credential_source": {
            "file": "/var/run/service-account/gcp-token",
            "format": { "type": "text" }
        }
    })
}

/// The seeds' impersonating configuration.
fn impersonating() -> Value {
    let mut config = direct();
    config.as_object_mut().map(|o| o.remove("token_info_url"));
    config["service_account_impersonation_url"] = json!(IMPERSONATION);
    config
}

fn parse(config: &Value) -> Result<ExternalAccount> {
    ExternalAccount::parse(&config.to_string(), Endpoints::Google)
}

fn message(config: &Value) -> String {
    parse(config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn with(mut config: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(object) = config.pointer_mut(parent).and_then(Value::as_object_mut) {
        match value {
            Value::Null => object.remove(key),
            value => object.insert(key.to_owned(), value),
        };
    }
    config
}

#[test]
fn the_seeds_configurations() {
    let direct = parse(&direct()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(direct.audience, AUDIENCE);
    assert_eq!(
        direct.subject_token_type,
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(
        direct.token_url.as_str(),
        "https://sts.googleapis.com/v1/token"
    );
    assert_eq!(
        direct.token_info_url.map(|u| u.to_string()).as_deref(),
        Some("https://sts.googleapis.com/v1/introspect")
    );
    assert!(direct.impersonation.is_none());
    match direct.source {
        CredentialSource::File { path, format } => {
            assert_eq!(
                path,
                std::path::Path::new("/var/run/service-account/gcp-token")
            );
            assert_eq!(format, SubjectTokenFormat::Text);
        }
        other => panic!("{other:?}"),
    }
    let impersonating = parse(&impersonating()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        impersonating.impersonation,
        Some(Impersonation {
            url: Url::parse(IMPERSONATION).unwrap_or_else(|e| panic!("{e}")),
            service_account: "flux@project-id.iam.gserviceaccount.com".into(),
            lifetime_seconds: 3600,
        })
    );
}

#[test]
fn url_sources_with_headers_and_a_json_format() {
    let config = with(
        direct(),
        "/credential_source",
        json!({
            "url": "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            "headers": { "Metadata": "True", "Authorization": "Bearer SECRET-HEADER" },
            "format": { "type": "json", "subject_token_field_name": "access_token" }
        }),
    );
    let parsed = parse(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(!format!("{parsed:?}").contains("SECRET-HEADER"));
    let CredentialSource::Url {
        url,
        headers,
        format,
    } = parsed.source
    else {
        panic!("not a URL source")
    };
    assert_eq!(url.query(), Some("api-version=2018-02-01&resource=x"));
    let headers: Vec<_> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.expose()))
        .collect();
    assert_eq!(
        headers,
        [
            ("Authorization", "Bearer SECRET-HEADER"),
            ("Metadata", "True")
        ]
    );
    assert_eq!(
        format,
        SubjectTokenFormat::Json {
            field: "access_token".into()
        }
    );
}

#[test]
fn executable_sources() {
    let config = with(
        direct(),
        "/credential_source",
        json!({
            "executable": {
                "command": "/usr/local/bin/kubecred token --audience x",
                "timeout_millis": 5000,
                "output_file": "/tmp/token.json"
            }
        }),
    );
    let parsed = parse(&config).unwrap_or_else(|e| panic!("{e}"));
    let CredentialSource::Executable(executable) = parsed.source else {
        panic!("not an executable")
    };
    assert_eq!(
        executable.program,
        std::path::Path::new("/usr/local/bin/kubecred")
    );
    assert_eq!(executable.args, ["token", "--audience", "x"]);
    assert_eq!(executable.timeout, Duration::from_millis(5000));
    assert_eq!(
        executable.output_file.as_deref(),
        Some(std::path::Path::new("/tmp/token.json"))
    );
    let default = with(
        direct(),
        "/credential_source",
        json!({ "executable": { "command": "/bin/x" } }),
    );
    let parsed = parse(&default).map(|c| c.source);
    assert!(
        matches!(parsed, Ok(CredentialSource::Executable(Executable { timeout, .. })) if timeout == Duration::from_secs(30))
    );
}

/// Each row breaks one field; the error names it.
#[test]
fn errors_name_the_field() {
    let source = |value: Value| with(direct(), "/credential_source", value);
    for (config, expected) in [
        (
            with(direct(), "/type", json!("service_account")),
            "field 'type': 'service_account' is not 'external_account'",
        ),
        (
            with(direct(), "/audience", Value::Null),
            "missing field `audience`",
        ),
        (
            with(
                direct(),
                "/audience",
                json!(
                    "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x"
                ),
            ),
            "field 'audience': '//iam",
        ),
        (
            with(direct(), "/audience", json!(format!("{AUDIENCE}\n"))),
            "field 'audience'",
        ),
        (
            with(
                direct(),
                "/audience",
                json!(AUDIENCE.replace("//iam.googleapis.com", "//iam.evil.example")),
            ),
            "field 'audience'",
        ),
        (
            with(
                direct(),
                "/subject_token_type",
                json!("urn:ietf:params:aws:token-type:aws4_request"),
            ),
            "field 'subject_token_type': 'urn:ietf:params:aws:token-type:aws4_request' is not supported",
        ),
        (
            with(direct(), "/token_url", Value::Null),
            "missing field `token_url`",
        ),
        (
            with(
                direct(),
                "/token_url",
                json!("https://sts.evil.example/v1/token"),
            ),
            "field 'token_url': 'https://sts.evil.example/v1/token': the host is not one of Google's",
        ),
        (
            with(
                direct(),
                "/token_url",
                json!("http://127.0.0.1:8080/v1/token"),
            ),
            "field 'token_url': 'http://127.0.0.1:8080/v1/token': the scheme is not https",
        ),
        (
            with(
                direct(),
                "/token_info_url",
                json!("https://sts.googleapis.com/v1/token"),
            ),
            "field 'token_info_url'",
        ),
        (
            with(direct(), "/universe_domain", json!("example.com")),
            "field 'universe_domain': only googleapis.com is supported",
        ),
        (
            with(
                impersonating(),
                "/service_account_impersonation_url",
                json!(IMPERSONATION.replace("iamcredentials.googleapis.com", "evil.example")),
            ),
            "field 'service_account_impersonation_url'",
        ),
        (
            with(
                impersonating(),
                "/service_account_impersonation_url",
                json!(IMPERSONATION.replace(":generateAccessToken", ":signJwt")),
            ),
            "the path is not the service's",
        ),
        (
            with(
                impersonating(),
                "/service_account_impersonation",
                json!({"token_lifetime_seconds": 60}),
            ),
            "field 'service_account_impersonation.token_lifetime_seconds': 60 is not within",
        ),
        (
            with(
                impersonating(),
                "/service_account_impersonation",
                json!({"lifetime": 600}),
            ),
            "field 'service_account_impersonation.lifetime': unknown field `lifetime`",
        ),
        (
            with(
                direct(),
                "/service_account_impersonation",
                json!({"token_lifetime_seconds": 600}),
            ),
            "field 'service_account_impersonation': given without service_account_impersonation_url",
        ),
        (
            with(direct(), "/client_secret", json!("SECRET")),
            "field 'client_secret': given without client_id",
        ),
        (
            source(json!({})),
            "field 'credential_source': must name exactly one of file, url or executable",
        ),
        (
            source(json!({"file": "/a", "url": "http://127.0.0.1/x"})),
            "must name exactly one",
        ),
        (
            source(json!({"fiel": "/a"})),
            "field 'credential_source.fiel': unknown field `fiel`",
        ),
        (
            source(json!({"file": ""})),
            "field 'credential_source.file': not a file path",
        ),
        (
            source(json!({"file": "/a", "format": {"type": "xml"}})),
            "field 'credential_source.format.type': 'xml' is not text or json",
        ),
        (
            source(json!({"file": "/a", "format": {"type": "json"}})),
            "field 'credential_source.format.subject_token_field_name': required",
        ),
        (
            source(
                json!({"file": "/a", "format": {"type": "text", "subject_token_field_name": "x"}}),
            ),
            "only for format type json",
        ),
        (
            source(json!({"file": "/a", "format": {"type": "json", "field": "x"}})),
            "field 'credential_source.format.field': unknown field `field`",
        ),
        (
            source(json!({"file": "/a", "headers": {"a": "b"}})),
            "field 'credential_source.headers': given without url",
        ),
        (
            source(json!({"url": "ftp://127.0.0.1/x"})),
            "field 'credential_source.url': 'ftp://127.0.0.1/x': the scheme is not http or https",
        ),
        (
            source(json!({"url": "http://u:p@127.0.0.1/x"})),
            "it has user info",
        ),
        (
            source(json!({"url": "http://127.0.0.1/x", "headers": {"Bad Name": "x"}})),
            "field 'credential_source.headers': 'Bad Name' is not a header name",
        ),
        (
            source(
                json!({"url": "http://127.0.0.1/x", "headers": {"X-Token": "SECRET\r\nHost: evil"}}),
            ),
            "field 'credential_source.headers.X-Token': the value holds a line break",
        ),
        (
            source(json!({"environment_id": "aws1", "region_url": "http://169.254.169.254"})),
            "AWS credential sources are not supported",
        ),
        (
            source(json!({"certificate": {"use_default_certificate_config": true}})),
            "X.509 credential sources are not supported",
        ),
        (
            source(json!({"executable": {"command": "kubecred token"}})),
            "field 'credential_source.executable.command': does not start with an absolute path",
        ),
        (
            source(json!({"executable": {"command": "/bin/x\n--flag"}})),
            "holds a control character",
        ),
        (
            source(json!({"executable": {"command": "/bin/x", "timeout_millis": 200000}})),
            "field 'credential_source.executable.timeout_millis': 200000 is not within",
        ),
        (
            source(json!({"executable": {"command": "/bin/x", "output_file": "out.json"}})),
            "field 'credential_source.executable.output_file': not an absolute path",
        ),
        (
            source(json!({"executable": {"command": "/bin/x", "timeout": 1}})),
            "field 'credential_source.executable.timeout': unknown field `timeout`",
        ),
        (
            source(json!({"executable": {"command": "/bin/x"}, "format": {"type": "text"}})),
            "field 'credential_source.format': does not apply to an executable source",
        ),
    ] {
        let error = message(&config);
        assert!(
            error.starts_with("invalid GCP external account configuration: ")
                && error.contains(expected),
            "{expected}: {error}"
        );
        assert!(!error.contains("SECRET"), "{error}");
    }
}

#[test]
fn stand_in_endpoints_only_with_the_override() {
    let config = with(
        with(
            impersonating(),
            "/token_url",
            json!("http://127.0.0.1:18080/v1/token"),
        ),
        "/service_account_impersonation_url",
        json!(
            "http://127.0.0.1:18081/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
        ),
    );
    assert!(parse(&config).is_err());
    let parsed = ExternalAccount::parse(&config.to_string(), Endpoints::GoogleOrLoopback);
    let parsed = parsed.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.token_url.port(), Some(18080));
    assert_eq!(
        parsed.impersonation.map(|i| i.service_account).as_deref(),
        Some("sa@p.iam.gserviceaccount.com")
    );
}

#[test]
fn unknown_top_level_fields_are_allowed_and_the_client_secret_is_hidden() {
    let config = with(
        with(direct(), "/client_id", json!("client")),
        "/client_secret",
        json!("SECRET-CLIENT"),
    );
    let config = with(config, "/some_future_field", json!({"x": 1}));
    let parsed = parse(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(!format!("{parsed:?}").contains("SECRET-CLIENT"));
    assert_eq!(
        parsed
            .client
            .map(|(id, secret)| (id, secret.expose().to_owned())),
        Some(("client".into(), "SECRET-CLIENT".into()))
    );
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(input in "\\PC{0,400}") {
        let _ = ExternalAccount::parse(&input, Endpoints::GoogleOrLoopback);
    }

    #[test]
    fn parser_never_panics_on_odd_sources(field in "(file|url|executable|format|headers|environment_id)", value in "\\PC{0,64}") {
        let config = with(direct(), "/credential_source", json!({ field: value }));
        let _ = ExternalAccount::parse(&config.to_string(), Endpoints::GoogleOrLoopback);
        let config = with(direct(), "/credential_source", json!({ "executable": { "command": value } }));
        let _ = ExternalAccount::parse(&config.to_string(), Endpoints::GoogleOrLoopback);
    }
}
