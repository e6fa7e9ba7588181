//! Checks that resolved keys can use an S3 bucket or a KMS key, for diagnostics and for the
//! services (bucket sources, SOPS decryption) that take AWS credentials.
//!
//! - S3: `ListObjectsV2` with `max-keys=1` (action `s3:ListBucket`), then the first byte of the
//!   listed object (action `s3:GetObject`), as a reader of the bucket does. AWS:
//!   `https://<bucket>.s3.<region>.amazonaws.com/?list-type=2&max-keys=1` (virtual host; path
//!   style on `s3.<region>…` for names that are not DNS labels). `AWS_ENDPOINT_URL_S3` (or
//!   `AWS_ENDPOINT_URL`; moto, MinIO) switches to path style `<endpoint>/<bucket>?list-type=2`.
//! - KMS: `DescribeKey` (action `kms:DescribeKey`) at `https://kms.<region>.amazonaws.com/`, the
//!   region taken from the key ARN; override with `AWS_ENDPOINT_URL_KMS` (or `AWS_ENDPOINT_URL`).
//! - SQS: `GetQueueUrl` (action `sqs:GetQueueUrl`, JSON protocol) at
//!   `https://sqs.<region>.amazonaws.com/`, what a queue consumer (TriggerMesh's SQS source) asks
//!   first; the region and owner from the queue ARN; override with `AWS_ENDPOINT_URL_SQS`.
//!
//! These are small requests signed with `aws-sigv4` and sent with reqwest rather than
//! aws-sdk-s3 and aws-sdk-kms: both crates are already compiled here (aws-sigv4 for the EKS
//! token, reqwest for everything), so the checks add no crate and about a second of incremental
//! build, while ecosystem-findings §A measured aws-sdk-s3 as the largest SDK crate (262 unique
//! dependencies standalone) and the set that adds it and aws-sdk-kms (with seven other crates) at
//! +42 s clean debug and +1:48 clean release over the tuned set (2:35 vs 1:53, 6:24 vs 4:36).
//!
//! The requests are signed at the wall-clock time (a signature with any other time is refused)
//! and sent by reqwest, through the request's proxy if it names one, else as `HTTPS_PROXY`,
//! `HTTP_PROXY` and `NO_PROXY` say.

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SigningSettings, UriPathNormalizationMode,
};
use url::Url;

use super::http::Transport;
use super::sdk::AwsVars;
use super::sdk_error::{Refusal, xml_element};
use super::signing::{self, Scope, Unsigned};
use crate::Env;
use crate::error::{Error, Result};
use crate::{AwsKeys, Provider};

/// What the S3 check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketCheck {
    /// The bucket.
    pub bucket: String,
    /// How many keys the one-key listing returned (0 or 1).
    pub key_count: u64,
    /// The listed object whose first byte was then read (action `s3:GetObject`), as a
    /// reader of the bucket would: `None` when the bucket is empty or the key has characters
    /// the check does not send (anything but letters, digits, `/`, `.`, `_`, `-`, or a `.`/`..`
    /// segment).
    pub object_read: Option<String>,
}

/// What the KMS check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCheck {
    /// The key's ARN, as KMS reports it.
    pub arn: String,
    /// The key's state (`Enabled`, `Disabled`, `PendingDeletion`, ...).
    pub key_state: String,
    /// Whether the key is enabled.
    pub enabled: bool,
}

/// What the SQS check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueCheck {
    /// The queue's URL, as SQS reports it.
    pub url: String,
}

/// A queue ARN's parts: `arn:aws:sqs:REGION:ACCOUNT:NAME`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueArn<'a> {
    /// The region.
    pub region: &'a str,
    /// The owner's account id (12 digits).
    pub account: &'a str,
    /// The queue name (1 to 80 letters, digits, `-` and `_`; a FIFO queue's ends in `.fifo`).
    pub name: &'a str,
}

/// Parses an SQS queue ARN exactly (anchored: every field checked, nothing before or after).
pub fn queue_arn(text: &str) -> Result<QueueArn<'_>> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "invalid SQS queue ARN '{text}': {why}; expected arn:aws:sqs:REGION:ACCOUNT:QUEUE"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let ["arn", partition, "sqs", region, account, name] = parts.as_slice() else {
        return Err(invalid("not six ':'-separated fields of an sqs ARN"));
    };
    if !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(invalid("unknown partition"));
    }
    let region = signing::region(region).map_err(|_| invalid("invalid region"))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("the account is not 12 digits"));
    }
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let valid_name = !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(invalid(
            "the queue name is not 1-80 letters, digits, '-' and '_' (and .fifo)",
        ));
    }
    Ok(QueueArn {
        region,
        account,
        name,
    })
}

/// Checks that the queue `queue_arn` names can be found with `keys` (`GetQueueUrl`).
pub async fn sqs_queue(
    queue_arn: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<QueueCheck> {
    let action = format!("get the URL of SQS queue '{queue_arn}' (sqs:GetQueueUrl)");
    let result = get_queue_url(queue_arn, keys, env, transport, &action).await;
    result.map_err(|e| e.at("check SQS queue").for_provider(Provider::Aws))
}

async fn get_queue_url(
    queue_arn: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
    action: &str,
) -> Result<QueueCheck> {
    let queue = self::queue_arn(queue_arn)?;
    let call = JsonCall {
        service: "sqs",
        region: queue.region,
        target: "AmazonSQS.GetQueueUrl",
        version: "1.0",
        input: serde_json::json!({
            "QueueName": queue.name,
            "QueueOwnerAWSAccountId": queue.account,
        }),
    };
    let value = call.send(keys, env, transport, action).await?;
    let url = value["QueueUrl"]
        .as_str()
        .ok_or_else(|| Error::upstream(format!("{action}: the answer has no QueueUrl")))?;
    Ok(QueueCheck {
        url: url.to_owned(),
    })
}

/// Checks that `bucket` (in `region`) exists and its objects can be listed with `keys`.
pub async fn s3_bucket(
    bucket: &str,
    region: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<BucketCheck> {
    let action = format!("list objects of S3 bucket '{bucket}' (s3:ListBucket)");
    let result = list_one(bucket, region, keys, env, transport, &action).await;
    result.map_err(|e| e.at("check S3 bucket").for_provider(Provider::Aws))
}

async fn list_one(
    bucket: &str,
    region: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
    action: &str,
) -> Result<BucketCheck> {
    let list = S3Call {
        bucket,
        region,
        method: "GET",
        tail: "?list-type=2&max-keys=1",
        headers: &[],
        body: &[],
    };
    let body = list.send(keys, env, transport, action).await?;
    let count = xml_element(&body, "KeyCount")
        .ok_or_else(|| Error::upstream(format!("{action}: the answer has no KeyCount")))?;
    let key_count = count
        .parse()
        .map_err(|_| Error::upstream(format!("{action}: invalid KeyCount '{count}'")))?;
    let first = xml_element(&body, "Key").filter(|key| sendable_key(key));
    let object_read = match first {
        Some(key) if key_count > 0 => {
            let action = format!("read s3://{bucket}/{key} (s3:GetObject)");
            // One byte (a HEAD's refusal has no body to name the missing action).
            let read = S3Call {
                bucket,
                region,
                method: "GET",
                tail: &format!("/{key}"),
                headers: &[("range", "bytes=0-0")],
                body: &[],
            };
            read.send(keys, env, transport, &action).await?;
            Some(key)
        }
        _ => None,
    };
    Ok(BucketCheck {
        bucket: bucket.to_owned(),
        key_count,
        object_read,
    })
}

/// Whether a listed key (the bucket's answer: hostile) is one the check reads back: plain
/// characters only, no empty, `.` or `..` segment, so the URL names exactly that object.
fn sendable_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// One S3 request on `bucket` (in `region`): `tail` is the bucket's `?query` or an object's
/// `/key` (see [`bucket_url`]); the bucket check and the issuer upload send theirs this way.
pub(super) struct S3Call<'a> {
    pub(super) bucket: &'a str,
    pub(super) region: &'a str,
    pub(super) method: &'a str,
    pub(super) tail: &'a str,
    pub(super) headers: &'a [(&'a str, &'a str)],
    pub(super) body: &'a [u8],
}

impl S3Call<'_> {
    /// Signs the request as S3 wants it (paths encoded once and not normalised, the payload's
    /// SHA-256 in `x-amz-content-sha256`) and sends it; the body of a 2xx answer.
    pub(super) async fn send(
        &self,
        keys: &AwsKeys,
        env: &Env,
        transport: Transport<'_>,
        action: &str,
    ) -> Result<String> {
        let region = signing::region(self.region)?;
        let url = bucket_url(self.bucket, region, env, self.tail)?;
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let request = Unsigned {
            method: self.method,
            url: &url,
            headers: self.headers,
            body: self.body,
        };
        let scope = Scope {
            region,
            service: "s3",
            time: env.now(),
        };
        send(keys, scope, request, settings, transport, action).await
    }
}

/// The URL of `tail` (`?query` of the bucket, or `/key` of an object): path style on an override
/// or for names that are not DNS labels, else virtual-host style.
fn bucket_url(bucket: &str, region: &str, env: &Env, tail: &str) -> Result<Url> {
    if bucket.is_empty()
        || bucket.len() > 255
        || !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(Error::invalid(format!("invalid S3 bucket name '{bucket}'")));
    }
    let suffix = signing::dns_suffix(region);
    let dns_label = bucket.len() >= 3
        && bucket.len() <= 63
        && !bucket.contains('.')
        && bucket == bucket.to_ascii_lowercase();
    let url = match env.endpoint_url("S3") {
        Some(endpoint) => format!("{}/{bucket}{tail}", endpoint.trim_end_matches('/')),
        None if dns_label => format!(
            "https://{bucket}.s3.{region}.{suffix}/{}",
            tail.trim_start_matches('/')
        ),
        None => format!("https://s3.{region}.{suffix}/{bucket}{tail}"),
    };
    signing::endpoint(&url, "S3")
}

/// Checks that `key_arn` exists and can be described with `keys` (region from the ARN).
pub async fn kms_key(
    key_arn: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<KeyCheck> {
    let action = format!("describe KMS key '{key_arn}' (kms:DescribeKey)");
    let result = describe_key(key_arn, keys, env, transport, &action).await;
    result.map_err(|e| e.at("check KMS key").for_provider(Provider::Aws))
}

async fn describe_key(
    key_arn: &str,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
    action: &str,
) -> Result<KeyCheck> {
    let call = JsonCall {
        service: "kms",
        region: kms_region(key_arn)?,
        target: "TrentService.DescribeKey",
        version: "1.1",
        input: serde_json::json!({ "KeyId": key_arn }),
    };
    key_check(&call.send(keys, env, transport, action).await?, action)
}

/// One call of an AWS JSON protocol (KMS, SQS): `POST /` with `X-Amz-Target`, at the service's
/// regional endpoint or its `AWS_ENDPOINT_URL_<SERVICE>` override.
struct JsonCall<'a> {
    /// The signing name, lower case (`kms`, `sqs`); upper case, the override's suffix.
    service: &'a str,
    region: &'a str,
    target: &'a str,
    /// The protocol version of the content type (`1.0`, `1.1`).
    version: &'a str,
    input: serde_json::Value,
}

impl JsonCall<'_> {
    /// Signs and sends the call; the answer as JSON.
    async fn send(
        &self,
        keys: &AwsKeys,
        env: &Env,
        transport: Transport<'_>,
        action: &str,
    ) -> Result<serde_json::Value> {
        let (service, region) = (self.service, self.region);
        let upper = service.to_ascii_uppercase();
        let url = match env.endpoint_url(&upper) {
            Some(endpoint) => endpoint,
            None => format!(
                "https://{service}.{region}.{}/",
                signing::dns_suffix(region)
            ),
        };
        let url = signing::endpoint(&url, &upper)?;
        let body = self.input.to_string();
        let content_type = format!("application/x-amz-json-{}", self.version);
        let headers = [
            ("content-type", content_type.as_str()),
            ("x-amz-target", self.target),
        ];
        let request = Unsigned {
            method: "POST",
            url: &url,
            headers: &headers,
            body: body.as_bytes(),
        };
        let scope = Scope {
            region,
            service,
            time: env.now(),
        };
        let settings = SigningSettings::default();
        let answer = send(keys, scope, request, settings, transport, action).await?;
        serde_json::from_str(&answer).map_err(|e| {
            Error::upstream(format!("{action}: the answer is not JSON")).with_source(e)
        })
    }
}

/// The region of a KMS key or alias ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`).
fn kms_region(key_arn: &str) -> Result<&str> {
    let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "kms", region, _, resource]
            if partition.starts_with("aws")
                && (resource.starts_with("key/") || resource.starts_with("alias/")) =>
        {
            signing::region(region)
        }
        _ => Err(Error::invalid(format!(
            "invalid KMS key ARN '{key_arn}': must be arn:aws:kms:<region>:<account>:key/<id>"
        ))),
    }
}

fn key_check(value: &serde_json::Value, action: &str) -> Result<KeyCheck> {
    let metadata = &value["KeyMetadata"];
    let text = |field: &str| metadata[field].as_str().map(str::to_owned);
    let arn = text("Arn")
        .ok_or_else(|| Error::upstream(format!("{action}: the answer has no KeyMetadata.Arn")))?;
    Ok(KeyCheck {
        arn,
        key_state: text("KeyState").unwrap_or_default(),
        enabled: metadata["Enabled"].as_bool().unwrap_or(false),
    })
}

/// Signs and sends a request; the body of a 2xx answer, else the classified refusal.
pub(super) async fn send(
    keys: &AwsKeys,
    scope: Scope<'_>,
    request: Unsigned<'_>,
    settings: SigningSettings,
    transport: Transport<'_>,
    action: &str,
) -> Result<String> {
    let instructions = signing::instructions(keys, scope, request, settings)?;
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| Error::invalid(format!("{action}: invalid method")).with_source(e))?;
    let mut builder = client(action, transport)?
        .request(method, request.url.clone())
        .body(request.body.to_vec());
    for (name, value) in request
        .headers
        .iter()
        .copied()
        .chain(instructions.headers())
    {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(|e| send_error(e, action))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| send_error(e, action))?;
    match status {
        200..=299 => Ok(body),
        _ => Err(refusal(status, &body).into_error(action)),
    }
}

/// The reqwest client of the checks (see [`crate::http`]).
fn client(action: &str, transport: Transport<'_>) -> Result<reqwest::Client> {
    let proxy = crate::http::Proxy::Request(transport.proxy);
    crate::http::client(action, proxy, &transport.timeouts)
}

fn send_error(error: reqwest::Error, action: &str) -> Error {
    crate::http::send_error(error, action)
}

/// The code and message of an error answer: XML (S3, and moto's authentication errors) or JSON
/// (`__type` / `message` of the JSON protocols; `__type` may carry a `namespace#` prefix).
fn refusal(status: u16, body: &str) -> Refusal {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let json_text = |field: &str| json[field].as_str().map(str::to_owned);
    let json_code =
        json_text("__type").map(|t| t.rsplit('#').next().unwrap_or_default().to_owned());
    Refusal {
        status,
        code: json_code.or_else(|| xml_element(body, "Code")),
        message: json_text("message")
            .or_else(|| json_text("Message"))
            .or_else(|| xml_element(body, "Message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(bucket: &str, region: &str, env: &Env) -> String {
        bucket_url(bucket, region, env, "?list-type=2&max-keys=1")
            .map(String::from)
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn bucket_urls_follow_the_addressing_style() {
        let aws = Env::from_pairs(&[]);
        let moto = Env::from_pairs(&[("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000/")]);
        assert_eq!(
            url("my-bucket", "eu-west-1", &aws),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&max-keys=1"
        );
        assert_eq!(
            url("my.bucket", "cn-north-1", &aws),
            "https://s3.cn-north-1.amazonaws.com.cn/my.bucket?list-type=2&max-keys=1"
        );
        assert_eq!(
            url("my-bucket", "us-east-1", &moto),
            "http://127.0.0.1:5000/my-bucket?list-type=2&max-keys=1"
        );
        for invalid in ["", "a/b", "a?b", "evil.example#"] {
            assert!(
                url(invalid, "us-east-1", &aws).starts_with("invalid S3 bucket name"),
                "{invalid}"
            );
        }
    }

    #[test]
    fn only_plain_listed_keys_are_read_back() {
        for key in ["a.tgz", "team-a/app/v1.tar.gz", "x_y-z.9"] {
            assert!(sendable_key(key), "{key}");
        }
        for key in [
            "", "/a", "a/", "a//b", "../a", "a/../b", "./a", "a/.", "a b", "a?b", "a#b", "a%2fb",
            "a\\b", "é", "a\nb",
        ] {
            assert!(!sendable_key(key), "{key:?}");
        }
        assert!(!sendable_key(&"a".repeat(1025)));
    }

    #[test]
    fn queue_arns_are_exact() {
        let ok = queue_arn("arn:aws:sqs:us-east-1:123456789012:events.fifo").expect("valid");
        assert_eq!(
            (ok.region, ok.account, ok.name),
            ("us-east-1", "123456789012", "events.fifo")
        );
        for bad in [
            "",
            "arn:aws:sqs:us-east-1:123456789012:",
            "arn:aws:sqs:us-east-1:123456789012:q:extra",
            "arn:aws:sqs:us-east-1:12345678901:q",
            "arn:aws:sqs:us-east-1:1234567890123:q",
            "arn:aws:sqs:US-EAST-1:123456789012:q",
            "arn:aws:sqs::123456789012:q",
            "arn:aws:sns:us-east-1:123456789012:q",
            "arn:evil:sqs:us-east-1:123456789012:q",
            "arn:aws:sqs:us-east-1:123456789012:q/../x",
            "arn:aws:sqs:us-east-1:123456789012:q.fifo.fifo",
            "arn:aws:sqs:us-east-1:123456789012:.fifo",
            "arn:aws:sqs:us-east-1:123456789012:q%2fx",
            "arn:aws:sqs:us-east-1:123456789012:q x",
            " arn:aws:sqs:us-east-1:123456789012:q",
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        ] {
            assert!(queue_arn(bad).is_err(), "{bad}");
        }
        let long = format!("arn:aws:sqs:us-east-1:123456789012:{}", "q".repeat(81));
        assert!(queue_arn(&long).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_answered_and_accepted_arns_round_trip(text in "\\PC{0,90}") {
            if let Ok(arn) = queue_arn(&text) {
                let again = format!("arn:aws:sqs:{}:{}:{}", arn.region, arn.account, arn.name);
                proptest::prop_assert!(text.ends_with(&again[7..]));
            }
        }

        #[test]
        fn valid_names_are_accepted(name in "[A-Za-z0-9_-]{1,75}", fifo: bool) {
            let name = if fifo { format!("{name}.fifo") } else { name };
            let text = format!("arn:aws:sqs:eu-west-1:123456789012:{name}");
            proptest::prop_assert_eq!(queue_arn(&text).map(|a| a.name.to_owned()).ok(), Some(name));
        }
    }

    #[test]
    fn kms_regions_come_from_the_arn() {
        let arn = "arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(kms_region(arn).ok(), Some("eu-central-1"));
        assert_eq!(
            kms_region("arn:aws-cn:kms:cn-north-1:1:alias/sops").ok(),
            Some("cn-north-1")
        );
        for invalid in [
            "1234abcd",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:evil.example/:1:key/x",
            "arn:aws:kms:us-east-1:1:grant/x",
        ] {
            assert!(kms_region(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn refusals_read_json_and_xml() {
        let json = refusal(
            400,
            r#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'x' does not exist"}"#,
        );
        assert_eq!(
            (json.code.as_deref(), json.message.as_deref()),
            (Some("NotFoundException"), Some("Key 'x' does not exist"))
        );
        assert!(json.into_error("describe").is_not_found());
        let xml = refusal(
            403,
            "<Error><Code>AccessDenied</Code><Message>denied</Message></Error>",
        );
        assert_eq!(
            xml.into_error("list").to_string(),
            "list: AccessDenied: denied (HTTP 403)"
        );
        assert!(refusal(503, "").into_error("list").is_transient());
    }

    #[test]
    fn key_metadata_is_read() {
        let answer = r#"{"KeyMetadata":{"Arn":"arn:aws:kms:us-east-1:1:key/k","KeyState":"Enabled","Enabled":true}}"#;
        let answer: serde_json::Value = serde_json::from_str(answer).expect("JSON");
        let check = key_check(&answer, "d").map_err(|e| e.to_string());
        let expected = KeyCheck {
            arn: "arn:aws:kms:us-east-1:1:key/k".into(),
            key_state: "Enabled".into(),
            enabled: true,
        };
        assert_eq!(check, Ok(expected));
        assert!(key_check(&serde_json::json!({}), "d").is_err());
        assert!(key_check(&serde_json::json!({"KeyMetadata": "x"}), "d").is_err());
    }
}
