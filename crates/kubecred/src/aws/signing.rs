//! SigV4 with `aws-sigv4` for the calls kubecred makes without an SDK client (the EKS presigned
//! token, the S3 and KMS checks), plus the endpoint helpers they share: region validation (a
//! region becomes part of a host name) and the DNS suffix of each AWS partition.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SigningInstructions, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use url::Url;

use super::sdk::sdk_credentials;
use crate::AwsKeys;
use crate::error::{Error, Result};

/// What a signature is scoped to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope<'a> {
    /// The region (validated with [`region`]).
    pub region: &'a str,
    /// The SigV4 service name (`sts`, `s3`, `kms`).
    pub service: &'a str,
    /// The signing time.
    pub time: SystemTime,
}

/// An HTTP request to sign: the URL must come from [`endpoint`] or a URL built on it, so that it
/// has a host (the signer requires one).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unsigned<'a> {
    /// The method.
    pub method: &'a str,
    /// The absolute URL, already percent-encoded.
    pub url: &'a Url,
    /// Headers to sign besides `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// Signs a request: headers to add (header signing) or query parameters to append (presigning),
/// as `settings.signature_location` says.
pub(crate) fn instructions(
    keys: &AwsKeys,
    scope: Scope<'_>,
    request: Unsigned<'_>,
    settings: SigningSettings,
) -> Result<SigningInstructions> {
    let identity = sdk_credentials(keys).into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(scope.time)
        .settings(settings)
        .build()
        .map_err(|e| {
            Error::invalid(format!("cannot sign {} request", scope.service)).with_source(e)
        })?
        .into();
    let headers = request.headers.iter().copied();
    let signable = SignableRequest::new(
        request.method,
        request.url.as_str(),
        headers,
        SignableBody::Bytes(request.body),
    )
    .and_then(|signable| sign(signable, &params))
    .map_err(|e| Error::invalid(format!("cannot sign {} request", scope.service)).with_source(e))?;
    Ok(signable.into_parts().0)
}

/// Checks an endpoint URL (an operator override or one built from a region): `http` or `https`
/// with a host.
pub(crate) fn endpoint(url: &str, service: &str) -> Result<Url> {
    let parsed = Url::parse(url).map_err(|e| {
        Error::invalid(format!("invalid {service} endpoint '{url}'")).with_source(e)
    })?;
    match (parsed.scheme(), parsed.host_str()) {
        ("http" | "https", Some(host)) if !host.is_empty() => Ok(parsed),
        _ => Err(Error::invalid(format!(
            "invalid {service} endpoint '{url}': must be an http(s) URL with a host"
        ))),
    }
}

/// Checks a region that becomes part of a host name (`sts.<region>.amazonaws.com`).
pub(crate) fn region(region: &str) -> Result<&str> {
    let valid = !region.is_empty()
        && region.len() <= 50
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match valid {
        true => Ok(region),
        false => Err(Error::invalid(format!("invalid AWS region '{region}'"))),
    }
}

/// The DNS suffix of a region's partition (`amazonaws.com`, `amazonaws.com.cn`, ...).
pub(crate) fn dns_suffix(region: &str) -> &'static str {
    const PARTITIONS: &[(&str, &str)] = &[
        ("cn-", "amazonaws.com.cn"),
        ("us-iso-", "c2s.ic.gov"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("eusc-", "amazonaws.eu"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, suffix)| suffix)
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_http_and_a_host() {
        assert!(endpoint("http://127.0.0.1:5000", "S3").is_ok());
        assert!(endpoint("https://s3.us-east-1.amazonaws.com/", "S3").is_ok());
        for invalid in [
            "unix:/tmp/x",
            "ftp://host/",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(endpoint(invalid, "S3").is_err(), "{invalid}");
        }
    }

    #[test]
    fn regions_are_host_labels() {
        assert_eq!(region("us-east-1").ok(), Some("us-east-1"));
        for invalid in ["", "evil.example/x", "US-EAST-1", "a:b", "us east"] {
            assert!(region(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn partitions_have_their_suffix() {
        assert_eq!(dns_suffix("us-east-1"), "amazonaws.com");
        assert_eq!(dns_suffix("cn-north-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("us-isob-east-1"), "sc2s.sgov.gov");
        assert_eq!(dns_suffix("us-iso-east-1"), "c2s.ic.gov");
        assert_eq!(dns_suffix("eusc-de-east-1"), "amazonaws.eu");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
