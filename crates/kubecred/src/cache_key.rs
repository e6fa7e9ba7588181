//! Cache keys: a SHA-256 over every input that changes the credential.
//!
//! The preimage follows the Flux reference (`name=value` parts joined with `\n`, lists joined
//! with `,`), so keys match its published vectors. Unlike the reference, separators inside
//! values are escaped: `["a,b"]` and `["a", "b"]` are different audiences and get different
//! keys, and no value can forge another part.

use std::fmt;

use aws_lc_rs::digest;
use url::Url;

use crate::{AssumeRole, Request};

/// A cache key: SHA-256 of the request's inputs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// Hashes `name=value` parts in order.
    pub fn from_parts<S: AsRef<str>>(parts: &[S]) -> Self {
        let mut context = digest::Context::new(&digest::SHA256);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                context.update(b"\n");
            }
            context.update(part.as_ref().as_bytes());
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        CacheKey(key)
    }

    /// The lowercase hex form.
    pub fn hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({}…)", &self.hex()[..12])
    }
}

/// The ServiceAccount a credential was minted for, as the key records it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedServiceAccount<'a> {
    /// The cloud identity the ServiceAccount maps to (role ARN, client id, ...).
    pub(crate) provider_identity: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
}

/// Which identity level minted the credential, beyond what the reference keys on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyedIdentity<'a> {
    Controller,
    /// Not in the reference, which has no explicit node level.
    Node,
    ServiceAccount(KeyedServiceAccount<'a>),
    /// Not in the reference (no secret level there): the Secret and a digest of its data, so a
    /// rotated Secret never serves credentials minted from its old keys.
    Secret {
        namespace: &'a str,
        name: &'a str,
        data_digest: &'a str,
    },
}

/// The key of an access token.
pub(crate) fn access_token_key(
    request: &Request,
    audiences: &[String],
    identity: KeyedIdentity<'_>,
) -> CacheKey {
    CacheKey::from_parts(&access_token_key_parts(request, audiences, identity))
}

/// The parts [`access_token_key`] hashes, in order (what `kubecred explain` shows).
pub(crate) fn access_token_key_parts(
    request: &Request,
    audiences: &[String],
    identity: KeyedIdentity<'_>,
) -> Vec<String> {
    let mut parts = vec![format!("provider={}", request.provider)];
    let audiences = if audiences.is_empty() {
        &request.audiences
    } else {
        audiences
    };
    push_list(&mut parts, "audiences", audiences);
    match identity {
        KeyedIdentity::Controller => {}
        KeyedIdentity::Node => parts.push("identityLevel=node".into()),
        KeyedIdentity::ServiceAccount(sa) => {
            push(&mut parts, "providerIdentity", sa.provider_identity);
            push(&mut parts, "serviceAccountName", sa.name);
            push(&mut parts, "serviceAccountNamespace", sa.namespace);
        }
        KeyedIdentity::Secret {
            namespace,
            name,
            data_digest,
        } => {
            push(&mut parts, "secretName", name);
            push(&mut parts, "secretNamespace", namespace);
            push(&mut parts, "secretData", data_digest);
        }
    }
    push_list(&mut parts, "scopes", &request.scopes);
    push_opt(&mut parts, "stsRegion", request.region.as_deref());
    push_opt(&mut parts, "stsEndpoint", request.sts_endpoint.as_deref());
    push_opt(
        &mut parts,
        "proxyURL",
        request.proxy.as_ref().map(go_url_string).as_deref(),
    );
    push_opt(&mut parts, "caData", request.ca_data.as_deref());
    // Not in the reference (no role chaining there): each hop's role and external ID.
    if !request.assume_roles.is_empty() {
        let hops: Vec<String> = request.assume_roles.iter().map(hop).collect();
        parts.push(format!("assumeRoles={}", hops.join(",")));
    }
    // Not in the reference either: a token the cloud's CLI may have answered.
    if request.allow_shell_out {
        parts.push("allowShellOut=true".to_owned());
    }
    parts
}

/// One role-chain hop: `<role>|-` or `<role>|=<external id>`, with `|` escaped inside values.
fn hop(hop: &AssumeRole) -> String {
    let field = |value: &str| escape(value).replace('|', "\\|");
    match &hop.external_id {
        Some(id) => format!("{}|={}", field(&hop.role_arn), field(id)),
        None => format!("{}|-", field(&hop.role_arn)),
    }
}

fn push(parts: &mut Vec<String>, name: &str, value: &str) {
    parts.push(format!("{name}={}", escape(value)));
}

fn push_opt(parts: &mut Vec<String>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        push(parts, name, value);
    }
}

fn push_list(parts: &mut Vec<String>, name: &str, values: &[String]) {
    if !values.is_empty() {
        let escaped: Vec<String> = values.iter().map(|v| escape(v)).collect();
        parts.push(format!("{name}={}", escaped.join(",")));
    }
}

/// Escapes the separators so that no value can look like two values or another part.
fn escape(value: &str) -> String {
    if !value.contains(['\\', ',', '\n']) {
        return value.to_owned();
    }
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// A URL as Go's `url.URL.String()` writes it: no `/` path for a bare host.
fn go_url_string(url: &Url) -> String {
    let text = url.as_str();
    match text.strip_suffix('/') {
        Some(bare) if url.path() == "/" && url.query().is_none() && url.fragment().is_none() => {
            bare.to_owned()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Provider;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_the_reference_vector() -> Result<(), url::ParseError> {
        let key = CacheKey::from_parts(&[
            "provider=mock-provider",
            "audiences=audience1,audience2",
            "providerIdentity=mock-identity",
            "serviceAccountName=default",
            "serviceAccountNamespace=default",
            "scopes=scope1,scope2",
            "stsRegion=us-east-1",
            "stsEndpoint=https://sts.some-cloud.io",
            "proxyURL=http://proxy.io:8080",
            "caData=ca-data",
        ]);
        assert_eq!(
            key.hex(),
            "6c016e84cc74ad7bf6bd8770cdb6a2efca3e185fdf90badd985c77984784f5c3"
        );

        // The same preimage, built from a request.
        let request = Request {
            scopes: strings(&["scope1", "scope2"]),
            region: Some("us-east-1".into()),
            sts_endpoint: Some("https://sts.some-cloud.io".into()),
            proxy: Some(Url::parse("http://proxy.io:8080")?),
            ca_data: Some("ca-data".into()),
            ..Request::new(Provider::Aws)
        };
        let sa = KeyedServiceAccount {
            provider_identity: "mock-identity",
            namespace: "default",
            name: "default",
        };
        let built = access_token_key(
            &request,
            &strings(&["audience1", "audience2"]),
            KeyedIdentity::ServiceAccount(sa),
        );
        let expected = CacheKey::from_parts(&[
            "provider=aws",
            "audiences=audience1,audience2",
            "providerIdentity=mock-identity",
            "serviceAccountName=default",
            "serviceAccountNamespace=default",
            "scopes=scope1,scope2",
            "stsRegion=us-east-1",
            "stsEndpoint=https://sts.some-cloud.io",
            "proxyURL=http://proxy.io:8080",
            "caData=ca-data",
        ]);
        assert_eq!(built, expected);
        Ok(())
    }

    #[test]
    fn controller_level_keys_use_the_request_audiences() {
        let request = |audience: &str| Request {
            audiences: strings(&[audience]),
            ..Request::new(Provider::Generic)
        };
        let a = access_token_key(&request("audience-a"), &[], KeyedIdentity::Controller);
        let b = access_token_key(&request("audience-b"), &[], KeyedIdentity::Controller);
        assert_ne!(a, b);
        assert_eq!(
            a,
            CacheKey::from_parts(&["provider=generic", "audiences=audience-a"])
        );
    }

    #[test]
    fn separators_inside_values_cannot_collide() {
        let base = Request::new(Provider::Generic);
        let joined = Request {
            audiences: strings(&["a,b"]),
            ..base.clone()
        };
        let split = Request {
            audiences: strings(&["a", "b"]),
            ..base.clone()
        };
        assert_ne!(
            access_token_key(&joined, &[], KeyedIdentity::Controller),
            access_token_key(&split, &[], KeyedIdentity::Controller)
        );
        let forged = Request {
            region: Some("r\nstsEndpoint=e".into()),
            ..base.clone()
        };
        let honest = Request {
            region: Some("r".into()),
            sts_endpoint: Some("e".into()),
            ..base
        };
        assert_ne!(
            access_token_key(&forged, &[], KeyedIdentity::Controller),
            access_token_key(&honest, &[], KeyedIdentity::Controller)
        );
    }

    /// A tenant: everything that can differ between two callers of one cache.
    #[derive(Clone, Debug, PartialEq)]
    struct Tenant {
        provider: usize,
        namespace: String,
        name: String,
        provider_identity: String,
        audiences: Vec<String>,
        scopes: Vec<String>,
        region: Option<String>,
        sts_endpoint: Option<String>,
        ca_data: Option<String>,
        level: u8,
        hops: Vec<(String, Option<String>)>,
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-c,|\\\\\n=-]{0,4}"
    }

    fn tenant() -> impl Strategy<Value = Tenant> {
        (
            (0..4usize, text(), text(), text()),
            (
                proptest::collection::vec(text(), 0..3),
                proptest::collection::vec(text(), 0..3),
            ),
            (
                proptest::option::of(text()),
                proptest::option::of(text()),
                proptest::option::of(text()),
                0..2u8,
            ),
            proptest::collection::vec((text(), proptest::option::of(text())), 0..3),
        )
            .prop_map(
                |(
                    (provider, namespace, name, provider_identity),
                    (audiences, scopes),
                    (region, sts_endpoint, ca_data, level),
                    hops,
                )| Tenant {
                    provider,
                    namespace,
                    name,
                    provider_identity,
                    audiences,
                    scopes,
                    region,
                    sts_endpoint,
                    ca_data,
                    level,
                    hops,
                },
            )
    }

    fn key_of(tenant: &Tenant) -> CacheKey {
        let request = Request {
            audiences: tenant.audiences.clone(),
            scopes: tenant.scopes.clone(),
            region: tenant.region.clone(),
            sts_endpoint: tenant.sts_endpoint.clone(),
            ca_data: tenant.ca_data.clone(),
            assume_roles: tenant
                .hops
                .iter()
                .map(|(role_arn, external_id)| AssumeRole {
                    role_arn: role_arn.clone(),
                    external_id: external_id.clone(),
                })
                .collect(),
            ..Request::new(Provider::ALL[tenant.provider])
        };
        let identity = match tenant.level {
            0 => KeyedIdentity::Controller,
            _ => KeyedIdentity::ServiceAccount(KeyedServiceAccount {
                provider_identity: &tenant.provider_identity,
                namespace: &tenant.namespace,
                name: &tenant.name,
            }),
        };
        access_token_key(&request, &[], identity)
    }

    /// The inputs that the key of a tenant depends on (the SA fields only at SA level).
    fn significant(tenant: &Tenant) -> Tenant {
        let mut t = tenant.clone();
        if t.level == 0 {
            t.namespace.clear();
            t.name.clear();
            t.provider_identity.clear();
        }
        t
    }

    proptest! {
        #[test]
        fn distinct_tenants_never_share_a_key(a in tenant(), b in tenant()) {
            if significant(&a) != significant(&b) {
                prop_assert_ne!(key_of(&a), key_of(&b));
            } else {
                prop_assert_eq!(key_of(&a), key_of(&b));
            }
        }
    }
}
