//! From the identity flags (declared once, in `args::IdentityArgs`) to the library's `Engine` and
//! `Request`: the one place every command and front door turns flags into a request (ripgrep's
//! low-level args → high-level args).

use kubecred::{
    AssumeRole, Engine, Identity, Kubernetes, PolicyConfig, Provider, Purpose, Request,
};

use crate::UsageError;
use crate::args::{IdentityArgs, PurposeArg};

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
        None => Kubernetes::infer_in_context(args.context.as_deref(), crate::timeouts()).await,
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
        allow_shell_out: args.allow_shell_out,
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
