//! The Azure CLI as a last-resort controller-level source (`Request::allow_shell_out`): `az
//! account get-access-token` through `azure_identity`'s `AzureCliCredential`, which runs `az`
//! from `PATH` with `/bin/sh`, in the tenant `AZURE_TENANT_ID` names if set. Only people at a
//! terminal ask for it (`kubecred --allow-shell-out`): a controller never runs programs to get
//! credentials.

use std::time::SystemTime;

use azure_core::credentials::TokenCredential;
use azure_identity::{AzureCliCredential, AzureCliCredentialOptions};

use super::authority;
use super::controller::TENANT_ID_VAR;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::{Engine, Secret};

/// The Azure CLI's token for `scope`.
pub(crate) async fn access_token(engine: &Engine, scope: &str) -> Result<AccessToken> {
    let tenant = engine.env().var(TENANT_ID_VAR).filter(|t| !t.is_empty());
    if let Some(tenant) = &tenant {
        authority::tenant(tenant, TENANT_ID_VAR)?;
    }
    let options = AzureCliCredentialOptions {
        tenant_id: tenant,
        ..AzureCliCredentialOptions::default()
    };
    let failed = |e: azure_core::Error| {
        let text = e.to_string();
        let said = text
            .split("\nTo troubleshoot")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        Error::not_configured(format!(
            "the Azure CLI (az account get-access-token): {said}"
        ))
    };
    let credential = AzureCliCredential::new(Some(options)).map_err(failed)?;
    let token = credential.get_token(&[scope], None).await.map_err(failed)?;
    Ok(AccessToken {
        token: Secret::new(token.token.secret().to_owned()),
        expires_at: SystemTime::from(token.expires_on),
        scopes: vec![scope.to_owned()],
    })
}
