//! `kubecred token`: one credential, printed as text or JSON.

use anyhow::Context;
use kubecred::{
    AssumeRole, CloudKeys, Credential, Engine, Identity, Kubernetes, PolicyConfig, Provider,
    Purpose, Request,
};
use serde_json::json;

use crate::UsageError;
use crate::args::{IdentityArgs, Output, PurposeArg, TokenArgs};

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    if matches!(args.output, Output::Env | Output::CredentialProcess) && provider != Provider::Aws {
        let name = if args.output == Output::Env {
            "env"
        } else {
            "credential-process"
        };
        return Err(UsageError(format!(
            "--output {name} prints AWS keys; provider '{provider}' issues tokens"
        ))
        .into());
    }
    let (engine, request) = prepare(&args.identity, provider).await?;
    let credential = engine
        .token(&request)
        .await
        .context("getting credentials")?;
    println!("{}", render(&credential, args.output)?);
    Ok(())
}

/// The engine and request the identity flags describe.
pub async fn prepare(args: &IdentityArgs, provider: Provider) -> anyhow::Result<(Engine, Request)> {
    let policy = policy(args)?.build()?;
    let kubernetes = connect(args).await;
    let request = request(args, provider, kubernetes.as_ref().ok())?;
    let mut engine = Engine::new(policy).with_timeouts(crate::timeouts());
    match kubernetes {
        Ok(kubernetes) => engine = engine.with_kubernetes(kubernetes),
        Err(error) => tracing::debug!(error = %error, "no Kubernetes access"),
    }
    Ok((engine, request))
}

pub async fn connect(args: &IdentityArgs) -> kubecred::Result<Kubernetes> {
    match &args.kubeconfig {
        Some(path) => {
            let context = args.context.as_deref();
            Kubernetes::from_kubeconfig_with_timeouts(path, context, crate::timeouts()).await
        }
        None => Kubernetes::infer_with_timeouts(crate::timeouts()).await,
    }
}

/// The controller policy the flags describe; the gate defaults to on (the CLI runs as you).
fn policy(args: &IdentityArgs) -> Result<PolicyConfig, UsageError> {
    let mut object_level = true;
    for gate in args
        .feature_gates
        .iter()
        .flat_map(|gates| gates.split(','))
        .filter(|g| !g.trim().is_empty())
    {
        let (name, value) = gate.split_once('=').unwrap_or((gate, "true"));
        if name.trim() != kubecred::FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY {
            return Err(UsageError(format!(
                "unknown feature gate '{}': known gates are {}",
                name.trim(),
                kubecred::FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY
            )));
        }
        object_level = value.trim().parse().map_err(|_| {
            UsageError(format!(
                "feature gate {}: '{}' is not true or false",
                name.trim(),
                value.trim()
            ))
        })?;
    }
    Ok(PolicyConfig {
        object_level_workload_identity: object_level,
        default_service_account: args.default_service_account.clone(),
        default_kubeconfig_service_account: args.default_kubeconfig_service_account.clone(),
        default_decryption_service_account: args.default_decryption_service_account.clone(),
    })
}

fn request(
    args: &IdentityArgs,
    provider: Provider,
    kubernetes: Option<&Kubernetes>,
) -> Result<Request, UsageError> {
    let (identity, named_namespace) = identity(args)?;
    let explicit = match (&args.namespace, named_namespace) {
        (Some(flag), Some(named)) if *flag != named => {
            return Err(UsageError(format!(
                "--{} names namespace '{named}' but --namespace is '{flag}': a ServiceAccount or Secret is \
                 only ever used in the namespace of the object asking",
                if args.secret.is_some() {
                    "secret"
                } else {
                    "service-account"
                }
            )));
        }
        (Some(flag), _) => Some(flag.clone()),
        (None, named) => named,
    };
    let needs_namespace =
        matches!(identity, Identity::ServiceAccount(_) | Identity::Secret(_)) || has_defaults(args);
    let namespace = explicit.or_else(|| {
        needs_namespace.then(|| {
            kubernetes
                .map_or("default", Kubernetes::default_namespace)
                .to_owned()
        })
    });
    Ok(Request {
        identity,
        namespace,
        purpose: match args.purpose {
            PurposeArg::General => Purpose::General,
            PurposeArg::Kubeconfig => Purpose::Kubeconfig,
            PurposeArg::Decryption => Purpose::Decryption,
        },
        audiences: args.audiences.clone(),
        scopes: args.scopes.clone(),
        region: args.region.clone(),
        sts_endpoint: args.sts_endpoint.clone(),
        proxy: args.proxy.clone(),
        assume_roles: assume_roles(args),
        ..Request::new(provider)
    })
}

fn has_defaults(args: &IdentityArgs) -> bool {
    [
        &args.default_service_account,
        &args.default_kubeconfig_service_account,
        &args.default_decryption_service_account,
    ]
    .iter()
    .any(|name| name.is_some())
}

/// The identity the flags name, and the namespace written in `NS/NAME`, if any.
fn identity(args: &IdentityArgs) -> Result<(Identity, Option<String>), UsageError> {
    let split = |flag: &str, value: &str| -> Result<(Option<String>, String), UsageError> {
        let (namespace, name) = match value.split_once('/') {
            Some((ns, name)) => (Some(ns.to_owned()), name),
            None => (None, value),
        };
        let bad = |part: &str| part.is_empty() || part.contains('/');
        if bad(name) || namespace.as_deref().is_some_and(bad) {
            return Err(UsageError(format!(
                "--{flag} '{value}': expected NAME or NAMESPACE/NAME"
            )));
        }
        Ok((namespace, name.to_owned()))
    };
    if let Some(value) = &args.service_account {
        let (namespace, name) = split("service-account", value)?;
        return Ok((Identity::ServiceAccount(name), namespace));
    }
    if let Some(value) = &args.secret {
        let (namespace, name) = split("secret", value)?;
        return Ok((Identity::Secret(name), namespace));
    }
    match args.node {
        true => Ok((Identity::Node, None)),
        false => Ok((Identity::Controller, None)),
    }
}

/// The role chain; the external ID belongs to the last hop.
fn assume_roles(args: &IdentityArgs) -> Vec<AssumeRole> {
    let last = args.assume_roles.len().saturating_sub(1);
    args.assume_roles
        .iter()
        .enumerate()
        .map(|(i, arn)| AssumeRole {
            role_arn: arn.clone(),
            external_id: args.external_id.clone().filter(|_| i == last),
        })
        .collect()
}

/// The credential as the chosen output format prints it.
pub fn render(credential: &Credential, output: Output) -> anyhow::Result<String> {
    let expires_at = credential.expires_at().map(rfc3339).transpose()?;
    let keys = match credential {
        Credential::CloudKeys(keys) => Some(keys),
        _ => None,
    };
    Ok(match (output, keys) {
        (Output::Text, Some(keys)) => {
            format!("{} {}", keys.access_key_id, keys.secret_access_key.expose())
        }
        (Output::Text, None) => credential
            .bearer_token()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default(),
        (Output::Json, Some(keys)) => json!({
            "kind": credential.kind(),
            "accessKeyId": keys.access_key_id,
            "secretAccessKey": keys.secret_access_key.expose(),
            "sessionToken": keys.session_token.as_ref().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
        (Output::Json, None) => json!({
            "kind": credential.kind(),
            "token": credential.bearer_token().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
        (Output::Env, Some(keys)) => env_exports(keys, expires_at.as_deref()),
        (Output::CredentialProcess, Some(keys)) => credential_process(keys, expires_at.as_deref()),
        (_, None) => anyhow::bail!(
            "this output format prints AWS keys, but the credential is a {}",
            credential.kind()
        ),
    })
}

/// `export` lines for a POSIX shell, values single-quoted.
fn env_exports(keys: &CloudKeys, expires_at: Option<&str>) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\'', r"'\''"));
    let mut lines = vec![
        format!("export AWS_ACCESS_KEY_ID={}", quote(&keys.access_key_id)),
        format!(
            "export AWS_SECRET_ACCESS_KEY={}",
            quote(keys.secret_access_key.expose())
        ),
    ];
    match &keys.session_token {
        Some(token) => lines.push(format!(
            "export AWS_SESSION_TOKEN={}",
            quote(token.expose())
        )),
        None => lines.push("unset AWS_SESSION_TOKEN".to_owned()),
    }
    if let Some(expires_at) = expires_at {
        lines.push(format!(
            "export AWS_CREDENTIAL_EXPIRATION={}",
            quote(expires_at)
        ));
    }
    lines.join("\n")
}

/// The `credential_process` JSON (Version 1) of the AWS SDKs.
fn credential_process(keys: &CloudKeys, expires_at: Option<&str>) -> String {
    let mut object = json!({
        "Version": 1,
        "AccessKeyId": keys.access_key_id,
        "SecretAccessKey": keys.secret_access_key.expose(),
    });
    if let Some(token) = &keys.session_token {
        object["SessionToken"] = token.expose().into();
    }
    if let Some(expires_at) = expires_at {
        object["Expiration"] = expires_at.into();
    }
    object.to_string()
}

/// RFC 3339 in whole seconds, UTC.
pub fn rfc3339(time: std::time::SystemTime) -> anyhow::Result<String> {
    let timestamp = jiff::Timestamp::try_from(time).context("expiry out of range")?;
    Ok(timestamp
        .round(jiff::Unit::Second)
        .context("expiry out of range")?
        .to_string())
}
