//! What an EKS authenticator does with a `k8s-aws-v1.` bearer token: decode
//! the presigned STS `GetCallerIdentity` URL inside it, check that it is for
//! this STS, this cluster and at most 15 minutes long, and verify its
//! signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::auth::{self, Expect};
use super::error::AwsError;
use super::sigv4::RequestView;
use super::state::AwsState;
use super::sts;

/// The token prefix.
const PREFIX: &str = "k8s-aws-v1.";
/// The header naming the cluster, signed into the URL.
const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// The longest validity an EKS token may claim.
const MAX_EXPIRES: i64 = 900;

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidToken", 401, message)
}

/// Verifies `token` for `cluster_name` at `now`; returns the caller's ARN.
pub(crate) fn verify(
    state: &AwsState,
    token: &str,
    cluster_name: &str,
    now: i64,
) -> Result<String, AwsError> {
    let encoded = token
        .strip_prefix(PREFIX)
        .ok_or_else(|| invalid(format!("token is missing the expected \"{PREFIX}\" prefix")))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| invalid("input token was not properly formatted: not base64url"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| invalid("input token was not properly formatted: not UTF-8"))?;
    let url = url::Url::parse(&text)
        .map_err(|_| invalid("input token was not properly formatted: not a URL"))?;
    let authority = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => String::new(),
    };
    if authority != state.sts_authority || url.path() != "/" {
        return Err(invalid(format!(
            "input token was not properly formatted: unexpected hostname or path '{authority}{}'",
            url.path()
        )));
    }
    check_query(&url)?;
    let request = RequestView {
        method: "GET",
        path: url.path(),
        query: url.query().unwrap_or(""),
        headers: vec![
            ("host".into(), authority.clone()),
            (CLUSTER_HEADER.into(), cluster_name.into()),
        ],
        body: b"",
    };
    let expect = Expect {
        service: sts::SERVICE,
        region: None,
        now,
    };
    let caller = auth::authenticate(state, &request, expect).map_err(sts::sts_error)?;
    Ok(caller.arn)
}

/// `Action=GetCallerIdentity`, `x-k8s-aws-id` signed, `X-Amz-Expires` ≤ 900.
fn check_query(url: &url::Url) -> Result<(), AwsError> {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("Action").as_deref() != Some("GetCallerIdentity") {
        return Err(invalid(
            "input token was not properly formatted: the action is not GetCallerIdentity",
        ));
    }
    let signed = param("X-Amz-SignedHeaders").unwrap_or_default();
    if !signed
        .split(';')
        .any(|h| h.eq_ignore_ascii_case(CLUSTER_HEADER))
    {
        return Err(invalid(format!(
            "client did not sign the {CLUSTER_HEADER} header in the pre-signed URL"
        )));
    }
    match param("X-Amz-Expires").and_then(|e| e.parse::<i64>().ok()) {
        Some(expires) if (1..=MAX_EXPIRES).contains(&expires) => Ok(()),
        Some(_) => Err(invalid(format!(
            "X-Amz-Expires parameter must be at most {MAX_EXPIRES} seconds"
        ))),
        None => Err(invalid(
            "input token was not properly formatted: X-Amz-Expires is missing or not a number",
        )),
    }
}
