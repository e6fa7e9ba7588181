//! Secret level: an app registration's credentials in a Secret, in the two forms Flux reads:
//!
//! - keys `tenantId`, `clientId` and `clientSecret`, or `clientCertificate` (PEM certificate and
//!   key; `clientCertificatePassword` for an encrypted key; `clientCertificateSendChain` the
//!   *string* `"true"`/`"false"`), optionally `authorityHost`;
//! - key `sops.azure-kv`: the same fields as YAML, `clientCertificateSendChain` a YAML *boolean*.
//!
//! A Secret is a tenant's: its authority host must be a public cloud's or the operator's
//! (`authority::from_secret`); every field is checked and errors name the key, never a
//! value of a secret field.

use std::collections::BTreeMap;

use serde::Deserialize;
use url::Url;

use super::authority;
use super::certificate::ClientCertificate;
use crate::error::{Error, Result};
use crate::{Env, Secret};

/// The key of the YAML form.
pub const SOPS_KEY: &str = "sops.azure-kv";

/// What the Secret proves the app with.
pub enum Credentials {
    /// A client secret.
    Secret(Secret),
    /// A certificate, with or without its chain sent.
    Certificate {
        /// The certificate and its key.
        certificate: Box<ClientCertificate>,
        /// Whether the chain is sent (`x5c`).
        send_chain: bool,
    },
}

/// The app registration a Secret holds.
pub struct AppSecret {
    /// The tenant.
    pub tenant: String,
    /// The client (application) id.
    pub client_id: String,
    /// The authority host.
    pub authority: Url,
    /// How the app proves itself.
    pub credentials: Credentials,
}

/// The YAML form's fields (`deny_unknown_fields`: a misspelt field is an error, not ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SopsForm {
    tenant_id: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_certificate: Option<String>,
    #[serde(default)]
    client_certificate_password: Option<String>,
    #[serde(default)]
    client_certificate_send_chain: Option<PlainBool>,
    #[serde(default)]
    authority_host: Option<String>,
}

/// A YAML boolean written as one (`true`, not `"true"`: the form Flux documents).
struct PlainBool(bool);

impl<'de> Deserialize<'de> for PlainBool {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PlainBool;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an unquoted boolean")
            }
            fn visit_bool<E>(self, value: bool) -> std::result::Result<PlainBool, E> {
                Ok(PlainBool(value))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The fields, from either form.
struct Fields {
    tenant: String,
    client: String,
    secret: Option<Secret>,
    certificate: Option<Secret>,
    password: Option<Secret>,
    send_chain: bool,
    authority: Option<String>,
}

/// The Secret's app registration, checked.
pub fn app(env: &Env, data: &BTreeMap<String, Secret>) -> Result<AppSecret> {
    let (fields, source) = match data.get(SOPS_KEY) {
        Some(yaml) => (sops_form(yaml)?, format!("Secret key '{SOPS_KEY}'")),
        None => (key_form(data)?, "the Secret".to_owned()),
    };
    let tenant = authority::tenant(&fields.tenant, &format!("{source}: tenantId"))?.to_owned();
    let client_id =
        authority::client_id(&fields.client, &format!("{source}: clientId"))?.to_owned();
    let authority = match &fields.authority {
        Some(host) => authority::from_secret(env, host, &format!("{source}: authorityHost"))?,
        None => authority::from_env(env)?,
    };
    let credentials = match (fields.secret, fields.certificate) {
        (Some(secret), None) => Credentials::Secret(secret),
        (None, Some(pem)) => {
            let shown = format!("{source}: clientCertificate");
            let certificate = ClientCertificate::from_pem(
                pem.expose().as_bytes(),
                fields.password.as_ref(),
                &shown,
            )?;
            Credentials::Certificate {
                certificate: Box::new(certificate),
                send_chain: fields.send_chain,
            }
        }
        (Some(_), Some(_)) => {
            return Err(Error::invalid(format!(
                "{source}: both clientSecret and clientCertificate are set; keep one"
            )));
        }
        (None, None) => {
            return Err(Error::invalid(format!(
                "{source}: neither clientSecret nor clientCertificate is set"
            )));
        }
    };
    Ok(AppSecret {
        tenant,
        client_id,
        authority,
        credentials,
    })
}

fn key_form(data: &BTreeMap<String, Secret>) -> Result<Fields> {
    let text = |key: &str| data.get(key).map(|v| v.expose().trim().to_owned());
    let required = |key: &str| {
        text(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::invalid(format!(
                "the Secret has no '{key}' (an Azure app Secret has tenantId, clientId and \
                 clientSecret or clientCertificate, or the key {SOPS_KEY})"
            ))
        })
    };
    let send_chain = match text("clientCertificateSendChain").as_deref() {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Error::invalid(
                "the Secret's clientCertificateSendChain must be \"true\" or \"false\"",
            ));
        }
    };
    Ok(Fields {
        tenant: required("tenantId")?,
        client: required("clientId")?,
        secret: data.get("clientSecret").cloned(),
        certificate: data.get("clientCertificate").cloned(),
        password: data.get("clientCertificatePassword").cloned(),
        send_chain,
        authority: text("authorityHost").filter(|v| !v.is_empty()),
    })
}

fn sops_form(yaml: &Secret) -> Result<Fields> {
    let form: SopsForm = serde_saphyr::from_str(yaml.expose()).map_err(|e| {
        // serde-saphyr's message may quote the document; only say where.
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::invalid(format!(
            "Secret key '{SOPS_KEY}': not the expected YAML{at} (tenantId, clientId, \
             clientSecret or clientCertificate, clientCertificatePassword, \
             clientCertificateSendChain as a boolean, authorityHost)"
        ))
    })?;
    Ok(Fields {
        tenant: form.tenant_id,
        client: form.client_id,
        secret: form.client_secret.map(Secret::new),
        certificate: form.client_certificate.map(Secret::new),
        password: form.client_certificate_password.map(Secret::new),
        send_chain: form.client_certificate_send_chain.is_some_and(|b| b.0),
        authority: form.authority_host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "00000000-0000-0000-0000-0000000000aa";
    const BUNDLE: &str = include_str!("testdata/bundle.pem");
    const BUNDLE_ENCRYPTED: &str = include_str!("testdata/bundle-chain-encrypted.pem");

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
            .collect()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        app(&Env::from_pairs(&[]), &data(pairs))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn both_forms_give_the_same_app() {
        let keys = data(&[
            ("tenantId", TENANT),
            ("clientId", CLIENT),
            ("clientCertificate", BUNDLE),
            ("clientCertificateSendChain", "true"),
        ]);
        let indented: String = BUNDLE.lines().map(|l| format!("  {l}\n")).collect();
        let yaml = format!(
            "tenantId: {TENANT}\nclientId: {CLIENT}\nclientCertificateSendChain: true\n\
             clientCertificate: |\n{indented}"
        );
        let sops = data(&[(SOPS_KEY, &yaml)]);
        for form in [keys, sops] {
            let Ok(app) = app(&Env::from_pairs(&[]), &form) else {
                panic!("form refused");
            };
            assert_eq!(
                (app.tenant.as_str(), app.client_id.as_str()),
                (TENANT, CLIENT)
            );
            assert_eq!(app.authority.as_str(), authority::PUBLIC);
            assert!(matches!(
                app.credentials,
                Credentials::Certificate {
                    send_chain: true,
                    ..
                }
            ));
        }
    }

    /// What each form takes: the send-chain flag's spellings, an encrypted key with its
    /// password, a known or the operator's authority host.
    #[test]
    fn good_secrets_of_either_form() {
        let send_chain = |pairs: &[(&str, &str)]| match app(&Env::from_pairs(&[]), &data(pairs)) {
            Ok(AppSecret {
                credentials: Credentials::Certificate { send_chain, .. },
                ..
            }) => Some(send_chain),
            _ => None,
        };
        let certificate = [
            ("tenantId", TENANT),
            ("clientId", CLIENT),
            ("clientCertificate", BUNDLE_ENCRYPTED),
            ("clientCertificatePassword", "s3cret"),
        ];
        for (flag, expected) in [
            (None, false),
            (Some(""), false),
            (Some("false"), false),
            (Some("true"), true),
            (Some(" true\n"), true),
        ] {
            let mut pairs = certificate.to_vec();
            pairs.extend(flag.map(|f| ("clientCertificateSendChain", f)));
            assert_eq!(send_chain(&pairs), Some(expected), "{flag:?}");
        }
        let indented: String = BUNDLE_ENCRYPTED
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        for (flag, expected) in [
            ("", false),
            ("clientCertificateSendChain: false\n", false),
            ("clientCertificateSendChain: true\n", true),
        ] {
            let yaml = format!(
                "tenantId: {TENANT}\nclientId: {CLIENT}\nclientCertificatePassword: s3cret\n{flag}clientCertificate: |\n{indented}"
            );
            assert_eq!(send_chain(&[(SOPS_KEY, &yaml)]), Some(expected), "{flag}");
        }
        let operator =
            Env::from_pairs(&[(authority::AUTHORITY_HOST_VAR, "https://127.0.0.1:8443/")]);
        for (host, expected) in [
            (None, "https://127.0.0.1:8443/"),
            (Some("https://127.0.0.1:8443"), "https://127.0.0.1:8443/"),
            (
                Some("https://login.chinacloudapi.cn/"),
                "https://login.chinacloudapi.cn/",
            ),
            (
                Some(" https://login.microsoftonline.us "),
                "https://login.microsoftonline.us/",
            ),
        ] {
            let mut pairs = vec![
                ("tenantId", "contoso.onmicrosoft.com"),
                ("clientId", CLIENT),
                ("clientSecret", "s"),
            ];
            pairs.extend(host.map(|h| ("authorityHost", h)));
            let parsed = app(&operator, &data(&pairs));
            assert_eq!(
                parsed
                    .as_ref()
                    .map(|a| (a.tenant.as_str(), a.authority.as_str()))
                    .ok(),
                Some(("contoso.onmicrosoft.com", expected)),
                "{host:?}"
            );
            assert!(matches!(
                parsed,
                Ok(AppSecret {
                    credentials: Credentials::Secret(_),
                    ..
                })
            ));
        }
    }

    #[test]
    fn the_send_chain_type_follows_the_form() {
        let quoted = error(&[
            ("tenantId", TENANT),
            ("clientId", CLIENT),
            ("clientSecret", "s"),
            ("clientCertificateSendChain", "yes"),
        ]);
        assert!(quoted.contains("must be \"true\" or \"false\""), "{quoted}");
        let yaml = format!(
            "tenantId: {TENANT}\nclientId: {CLIENT}\nclientSecret: s\n\
             clientCertificateSendChain: \"true\"\n"
        );
        let string_in_yaml = error(&[(SOPS_KEY, &yaml)]);
        assert!(
            string_in_yaml.contains("not the expected YAML at line"),
            "{string_in_yaml}"
        );
    }

    #[test]
    fn bad_secrets_name_the_field_and_never_a_secret() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("clientId", CLIENT), ("clientSecret", "hunter2")],
                "no 'tenantId'",
            ),
            (
                &[
                    ("tenantId", "not a tenant"),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                ],
                "the Secret: tenantId: invalid tenant",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", "app"),
                    ("clientSecret", "hunter2"),
                ],
                "the Secret: clientId: invalid client id",
            ),
            (
                &[("tenantId", TENANT), ("clientId", CLIENT)],
                "neither clientSecret nor",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                    ("clientCertificate", BUNDLE),
                ],
                "keep one",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                    ("authorityHost", "https://login.evil.example/"),
                ],
                "authorityHost: authority host 'https://login.evil.example/' is not one of",
            ),
            (
                &[(SOPS_KEY, "clientSecret: hunter2\n")],
                "not the expected YAML",
            ),
            (&[(SOPS_KEY, "tenantId: [hunter2")], "not the expected YAML"),
            (
                &[(
                    SOPS_KEY,
                    "tenantId: t\nclientId: c\nclientSecret: hunter2\nclientID: x\n",
                )],
                "Secret key 'sops.azure-kv': not the expected YAML at line",
            ),
            (&[(SOPS_KEY, "- hunter2\n")], "not the expected YAML"),
            (&[(SOPS_KEY, "")], "not the expected YAML"),
            (
                &[(SOPS_KEY, "clientSecret: \"hunter2")],
                "not the expected YAML",
            ),
            (
                &[(
                    SOPS_KEY,
                    "tenantId: not a tenant\nclientId: c\nclientSecret: hunter2\n",
                )],
                "Secret key 'sops.azure-kv': tenantId: invalid tenant",
            ),
            (
                &[
                    ("tenantId", " "),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                ],
                "no 'tenantId'",
            ),
            (
                &[("tenantId", TENANT), ("clientSecret", "hunter2")],
                "no 'clientId'",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                    ("clientCertificateSendChain", "True"),
                ],
                "clientCertificateSendChain must be \"true\" or \"false\"",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    (
                        "clientCertificate",
                        "-----BEGIN PRIVATE KEY-----\nhunter2\n-----END PRIVATE KEY-----\n",
                    ),
                    ("clientCertificatePassword", "hunter2"),
                ],
                "the Secret: clientCertificate",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    ("clientCertificate", BUNDLE_ENCRYPTED),
                    ("clientCertificatePassword", "hunter2"),
                ],
                "client certificate in the Secret: clientCertificate:",
            ),
            (
                &[
                    ("tenantId", TENANT),
                    ("clientId", CLIENT),
                    ("clientSecret", "hunter2"),
                    (
                        "authorityHost",
                        "https://user:hunter2@login.microsoftonline.com/",
                    ),
                ],
                "authorityHost: invalid authority host 'https://***@login.microsoftonline.com/': user info is not allowed",
            ),
        ];
        for (pairs, expected) in cases {
            let message = error(pairs);
            assert!(message.contains(expected), "{expected}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
