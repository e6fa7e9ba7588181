//! Uploads an issuer's two documents to a bucket a cloud can fetch them from, with kubecred's own
//! credentials for that bucket's cloud: `s3://BUCKET[/PREFIX]` (S3 PutObject, signed with
//! SigV4), `gs://BUCKET[/PREFIX]` (Cloud Storage media upload) or
//! `azblob://ACCOUNT/CONTAINER[/PREFIX]` (Blob Put Blob; `$web` is the container a storage
//! account's static website serves).
//!
//! The keys are the ones under the issuer a cloud fetches: `PREFIX/.well-known/openid-configuration`
//! and `PREFIX/openid/v1/jwks`, each with `Content-Type: application/json`. The upload calls live
//! beside each cloud's access checks (`aws::publish`, `gcp::publish`, `azure::publish`); this
//! module parses the target and dispatches. A cloud compiled out of this build is named in the
//! error. Making the bucket publicly readable (and, for Azure, enabling the static website) is the
//! owner's step: `verify` then shows whether a cloud can read what was written.

use serde::Serialize;

use super::generate::Documents;
use crate::error::{Error, Result};
use crate::{Engine, Provider, Request};

/// What every document is uploaded as.
pub const CONTENT_TYPE: &str = "application/json";

/// Where the documents go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An S3 bucket.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix (no leading or trailing `/`; empty for the bucket's root).
        prefix: String,
    },
    /// A Cloud Storage bucket.
    Gcs {
        /// The bucket.
        bucket: String,
        /// The object name prefix.
        prefix: String,
    },
    /// A Blob Storage container (`$web` for a static website).
    AzureBlob {
        /// The storage account.
        account: String,
        /// The container.
        container: String,
        /// The blob name prefix.
        prefix: String,
    },
}

/// The target schemes, for messages.
pub const TARGETS: &str =
    "s3://BUCKET, gs://BUCKET or azblob://ACCOUNT/$web (each with an optional /PREFIX)";

impl Target {
    /// Reads `s3://B[/P]`, `gs://B[/P]` or `azblob://A/C[/P]`.
    pub fn parse(text: &str) -> Result<Target> {
        let invalid = |why: &str| {
            let shown: String = text.chars().take(200).collect();
            Error::invalid(format!(
                "invalid publish target {shown:?}: {why}; expected {TARGETS}"
            ))
        };
        if !text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"?#%\\".contains(&b))
        {
            return Err(invalid(
                "only printable ASCII without spaces, '?', '#', '%' or '\\'",
            ));
        }
        let (scheme, rest) = text.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let mut parts = rest.trim_end_matches('/').splitn(2, '/');
        let first = parts.next().unwrap_or_default().to_owned();
        let tail = parts.next().unwrap_or_default();
        if first.is_empty() {
            return Err(invalid("no bucket or account"));
        }
        let prefix = |path: &str| -> Result<String> {
            if path
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
                || !path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._/".contains(&b))
            {
                return Err(invalid(
                    "a prefix has letters, digits, '-', '.', '_' and non-empty '/' segments other than '.' and '..'",
                ));
            }
            Ok(path.to_owned())
        };
        let label = |name: &str| {
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        };
        match scheme {
            "s3" | "gs" => {
                if !(3..=222).contains(&first.len()) || !label(&first) {
                    return Err(invalid(
                        "a bucket name has 3-63 lowercase letters, digits, '-', '.' and '_'",
                    ));
                }
                let prefix = match tail {
                    "" => String::new(),
                    path => prefix(path)?,
                };
                Ok(match scheme {
                    "s3" => Target::S3 {
                        bucket: first,
                        prefix,
                    },
                    _ => Target::Gcs {
                        bucket: first,
                        prefix,
                    },
                })
            }
            "azblob" => {
                let mut rest = tail.splitn(2, '/');
                let container = rest.next().unwrap_or_default().to_owned();
                let account_ok = (3..=24).contains(&first.len())
                    && first
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !account_ok {
                    return Err(invalid(
                        "a storage account has 3-24 lowercase letters and digits",
                    ));
                }
                let container_ok = container == "$web"
                    || ((3..=63).contains(&container.len())
                        && container
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                if !container_ok {
                    return Err(invalid(
                        "no container: azblob://ACCOUNT/$web (the static website's) or a container name",
                    ));
                }
                let prefix = match rest.next() {
                    None | Some("") => String::new(),
                    Some(path) => prefix(path)?,
                };
                Ok(Target::AzureBlob {
                    account: first,
                    container,
                    prefix,
                })
            }
            _ => Err(invalid("unknown scheme")),
        }
    }

    /// The cloud whose credentials write to the target.
    pub fn provider(&self) -> Provider {
        match self {
            Target::S3 { .. } => Provider::Aws,
            Target::Gcs { .. } => Provider::Gcp,
            Target::AzureBlob { .. } => Provider::Azure,
        }
    }

    fn prefix(&self) -> &str {
        match self {
            Target::S3 { prefix, .. } | Target::Gcs { prefix, .. } => prefix,
            Target::AzureBlob { prefix, .. } => prefix,
        }
    }

    /// The target as `scheme://...`, normalised.
    pub fn shown(&self) -> String {
        let (head, prefix) = match self {
            Target::S3 { bucket, prefix } => (format!("s3://{bucket}"), prefix),
            Target::Gcs { bucket, prefix } => (format!("gs://{bucket}"), prefix),
            Target::AzureBlob {
                account,
                container,
                prefix,
            } => (format!("azblob://{account}/{container}"), prefix),
        };
        match prefix.is_empty() {
            true => head,
            false => format!("{head}/{prefix}"),
        }
    }

    /// The keys (object names) of the two documents and their bodies, discovery first.
    pub fn objects(&self, documents: &Documents) -> Vec<Object> {
        let key = |path: &str| match self.prefix() {
            "" => path.to_owned(),
            prefix => format!("{prefix}/{path}"),
        };
        vec![
            Object {
                key: key(".well-known/openid-configuration"),
                body: documents.discovery_json().into_bytes(),
            },
            Object {
                key: key("openid/v1/jwks"),
                body: documents.jwks_json().into_bytes(),
            },
        ]
    }
}

/// One document to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// The object key / blob name (no leading `/`).
    pub key: String,
    /// The bytes (pretty JSON with a final newline).
    pub body: Vec<u8>,
}

/// What was uploaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The target, normalised.
    pub target: String,
    /// Each object written, as `scheme://.../key`.
    pub objects: Vec<String>,
    /// The content type every object was given.
    pub content_type: &'static str,
}

/// Uploads `documents` to `target` with the credentials `request` resolves to through `engine`
/// (its provider is the target's; see [`Target::provider`]).
pub async fn publish(
    engine: &Engine,
    target: &Target,
    documents: &Documents,
    request: &Request,
) -> Result<Published> {
    let objects = target.objects(documents);
    let request = Request {
        provider: target.provider(),
        ..request.clone()
    };
    upload(engine, target, &objects, &request)
        .await
        .map_err(|e| e.at("publish issuer documents"))?;
    let shown = target.shown();
    let base = match target.prefix() {
        "" => shown.clone(),
        prefix => shown
            .trim_end_matches(prefix)
            .trim_end_matches('/')
            .to_owned(),
    };
    Ok(Published {
        objects: objects
            .iter()
            .map(|o| format!("{base}/{}", o.key))
            .collect(),
        target: shown,
        content_type: CONTENT_TYPE,
    })
}

#[allow(unused_variables)]
async fn upload(
    engine: &Engine,
    target: &Target,
    objects: &[Object],
    request: &Request,
) -> Result<()> {
    match target {
        #[cfg(feature = "aws")]
        Target::S3 { bucket, .. } => {
            crate::aws::publish::upload(engine, bucket, objects, request).await
        }
        #[cfg(feature = "gcp")]
        Target::Gcs { bucket, .. } => {
            crate::gcp::publish::upload(engine, bucket, objects, request).await
        }
        #[cfg(feature = "azure")]
        Target::AzureBlob {
            account, container, ..
        } => crate::azure::publish::upload(engine, account, container, objects, request).await,
        #[allow(unreachable_patterns)]
        other => Err(Error::invalid(format!(
            "{}: this build of kubecred has no {} support (cargo feature '{}')",
            other.shown(),
            other.provider(),
            feature(other.provider())
        ))),
    }
}

fn feature(provider: Provider) -> &'static str {
    match provider {
        Provider::Aws => "aws",
        Provider::Gcp => "gcp",
        Provider::Azure => "azure",
        Provider::Generic => "generic",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> std::result::Result<Target, String> {
        Target::parse(text).map_err(|e| e.to_string())
    }

    #[test]
    fn targets_are_read_with_their_prefix() {
        assert_eq!(
            parsed("s3://oidc-bucket/"),
            Ok(Target::S3 {
                bucket: "oidc-bucket".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            parsed("gs://oidc/clusters/a"),
            Ok(Target::Gcs {
                bucket: "oidc".into(),
                prefix: "clusters/a".into()
            })
        );
        assert_eq!(
            parsed("azblob://acct123/$web"),
            Ok(Target::AzureBlob {
                account: "acct123".into(),
                container: "$web".into(),
                prefix: String::new()
            })
        );
        for bad in [
            "s3://",
            "s3://A",
            "gs://b/../x",
            "azblob://acct123",
            "azblob://Acct/$web",
            "ftp://x/y",
            "s3://bucket?x",
            "oidc-bucket",
        ] {
            let error = parsed(bad).err().unwrap_or_default();
            assert!(error.contains("invalid publish target"), "{bad}: {error}");
        }
    }

    #[test]
    fn objects_are_the_keys_a_cloud_fetches() -> Result<()> {
        let documents = Documents {
            discovery: serde_json::json!({"issuer": "https://x"}),
            jwks: serde_json::json!({"keys": []}),
        };
        let keys = |t: &str| -> Result<Vec<String>> {
            Ok(Target::parse(t)?
                .objects(&documents)
                .into_iter()
                .map(|o| o.key)
                .collect())
        };
        assert_eq!(
            keys("s3://bucket")?,
            [".well-known/openid-configuration", "openid/v1/jwks"]
        );
        assert_eq!(
            keys("azblob://acct/$web/c1")?,
            ["c1/.well-known/openid-configuration", "c1/openid/v1/jwks"]
        );
        let objects = Target::parse("gs://bucket")?.objects(&documents);
        assert_eq!(objects[1].body, documents.jwks_json().into_bytes());
        Ok(())
    }
}
