//! `kubecred kubelet-credential-provider`: the kubelet's image credential provider protocol
//! (`credentialprovider.kubelet.k8s.io/v1`).
//!
//! The kubelet writes one `CredentialProviderRequest` on stdin (`image`, and with KEP-4412
//! `serviceAccountToken` and `serviceAccountAnnotations`) and reads one
//! `CredentialProviderResponse` from stdout; a non-zero exit with a message on stderr is a
//! failure.
//!
//! - With a pod ServiceAccount token, that token is exchanged (object level for the pod: no
//!   TokenRequest, no Kubernetes access) with the annotations the kubelet passed; the namespace
//!   and name come from the token's `sub`.
//! - Without one, the node's identity is used (`--identity node`, the default: IMDSv2 on AWS),
//!   or the environment the kubelet gives the plugin (`--identity controller`).
//!
//! The registry host of the image decides the provider (unless `--provider` forces one) and the
//! provider's options (the ECR region). The response caches by registry, for 80% of the
//! password's remaining life (the library's refresh point).

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow, bail};
use kubecred::cache::refresh_point;
use kubecred::{
    Engine, Identity, KubernetesToken, PolicyConfig, Provider, RegistryCredentials, Request,
    Secret, ServiceAccountInfo, registry,
};
use serde_json::{Map, Value, json};

use crate::UsageError;
use crate::args::{KubeletArgs, KubeletIdentity};

/// The protocol version spoken (request and response).
pub const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";
const REQUEST_KIND: &str = "CredentialProviderRequest";
const RESPONSE_KIND: &str = "CredentialProviderResponse";
/// A request is a few kilobytes; refuse anything absurd instead of buffering it.
const MAX_REQUEST_BYTES: u64 = 1 << 20;

/// What the kubelet asked for.
struct ProviderRequest {
    image: String,
    pod: Option<PodToken>,
}

/// The pod's ServiceAccount token and the annotations the kubelet passed with it.
struct PodToken {
    token: Secret,
    annotations: BTreeMap<String, String>,
}

pub async fn run(args: KubeletArgs) -> anyhow::Result<()> {
    let request = parse_request(&read_stdin()?)?;
    let host = image_registry(&request.image)?;
    let provider = provider(&args, host, &request.image)?;
    let credentials = match request.pod {
        Some(pod) => pod_login(provider, host, &request.image, pod).await?,
        None => node_login(provider, args.identity, host, &request.image).await?,
    };
    let now = SystemTime::now();
    println!("{}", response(host, &credentials, now));
    Ok(())
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_string(&mut text)
        .context("reading the CredentialProviderRequest from standard input")?;
    if text.len() as u64 > MAX_REQUEST_BYTES {
        bail!("the CredentialProviderRequest on standard input is larger than 1 MiB");
    }
    Ok(text)
}

/// Parses and validates a `CredentialProviderRequest`. Errors name the field, never its value
/// (the token must not reach the kubelet's logs).
fn parse_request(text: &str) -> anyhow::Result<ProviderRequest> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("the CredentialProviderRequest is not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        bail!("the CredentialProviderRequest must be a JSON object");
    };
    expect_field(&object, "apiVersion", API_VERSION)?;
    expect_field(&object, "kind", REQUEST_KIND)?;
    let image = string_field(&object, "image")?
        .filter(|image| !image.trim().is_empty())
        .ok_or_else(|| anyhow!("the CredentialProviderRequest has no image"))?;
    let token = string_field(&object, "serviceAccountToken")?.filter(|t| !t.trim().is_empty());
    let pod = match token {
        Some(token) => Some(PodToken {
            token: Secret::new(token),
            annotations: annotations(&object)?,
        }),
        None => None,
    };
    Ok(ProviderRequest {
        image: image.trim().to_owned(),
        pod,
    })
}

fn expect_field(object: &Map<String, Value>, field: &str, expected: &str) -> anyhow::Result<()> {
    match string_field(object, field)? {
        Some(value) if value == expected => Ok(()),
        Some(value) => bail!(
            "the request's {field} is '{}'; this provider speaks {field} '{expected}'",
            value.chars().take(80).collect::<String>()
        ),
        None => bail!("the request has no {field} (expected '{expected}')"),
    }
}

/// A string field; absent and `null` are `None`, any other type is an error.
fn string_field<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> anyhow::Result<Option<&'a str>> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => bail!("the request's {field} must be a string"),
    }
}

fn annotations(object: &Map<String, Value>) -> anyhow::Result<BTreeMap<String, String>> {
    let field = "serviceAccountAnnotations";
    let entries = match object.get(field) {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => bail!("the request's {field} must be an object of strings"),
    };
    entries
        .iter()
        .map(|(key, value)| match value {
            Value::String(value) => Ok((key.clone(), value.clone())),
            _ => Err(anyhow!("the request's {field}['{key}'] must be a string")),
        })
        .collect()
}

/// The registry host of an image reference, as container runtimes resolve it: the first path
/// component when it looks like a host (contains `.` or `:`, or is `localhost`), else Docker Hub.
/// Tags and digests never reach the host.
pub fn image_registry(image: &str) -> anyhow::Result<&str> {
    let name = image.split('@').next().unwrap_or(image);
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!(
            "image '{}' is not an image reference",
            image.escape_default()
        );
    }
    Ok(match name.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    })
}

fn provider(args: &KubeletArgs, host: &str, image: &str) -> anyhow::Result<Provider> {
    match &args.provider {
        Some(name) => Ok(name
            .parse()
            .map_err(|e: kubecred::Error| UsageError(e.to_string()))?),
        None => registry::provider_for_host(host).ok_or_else(|| {
            anyhow!(
                "image {image}: registry {host} is not one kubecred knows ({}); \
                 check the CredentialProviderConfig's matchImages, or pass --provider",
                crate::help::registries()
            )
        }),
    }
}

/// Logs in with the pod's ServiceAccount token (object level for the pod).
async fn pod_login(
    provider: Provider,
    host: &str,
    image: &str,
    pod: PodToken,
) -> anyhow::Result<RegistryCredentials> {
    let token = KubernetesToken::from_jwt(pod.token.expose())
        .context("the request's serviceAccountToken is not a ServiceAccount token")?;
    let (namespace, name) = token
        .service_account()
        .context("the request's serviceAccountToken names no ServiceAccount")?;
    let account = ServiceAccountInfo {
        namespace,
        name,
        annotations: pod.annotations,
    };
    let who = format!("service account {}/{}", account.namespace, account.name);
    let result = match require_annotations(provider, &account) {
        Err(error) => Err(error.context(who)),
        Ok(()) => exchange_and_login(provider, host, &account, token).await,
    };
    result.with_context(|| format!("image {image}"))
}

fn require_annotations(provider: Provider, account: &ServiceAccountInfo) -> anyhow::Result<()> {
    let missing: Vec<&str> = kubecred::cloud::required_annotations(provider)
        .iter()
        .copied()
        .filter(|key| {
            account
                .annotations
                .get(*key)
                .is_none_or(|v| v.trim().is_empty())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "the kubelet passed no {} annotation: annotate the ServiceAccount, and list the key in \
         tokenAttributes.requiredServiceAccountAnnotationKeys of the CredentialProviderConfig",
        missing.join(", ")
    )
}

/// Registry login with the keys the pod's token is exchanged for.
async fn exchange_and_login(
    provider: Provider,
    host: &str,
    account: &ServiceAccountInfo,
    token: KubernetesToken,
) -> anyhow::Result<RegistryCredentials> {
    let request = Request {
        identity: Identity::ServiceAccount(account.name.clone()),
        namespace: Some(account.namespace.clone()),
        ..Request::new(provider)
    };
    registry::login_with_presented_token(&engine()?, host, &request, account, token)
        .await
        .with_context(|| {
            format!(
                "service account {}/{}: log in to {host}",
                account.namespace, account.name
            )
        })
}

/// Logs in with the node's (or the plugin environment's) identity.
async fn node_login(
    provider: Provider,
    identity: KubeletIdentity,
    host: &str,
    image: &str,
) -> anyhow::Result<RegistryCredentials> {
    let (identity, name) = match identity {
        KubeletIdentity::Node => (Identity::Node, "node"),
        KubeletIdentity::Controller => (Identity::Controller, "controller"),
    };
    let request = Request {
        identity,
        ..Request::new(provider)
    };
    registry::login(&engine()?, host, &request)
        .await
        .with_context(|| format!("image {image}: {name} identity (no pod ServiceAccount token)"))
}

/// An engine without Kubernetes access: the kubelet hands over everything needed.
fn engine() -> anyhow::Result<Engine> {
    Ok(Engine::new(PolicyConfig::default().build()?).with_timeouts(crate::timeouts()))
}

/// The `CredentialProviderResponse` for `host`, cached by the kubelet until the library's
/// refresh point (80% of the password's remaining life): the response reaches the kubelet a
/// little later than it was made, and a pull at the very end of the life would fail. `0s` (not
/// cached) when no life is left.
fn response(host: &str, credentials: &RegistryCredentials, now: SystemTime) -> Value {
    let cache_for = refresh_point(now, credentials.expires_at, Duration::MAX)
        .and_then(|until| until.duration_since(now).ok())
        .unwrap_or(Duration::ZERO);
    json!({
        "apiVersion": API_VERSION,
        "kind": RESPONSE_KIND,
        "cacheKeyType": "Registry",
        "cacheDuration": go_duration(cache_for),
        "auth": {
            host: {
                "username": credentials.username,
                "password": credentials.password.expose(),
            },
        },
    })
}

/// A duration as Go's `time.Duration.String` writes whole seconds (`11h59m30s`, `1m0s`, `0s`).
fn go_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Result<ProviderRequest, String> {
        parse_request(body).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn durations_print_as_go_does() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m0s"),
            (3600, "1h0m0s"),
            (43_170, "11h59m30s"),
            (100 * 3600 + 61, "100h1m1s"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(go_duration(Duration::from_secs(seconds)), expected);
        }
        assert_eq!(go_duration(Duration::from_millis(1999)), "1s");
    }

    #[test]
    fn registries_come_from_image_references() -> anyhow::Result<()> {
        let cases = [
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1.0",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            ("public.ecr.aws/team/app@sha256:abcd", "public.ecr.aws"),
            ("localhost/app", "localhost"),
            ("registry.test:5000/app:tag", "registry.test:5000"),
            ("ubuntu:22.04", "docker.io"),
            ("library/ubuntu", "docker.io"),
            ("ubuntu@sha256:abcd", "docker.io"),
        ];
        for (image, host) in cases {
            assert_eq!(image_registry(image)?, host, "{image}");
        }
        assert!(image_registry("").is_err());
        assert!(image_registry("bad image/x").is_err());
        Ok(())
    }

    #[test]
    fn requests_are_validated_field_by_field() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[]", "must be a JSON object"),
            (
                r#"{"kind":"CredentialProviderRequest","image":"x"}"#,
                "no apiVersion",
            ),
            (
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","kind":"CredentialProviderRequest","image":"x"}"#,
                "apiVersion is 'credentialprovider.kubelet.k8s.io/v1beta1'",
            ),
            (
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"Other","image":"x"}"#,
                "kind is 'Other'",
            ),
            (
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest"}"#,
                "no image",
            ),
            (
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"x","serviceAccountToken":7}"#,
                "serviceAccountToken must be a string",
            ),
            (
                r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"x","serviceAccountToken":"t","serviceAccountAnnotations":{"a":1}}"#,
                "serviceAccountAnnotations['a'] must be a string",
            ),
        ];
        for (body, expected) in cases {
            let error = request(body).err().unwrap_or_default();
            assert!(error.contains(expected), "{body}: {error}");
        }
    }

    #[test]
    fn type_errors_never_echo_the_token() {
        let body = r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":"x","serviceAccountToken":"t","serviceAccountAnnotations":"eyJs3cr3t"}"#;
        let error = request(body).err().unwrap_or_default();
        assert!(
            error.contains("serviceAccountAnnotations must be an object"),
            "{error}"
        );
        assert!(!error.contains("s3cr3t"), "{error}");
    }

    #[test]
    fn an_empty_token_means_no_pod_identity() -> Result<(), String> {
        let body = r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":" public.ecr.aws/a ","serviceAccountToken":""}"#;
        let parsed = request(body)?;
        assert_eq!(parsed.image, "public.ecr.aws/a");
        assert!(parsed.pod.is_none());
        Ok(())
    }

    #[test]
    fn responses_cache_by_registry_until_the_refresh_point() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let credentials = |expires_at| RegistryCredentials {
            username: "AWS".into(),
            password: Secret::new("pw"),
            expires_at,
        };
        let fresh = response(
            "public.ecr.aws",
            &credentials(now + Duration::from_secs(43_170)),
            now,
        );
        assert_eq!(fresh["apiVersion"], API_VERSION);
        assert_eq!(fresh["kind"], "CredentialProviderResponse");
        assert_eq!(fresh["cacheKeyType"], "Registry");
        // 80% of 11h59m30s.
        assert_eq!(fresh["cacheDuration"], "9h35m36s");
        assert_eq!(fresh["auth"]["public.ecr.aws"]["username"], "AWS");
        assert_eq!(fresh["auth"]["public.ecr.aws"]["password"], "pw");
        let expired = response("h", &credentials(now - Duration::from_secs(5)), now);
        assert_eq!(expired["cacheDuration"], "0s");
    }

    #[test]
    fn missing_annotations_are_named() {
        let account = ServiceAccountInfo {
            namespace: "team-a".into(),
            name: "app".into(),
            annotations: BTreeMap::new(),
        };
        let error = require_annotations(Provider::Aws, &account)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("eks.amazonaws.com/role-arn"), "{error}");
        assert!(require_annotations(Provider::Generic, &account).is_ok());
    }

    proptest::proptest! {
        /// Any text is a request or an error; an error never shows the token, whatever else is
        /// wrong with the request around it.
        #[test]
        fn errors_never_show_the_token(
            token in "[A-Za-z0-9._~+/=-]{12,64}",
            api_version in proptest::sample::select(vec![json!(API_VERSION), json!("v1"), json!(7), Value::Null]),
            kind in proptest::sample::select(vec![json!("CredentialProviderRequest"), json!("Other"), json!([])]),
            image in proptest::sample::select(vec![json!("public.ecr.aws/a/b:1"), json!(""), json!({}), Value::Null]),
            annotations in proptest::sample::select(vec![json!({"eks.amazonaws.com/role-arn": "arn"}), json!({"k": 1}), json!("x"), Value::Null]),
        ) {
            let request = json!({
                "apiVersion": api_version,
                "kind": kind,
                "image": image,
                "serviceAccountToken": token,
                "serviceAccountAnnotations": annotations,
            });
            match parse_request(&request.to_string()) {
                Ok(parsed) => proptest::prop_assert!(parsed.pod.is_some_and(|pod| pod.token.expose() == token)),
                Err(error) => {
                    let message = format!("{error:#}");
                    proptest::prop_assert!(!message.contains(&token), "{}", message);
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse_request(&text);
            if let Ok(host) = image_registry(&text) {
                proptest::prop_assert!(text.contains(host) || host == "docker.io" || host == "index.docker.io");
            }
        }
    }
}
