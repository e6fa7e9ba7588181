//! `kubecred registry login HOST`: registry username, password and expiry as JSON.

use anyhow::Context;
use kubecred::{Provider, registry};
use serde_json::json;

use crate::UsageError;
use crate::args::RegistryLoginArgs;
use crate::request::prepare;
use crate::token::rfc3339;

pub async fn login(args: RegistryLoginArgs) -> anyhow::Result<()> {
    let provider = provider(&args)?;
    let (engine, request) = prepare(&args.identity, provider).await?;
    let credentials = registry::login(&engine, &args.host, &request)
        .await
        .with_context(|| format!("logging in to {}", registry::registry_host(&args.host)))?;
    let output = json!({
        "username": credentials.username,
        "password": credentials.password.expose(),
        "expiresAt": rfc3339(credentials.expires_at)?,
    });
    println!("{output}");
    Ok(())
}

fn provider(args: &RegistryLoginArgs) -> Result<Provider, UsageError> {
    match &args.provider {
        Some(name) => name
            .parse()
            .map_err(|e: kubecred::Error| UsageError(e.to_string())),
        None => registry::provider_for_host(registry::registry_host(&args.host)).ok_or_else(|| {
            UsageError(format!(
                "'{}' is not a registry kubecred knows ({}); name the provider with --provider",
                args.host,
                crate::help::registries()
            ))
        }),
    }
}
