//! Signature Version 4, written from the specification so that it checks
//! clients independently of any SDK's signer: canonical request, string to
//! sign, signing key and the two places a signature travels (the
//! `Authorization` header and presigned query parameters).

use aws_lc_rs::{digest, hmac};

/// The only algorithm SigV4 defines.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of requests that do not sign their body.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// A request as the verifier sees it.
#[derive(Debug)]
pub(crate) struct RequestView<'a> {
    /// `GET`, `POST`, ...
    pub(crate) method: &'a str,
    /// The path as sent (still percent-encoded).
    pub(crate) path: &'a str,
    /// The raw query string, without `?`.
    pub(crate) query: &'a str,
    /// Headers with lower-case names; repeated names appear repeatedly.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: &'a [u8],
}

impl RequestView<'_> {
    /// The values of header `name` (lower case), joined with `,`.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    /// The decoded query parameters.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first query parameter named `name`.
    pub(crate) fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// The signature's coordinates, from either the header or the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignatureInfo {
    /// The access key id.
    pub(crate) key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub(crate) scope_date: String,
    /// The scope's region.
    pub(crate) region: String,
    /// The scope's service.
    pub(crate) service: String,
    /// Signed header names, in the order given.
    pub(crate) signed_headers: Vec<String>,
    /// The hex signature.
    pub(crate) signature: String,
}

impl SignatureInfo {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub(crate) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }
}

/// Parses `Credential=KEY/DATE/REGION/SERVICE/aws4_request`'s value.
pub(crate) fn parse_credential(credential: &str) -> Option<(String, String, String, String)> {
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [key, date, region, service, "aws4_request"]
            if !key.is_empty() && date.len() == 8 && !region.is_empty() =>
        {
            Some((
                key.to_string(),
                date.to_string(),
                region.to_string(),
                service.to_string(),
            ))
        }
        _ => None,
    }
}

/// Parses an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
/// header. `None` when malformed.
pub(crate) fn parse_authorization(header: &str) -> Option<SignatureInfo> {
    let rest = header.trim().strip_prefix(ALGORITHM)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    info_from(credential?, signed?, signature?)
}

/// Builds [`SignatureInfo`] from the three parts (header or query form).
pub(crate) fn info_from(credential: &str, signed: &str, signature: &str) -> Option<SignatureInfo> {
    let (key_id, scope_date, region, service) = parse_credential(credential)?;
    let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
    if signed_headers.iter().any(String::is_empty) || signature.is_empty() {
        return None;
    }
    Some(SignatureInfo {
        key_id,
        scope_date,
        region,
        service,
        signed_headers,
        signature: signature.to_string(),
    })
}

/// RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~`
/// (and `/` when `keep_slash`) as `%XX`.
pub(crate) fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The canonical query string of `pairs` (decoded), leaving out
/// `X-Amz-Signature`: encoded, sorted by name then value.
pub(crate) fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trims a header value and collapses runs of spaces.
fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request (non-S3: the path is encoded again).
pub(crate) fn canonical_request(
    request: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    canonical_request_of(request, signed_headers, payload_hash, true)
}

/// The canonical request of an S3 call: the path as sent (encoded once, not again).
pub(crate) fn canonical_request_s3(
    request: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> String {
    canonical_request_of(request, signed_headers, payload_hash, false)
}

fn canonical_request_of(
    request: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    encode_path: bool,
) -> String {
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let headers: String = signed_headers
        .iter()
        .map(|name| {
            let value = request.header(name).unwrap_or_default();
            format!("{name}:{}\n", canonical_header_value(&value))
        })
        .collect();
    format!(
        "{}\n{}\n{}\n{headers}\n{}\n{payload_hash}",
        request.method,
        match encode_path {
            true => uri_encode(path, true),
            false => path.to_owned(),
        },
        canonical_query(&request.query_pairs()),
        signed_headers.join(";"),
    )
}

/// Lower-case hex of SHA-256.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The string to sign for `canonical` at `amz_date` in `scope`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    )
}

/// The signing key: HMAC chain from `AWS4<secret>` over date, region,
/// service and `aws4_request`.
pub(crate) fn signing_key(secret: &str, info: &SignatureInfo) -> hmac::Key {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [
        info.scope_date.as_str(),
        info.region.as_str(),
        info.service.as_str(),
        "aws4_request",
    ] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes());
        key = tag.as_ref().to_vec();
    }
    hmac::Key::new(hmac::HMAC_SHA256, &key)
}

/// Whether `signature_hex` is the HMAC of `string_to_sign` under `key`
/// (constant-time).
pub(crate) fn signature_matches(
    key: &hmac::Key,
    string_to_sign: &str,
    signature_hex: &str,
) -> bool {
    match decode_hex(signature_hex) {
        Some(tag) if tag.len() == 32 => hmac::verify(key, string_to_sign.as_bytes(), &tag).is_ok(),
        _ => false,
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// Seconds since the epoch of an ISO 8601 basic timestamp
/// (`20240101T000000Z`).
pub(crate) fn parse_amz_date(text: &str) -> Option<i64> {
    if text.len() != 16 || !text.ends_with('Z') {
        return None;
    }
    let civil = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text).ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(zoned.timestamp().as_second())
}

/// `seconds` as an ISO 8601 basic timestamp.
pub(crate) fn format_amz_date(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `get-vanilla` example of the SigV4 test suite (AWS's published
    /// example credentials).
    #[test]
    fn matches_the_published_get_vanilla_vector() {
        let request = RequestView {
            method: "GET",
            path: "/",
            query: "",
            headers: vec![
                ("host".into(), "example.amazonaws.com".into()),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ],
            body: b"",
        };
        let signed = vec!["host".to_string(), "x-amz-date".to_string()];
        let canonical = canonical_request(&request, &signed, &sha256_hex(b""));
        let info = SignatureInfo {
            key_id: "AKIDEXAMPLE".into(),
            scope_date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            signed_headers: signed,
            signature: String::new(),
        };
        let sts = string_to_sign("20150830T123600Z", &info.scope(), &canonical);
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &info);
        let expected = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        assert!(signature_matches(&key, &sts, expected));
        assert!(!signature_matches(&key, &sts, &expected.replace('5', "6")));
        assert!(!signature_matches(&key, &sts, "zz"));
    }

    #[test]
    fn query_is_decoded_encoded_and_sorted() {
        let pairs = vec![
            ("b".to_string(), "x y".to_string()),
            ("a".to_string(), "1/2+3".to_string()),
            ("X-Amz-Signature".to_string(), "s".to_string()),
        ];
        assert_eq!(canonical_query(&pairs), "a=1%2F2%2B3&b=x%20y");
    }

    #[test]
    fn authorization_header_parses() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let info = parse_authorization(header).expect("parses");
        assert_eq!(info.key_id, "AKID");
        assert_eq!(info.scope(), "20240101/us-east-1/sts/aws4_request");
        assert_eq!(info.signed_headers, ["host", "x-amz-date"]);
        for bad in [
            "",
            "AWS4-HMAC-SHA256 Credential=a",
            "Basic x",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=x",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad}");
        }
    }

    #[test]
    fn amz_dates_round_trip() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        for bad in [
            "",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
