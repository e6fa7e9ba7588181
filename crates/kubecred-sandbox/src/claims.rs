//! The claim set of a Kubernetes ServiceAccount token, as kube-apiserver
//! issues it for a TokenRequest.

use serde::{Deserialize, Deserializer, Serialize};

/// The claims of a ServiceAccount token.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Claims {
    /// Issuer: the sandbox URL.
    pub iss: String,
    /// Subject: `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
    /// Audiences. A single-string `aud` is accepted when reading.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry (seconds since the Unix epoch).
    pub exp: i64,
    /// Issued at (seconds since the Unix epoch).
    pub iat: i64,
    /// Not before (seconds since the Unix epoch).
    pub nbf: i64,
    /// The `kubernetes.io` private claim.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

/// The `kubernetes.io` claim: which ServiceAccount the token stands for.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct KubernetesClaims {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount itself.
    pub serviceaccount: ServiceAccountClaim,
}

/// The ServiceAccount named in the `kubernetes.io` claim.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ServiceAccountClaim {
    /// The ServiceAccount's name.
    pub name: String,
    /// The ServiceAccount's uid.
    pub uid: String,
}

/// What the sandbox actually signs: [`Claims`] plus a random `jti`.
#[derive(Serialize)]
pub(crate) struct IssuedClaims<'a> {
    #[serde(flatten)]
    pub(crate) claims: &'a Claims,
    pub(crate) jti: String,
}

impl Claims {
    /// The claims for a token of ServiceAccount `namespace/name` valid from
    /// `now` for `ttl_seconds`.
    pub(crate) fn for_service_account(
        issuer: &str,
        account: ServiceAccountClaim,
        namespace: &str,
        audiences: &[String],
        now: i64,
        ttl_seconds: i64,
    ) -> Claims {
        Claims {
            iss: issuer.to_string(),
            sub: subject(namespace, &account.name),
            aud: audiences.to_vec(),
            exp: now.saturating_add(ttl_seconds),
            iat: now,
            nbf: now,
            kubernetes: KubernetesClaims {
                namespace: namespace.to_string(),
                serviceaccount: account,
            },
        }
    }
}

/// The user name Kubernetes gives a ServiceAccount.
pub(crate) fn subject(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        let account = ServiceAccountClaim {
            name: "app".into(),
            uid: "u-1".into(),
        };
        Claims::for_service_account("http://iss", account, "ns", &["a".into()], 100, 600)
    }

    #[test]
    fn serializes_the_real_claim_set() {
        let issued = IssuedClaims {
            claims: &claims(),
            jti: "j".into(),
        };
        let json = serde_json::to_value(&issued).expect("serialize");
        assert_eq!(json["sub"], "system:serviceaccount:ns:app");
        assert_eq!(json["aud"], serde_json::json!(["a"]));
        assert_eq!(json["exp"], 700);
        assert_eq!(json["nbf"], 100);
        assert_eq!(json["jti"], "j");
        assert_eq!(json["kubernetes.io"]["namespace"], "ns");
        assert_eq!(json["kubernetes.io"]["serviceaccount"]["uid"], "u-1");
    }

    #[test]
    fn reads_a_single_string_audience() {
        let mut json = serde_json::to_value(claims()).expect("serialize");
        json["aud"] = serde_json::json!("solo");
        let back: Claims = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back.aud, ["solo"]);
    }
}
