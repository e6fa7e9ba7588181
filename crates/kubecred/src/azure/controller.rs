//! Controller level: the process's own Azure identity, chosen as Flux chooses it (the first
//! source whose settings are complete wins; a later one is not tried when it fails), read from
//! the engine's [`Env`] only:
//!
//! 1. environment credentials: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, or
//!    `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM bundle; `AZURE_CLIENT_CERTIFICATE_PASSWORD` for an
//!    encrypted key, `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` to send `x5c`);
//! 2. workload identity: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_FEDERATED_TOKEN_FILE`
//!    and `AZURE_AUTHORITY_HOST` all set (what the AKS webhook injects);
//! 3. managed identity (IMDS), the user-assigned one `AZURE_CLIENT_ID` names, else the
//!    system-assigned one;
//! 4. only when the request allows shell-out (`--allow-shell-out`) and no managed identity
//!    answered: the Azure CLI's login (`cli`).
//!
//! When none works, the error lists what each step found missing.

use std::path::Path;

use super::authority::{self, AUTHORITY_HOST_VAR};
use super::certificate::ClientCertificate;
use super::entra::{self, App, Proof};
use super::{cli, endpoints, managed_identity};
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::{Engine, Env, Request, Secret};

/// The tenant variable.
pub const TENANT_ID_VAR: &str = "AZURE_TENANT_ID";
/// The client (application) id variable.
pub const CLIENT_ID_VAR: &str = "AZURE_CLIENT_ID";
/// The client secret variable.
pub const CLIENT_SECRET_VAR: &str = "AZURE_CLIENT_SECRET";
/// The certificate bundle variable.
pub const CERTIFICATE_PATH_VAR: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// The certificate key's password variable.
pub const CERTIFICATE_PASSWORD_VAR: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/// The send-chain variable.
pub const SEND_CHAIN_VAR: &str = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
/// The federated token file variable.
pub const FEDERATED_TOKEN_FILE_VAR: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// Resource-owner password variables (refused: Entra's ROPC flow is not supported).
const USERNAME_VAR: &str = "AZURE_USERNAME";

/// Which source the chain chose, with its settings.
#[derive(Debug)]
enum Source {
    /// An app registration (or a managed identity's federated credential) in a tenant.
    App {
        tenant: String,
        client: String,
        proof: AppProof,
    },
    ManagedIdentity {
        client: Option<String>,
    },
}

/// How an environment's app proves itself.
#[derive(Debug)]
enum AppProof {
    Secret(Secret),
    Certificate {
        path: String,
        password: Option<Secret>,
        send_chain: bool,
    },
    /// Workload identity: the projected token file.
    FederatedToken {
        token_file: String,
    },
}

/// The controller's access token for `scopes`.
pub(crate) async fn access_token(
    engine: &Engine,
    request: &Request,
    scopes: &[String],
) -> Result<AccessToken> {
    let env = engine.env();
    let (source, skipped) = choose(env);
    let result = match &source {
        Source::App {
            tenant,
            client,
            proof,
        } => {
            let authority = authority::from_env(env)?;
            let proof = match proof {
                AppProof::Secret(secret) => Proof::Secret(secret),
                AppProof::Certificate {
                    path,
                    password,
                    send_chain,
                } => {
                    let pem = crate::fs::read_bounded(Path::new(path))
                        .await
                        .map_err(|e| e.within(format_args!("{CERTIFICATE_PATH_VAR}")))?;
                    let source = format!("{CERTIFICATE_PATH_VAR} file {path}");
                    let certificate =
                        ClientCertificate::from_pem(pem.as_bytes(), password.as_ref(), &source)?;
                    let audience = authority::token_endpoint(&authority, tenant);
                    Proof::Assertion(certificate.assertion(
                        client,
                        &audience,
                        env.now(),
                        *send_chain,
                    )?)
                }
                AppProof::FederatedToken { token_file } => {
                    let token = crate::fs::read_bounded(Path::new(token_file))
                        .await
                        .map_err(|e| e.within(format_args!("{FEDERATED_TOKEN_FILE_VAR}")))?;
                    Proof::Assertion(Secret::new(token.trim()))
                }
            };
            let app = App {
                authority: &authority,
                tenant,
                client_id: client,
            };
            entra::token(engine, request, &app, proof, scopes).await
        }
        Source::ManagedIdentity { client } => {
            let scope = one_scope(scopes, "a managed identity")?;
            let url = endpoints::imds_token_url(env)?;
            let managed =
                managed_identity::token(env, engine.timeouts(), &url, client.as_deref(), scope)
                    .await;
            let mut skipped = skipped;
            match managed {
                Err(e) if e.is_not_configured() && request.allow_shell_out => {
                    skipped.push(format!("  ManagedIdentity: {e}"));
                    cli::access_token(engine, scope).await.map_err(|cli| {
                        Error::not_configured(format!(
                            "no Azure credential at controller level:\n{}\n  AzureCLI: {cli}",
                            skipped.join("\n")
                        ))
                    })
                }
                Err(e) if e.is_not_configured() => Err(Error::not_configured(format!(
                    "no Azure credential at controller level:\n{}\n  ManagedIdentity: {e}",
                    skipped.join("\n")
                ))),
                other => other,
            }
        }
    };
    result.map_err(|e| e.within(format_args!("controller level ({})", describe(&source))))
}

/// The chain's choice, and why each earlier step was skipped.
fn choose(env: &Env) -> (Source, Vec<String>) {
    let set = |name: &str| env.var(name).filter(|v| !v.is_empty());
    let mut skipped = Vec::new();
    let tenant = set(TENANT_ID_VAR);
    let client = set(CLIENT_ID_VAR);
    let secret = set(CLIENT_SECRET_VAR);
    let certificate = set(CERTIFICATE_PATH_VAR);
    match (&tenant, &client, secret, certificate) {
        (Some(tenant), Some(client), Some(secret), _) => {
            return (
                Source::App {
                    tenant: tenant.clone(),
                    client: client.clone(),
                    proof: AppProof::Secret(Secret::new(secret)),
                },
                skipped,
            );
        }
        (Some(tenant), Some(client), None, Some(path)) => {
            let send_chain =
                set(SEND_CHAIN_VAR).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            return (
                Source::App {
                    tenant: tenant.clone(),
                    client: client.clone(),
                    proof: AppProof::Certificate {
                        path,
                        password: set(CERTIFICATE_PASSWORD_VAR).map(Secret::new),
                        send_chain,
                    },
                },
                skipped,
            );
        }
        (tenant, client, None, None) => {
            let mut missing: Vec<&str> = Vec::new();
            if tenant.is_none() {
                missing.push(TENANT_ID_VAR);
            }
            if client.is_none() {
                missing.push(CLIENT_ID_VAR);
            }
            missing.push("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
            let ropc = match set(USERNAME_VAR) {
                Some(_) => {
                    " (AZURE_USERNAME/AZURE_PASSWORD are not supported: Entra's \
                            username-password flow is deprecated)"
                }
                None => "",
            };
            skipped.push(format!(
                "  EnvironmentCredential: missing {}{ropc}",
                missing.join(", ")
            ));
        }
        (_, _, _, _) => {
            let missing: Vec<&str> = [(TENANT_ID_VAR, &tenant), (CLIENT_ID_VAR, &client)]
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(name, _)| *name)
                .collect();
            skipped.push(format!(
                "  EnvironmentCredential: missing {}",
                missing.join(", ")
            ));
        }
    }
    let workload = [
        CLIENT_ID_VAR,
        TENANT_ID_VAR,
        FEDERATED_TOKEN_FILE_VAR,
        AUTHORITY_HOST_VAR,
    ];
    let absent: Vec<&str> = workload
        .iter()
        .filter(|name| set(name).is_none())
        .copied()
        .collect();
    match (&tenant, &client, set(FEDERATED_TOKEN_FILE_VAR)) {
        (Some(tenant), Some(client), Some(token_file)) if absent.is_empty() => {
            return (
                Source::App {
                    tenant: tenant.clone(),
                    client: client.clone(),
                    proof: AppProof::FederatedToken { token_file },
                },
                skipped,
            );
        }
        _ => skipped.push(format!(
            "  Workload Identity: missing environment variables for workload identity ({}). \
             Check webhook and pod configuration",
            absent.join(", ")
        )),
    }
    (Source::ManagedIdentity { client }, skipped)
}

fn describe(source: &Source) -> String {
    match source {
        Source::App { client, proof, .. } => match proof {
            AppProof::Secret(_) => format!("client secret of {CLIENT_ID_VAR} {client}"),
            AppProof::Certificate { path, .. } => {
                format!("certificate {path} of {CLIENT_ID_VAR} {client}")
            }
            AppProof::FederatedToken { .. } => {
                format!("workload identity of {CLIENT_ID_VAR} {client}")
            }
        },
        Source::ManagedIdentity { client: Some(id) } => {
            format!("user-assigned managed identity {id}")
        }
        Source::ManagedIdentity { client: None } => "system-assigned managed identity".to_owned(),
    }
}

/// The one scope a managed identity (or anything asking IMDS) can take.
pub(crate) fn one_scope<'a>(scopes: &'a [String], who: &str) -> Result<&'a str> {
    match scopes {
        [scope] => Ok(scope),
        _ => Err(Error::invalid(format!(
            "{who} takes exactly one scope, not {} ({})",
            scopes.len(),
            scopes.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "00000000-0000-0000-0000-0000000000aa";

    fn chosen(pairs: &[(&str, &str)]) -> (String, Vec<String>) {
        let (source, skipped) = choose(&Env::from_pairs(pairs));
        (describe(&source), skipped)
    }

    #[test]
    fn the_first_complete_source_wins_in_fluxs_order() {
        let base = [(TENANT_ID_VAR, TENANT), (CLIENT_ID_VAR, CLIENT)];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            chosen(&pairs).0
        };
        assert!(
            with(&[(CLIENT_SECRET_VAR, "s"), (CERTIFICATE_PATH_VAR, "/c")])
                .starts_with("client secret")
        );
        assert!(with(&[(CERTIFICATE_PATH_VAR, "/c")]).starts_with("certificate /c"));
        assert!(
            with(&[
                (FEDERATED_TOKEN_FILE_VAR, "/t"),
                (AUTHORITY_HOST_VAR, "https://login.microsoftonline.com/")
            ])
            .starts_with("workload identity")
        );
        // Workload identity needs the authority host too (the webhook sets all four).
        assert_eq!(
            with(&[(FEDERATED_TOKEN_FILE_VAR, "/t")]),
            format!("user-assigned managed identity {CLIENT}")
        );
        assert_eq!(chosen(&[]).0, "system-assigned managed identity");
    }

    #[test]
    fn skipped_steps_say_what_was_missing() {
        let (_, skipped) = chosen(&[(CLIENT_ID_VAR, CLIENT), (USERNAME_VAR, "u")]);
        assert_eq!(
            skipped,
            vec![
                "  EnvironmentCredential: missing AZURE_TENANT_ID, AZURE_CLIENT_SECRET or \
                 AZURE_CLIENT_CERTIFICATE_PATH (AZURE_USERNAME/AZURE_PASSWORD are not supported: \
                 Entra's username-password flow is deprecated)"
                    .to_owned(),
                "  Workload Identity: missing environment variables for workload identity \
                 (AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST). Check \
                 webhook and pod configuration"
                    .to_owned(),
            ]
        );
        let (_, skipped) = chosen(&[(CLIENT_SECRET_VAR, "s")]);
        assert_eq!(
            skipped.first().map(String::as_str),
            Some("  EnvironmentCredential: missing AZURE_TENANT_ID, AZURE_CLIENT_ID")
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let (source, _) = choose(&Env::from_pairs(&[
            (TENANT_ID_VAR, TENANT),
            (CLIENT_ID_VAR, CLIENT),
            (CLIENT_SECRET_VAR, "very-secret-value"),
        ]));
        assert!(!format!("{source:?}").contains("very-secret-value"));
    }

    #[test]
    fn managed_identities_take_one_scope() {
        assert!(one_scope(&["a/.default".into()], "x").is_ok());
        let two = ["a/.default".to_owned(), "b/.default".to_owned()];
        let error = one_scope(&two, "a managed identity");
        assert_eq!(
            error.err().map(|e| e.to_string()).as_deref(),
            Some("a managed identity takes exactly one scope, not 2 (a/.default b/.default)")
        );
    }
}
