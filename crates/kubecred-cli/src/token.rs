//! `kubecred token`: one credential, printed as text or JSON.

use anyhow::Context;
use kubecred::{
    Credential, Engine, Identity, Kubernetes, PolicyConfig, Provider, Purpose, Request,
};
use serde_json::json;

use crate::UsageError;
use crate::args::{Output, PurposeArg, TokenArgs};

pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    let policy = policy(&args)?.build()?;
    let kubernetes = connect(&args).await;
    let request = request(&args, provider, kubernetes.as_ref().ok())?;
    let mut engine = Engine::new(policy);
    match kubernetes {
        Ok(kubernetes) => engine = engine.with_kubernetes(kubernetes),
        Err(error) => tracing::debug!(error = %error, "no Kubernetes access"),
    }
    let credential = engine
        .token(&request)
        .await
        .context("getting credentials")?;
    println!("{}", render(&credential, args.output)?);
    Ok(())
}

async fn connect(args: &TokenArgs) -> kubecred::Result<Kubernetes> {
    match &args.kubeconfig {
        Some(path) => Kubernetes::from_kubeconfig(path, args.context.as_deref()).await,
        None => Kubernetes::infer().await,
    }
}

/// The controller policy the flags describe; the gate defaults to on (the CLI runs as you).
fn policy(args: &TokenArgs) -> Result<PolicyConfig, UsageError> {
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
    args: &TokenArgs,
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
    let needs_namespace = identity != Identity::Controller || has_defaults(args);
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
        ca_data: None,
        ..Request::new(provider)
    })
}

fn has_defaults(args: &TokenArgs) -> bool {
    [
        &args.default_service_account,
        &args.default_kubeconfig_service_account,
        &args.default_decryption_service_account,
    ]
    .iter()
    .any(|name| name.is_some())
}

/// The identity the flags name, and the namespace written in `NS/NAME`, if any.
fn identity(args: &TokenArgs) -> Result<(Identity, Option<String>), UsageError> {
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
    Ok((Identity::Controller, None))
}

/// The credential as the chosen output format prints it.
pub fn render(credential: &Credential, output: Output) -> anyhow::Result<String> {
    let expires_at = credential.expires_at().map(rfc3339).transpose()?;
    Ok(match (output, credential) {
        (Output::Text, Credential::CloudKeys(keys)) => {
            format!("{} {}", keys.access_key_id, keys.secret_access_key.expose())
        }
        (Output::Text, other) => other
            .bearer_token()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default(),
        (Output::Json, Credential::CloudKeys(keys)) => json!({
            "kind": credential.kind(),
            "accessKeyId": keys.access_key_id,
            "secretAccessKey": keys.secret_access_key.expose(),
            "sessionToken": keys.session_token.as_ref().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
        (Output::Json, other) => json!({
            "kind": other.kind(),
            "token": other.bearer_token().map(|t| t.expose()),
            "expiresAt": expires_at,
        })
        .to_string(),
    })
}

/// RFC 3339 in whole seconds, UTC.
pub fn rfc3339(time: std::time::SystemTime) -> anyhow::Result<String> {
    let timestamp = jiff::Timestamp::try_from(time).context("expiry out of range")?;
    Ok(timestamp
        .round(jiff::Unit::Second)
        .context("expiry out of range")?
        .to_string())
}
