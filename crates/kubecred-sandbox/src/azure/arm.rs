//! Azure Resource Manager (HTTPS), for AKS: `GET …/managedClusters/{name}` and
//! `POST …/managedClusters/{name}/listClusterUserCredential`, with an ARM token, for the
//! configured clusters (path segments compared case-insensitively, as ARM does), for the
//! cluster's readers and, with [`super::AzureConfig::require_role_assignments`], for holders of
//! `Azure Kubernetes Service Cluster User Role` on it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::config::{AKS_AUDIENCE, AKS_CLUSTER_USER, AksCluster, KNOWN_RESOURCES};
use super::error::{ArmError, shown};
use super::state::{AzureState, Caller, TokenProblem};

/// What [`AzureState::calls`] counts a cluster read as.
pub(crate) const GET_ACTION: &str = "arm.managedClusters.get";
/// What [`AzureState::calls`] counts a credential listing as.
pub(crate) const CREDENTIAL_ACTION: &str = "arm.listClusterUserCredential";

/// The ARM router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(
    State(state): State<Arc<AzureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match answer(&state, &method, &uri, &headers) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, "the ARM stand-in refused a request");
            error.into_response()
        }
    }
}

/// The cluster and whether the credential listing is asked, from the path.
fn parse(path: &str) -> Option<(&str, &str, &str, bool)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let fixed = |index: usize, name: &str| {
        parts
            .get(index)
            .is_some_and(|p| p.eq_ignore_ascii_case(name))
    };
    let ok = fixed(0, "subscriptions")
        && fixed(2, "resourceGroups")
        && fixed(4, "providers")
        && fixed(5, "Microsoft.ContainerService")
        && fixed(6, "managedClusters");
    match (ok, parts.len()) {
        (true, 8) => Some((parts[1], parts[3], parts[7], false)),
        (true, 9) if fixed(8, "listClusterUserCredential") => {
            Some((parts[1], parts[3], parts[7], true))
        }
        _ => None,
    }
}

fn answer(
    state: &AzureState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, ArmError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = authenticate(state, authorization)?;
    let Some((subscription, group, name, credentials)) = parse(uri.path()) else {
        return Err(ArmError::new(
            404,
            "InvalidResourceType",
            "The resource type could not be found in the namespace or the api version is not supported.",
        ));
    };
    let has_version = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|p| p.starts_with("api-version=") && p.len() > 12);
    if !has_version {
        return Err(ArmError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    let expected = if credentials {
        Method::POST
    } else {
        Method::GET
    };
    if method != expected {
        return Err(ArmError::new(
            405,
            "MethodNotAllowed",
            format!("The requested method '{method}' is not allowed here."),
        ));
    }
    let cluster = state.config.clusters.iter().find(|c| {
        c.subscription_id.eq_ignore_ascii_case(subscription)
            && c.resource_group.eq_ignore_ascii_case(group)
            && c.name.eq_ignore_ascii_case(name)
    });
    let Some(cluster) = cluster else {
        return Err(ArmError::new(
            404,
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.ContainerService/managedClusters/{}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                shown(name),
                shown(group)
            ),
        ));
    };
    let action = match credentials {
        true => "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
        false => "Microsoft.ContainerService/managedClusters/read",
    };
    let readers = cluster.readers.is_empty() || cluster.readers.iter().any(|r| caller.is(r));
    let role = !state.config.require_role_assignments
        || state.granted(&caller, &cluster.resource_id(), &[AKS_CLUSTER_USER]);
    if !(readers && role) {
        return Err(ArmError::new(
            403,
            "AuthorizationFailed",
            format!(
                "The client '{oid}' with object id '{oid}' does not have authorization to perform action '{action}' over scope '{}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                cluster.resource_id(),
                oid = caller.oid
            ),
        ));
    }
    Ok(match credentials {
        true => {
            state.count(CREDENTIAL_ACTION);
            axum::Json(credential_list(state, cluster)).into_response()
        }
        false => {
            state.count(GET_ACTION);
            axum::Json(describe(state, cluster)).into_response()
        }
    })
}

fn authenticate(state: &AzureState, authorization: Option<&str>) -> Result<Caller, ArmError> {
    let mut audiences: Vec<&str> = KNOWN_RESOURCES
        .iter()
        .copied()
        .filter(|r| r.contains("management"))
        .collect();
    audiences.extend(state.config.extra_resources.iter().map(String::as_str));
    state
        .authenticate(authorization, &audiences)
        .map_err(|problem| match problem {
            TokenProblem::Missing => ArmError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ),
            TokenProblem::Invalid => {
                ArmError::new(401, "InvalidAuthenticationToken", "The access token is invalid.")
            }
            TokenProblem::Expired { exp } => ArmError::new(
                401,
                "ExpiredAuthenticationToken",
                format!(
                    "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                    crate::clock::rfc3339(exp),
                    crate::clock::rfc3339(crate::clock::unix_now())
                ),
            ),
            TokenProblem::Audience(audience) => ArmError::new(
                401,
                "InvalidAuthenticationTokenAudience",
                format!(
                    "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
                    shown(&audience)
                ),
            ),
        })
}

/// The API server's host (AKS's `fqdn`).
fn fqdn(cluster: &AksCluster) -> String {
    url::Url::parse(&cluster.server)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

fn describe(state: &AzureState, cluster: &AksCluster) -> serde_json::Value {
    let mut properties = serde_json::json!({
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "kubernetesVersion": "1.33.0",
        "currentKubernetesVersion": "1.33.0",
        "dnsPrefix": cluster.name,
        "fqdn": fqdn(cluster),
        "azurePortalFQDN": fqdn(cluster),
        "enableRBAC": true,
        "nodeResourceGroup": format!("MC_{}_{}_{}", cluster.resource_group, cluster.name, cluster.location),
    });
    if cluster.entra_integration {
        properties["aadProfile"] = serde_json::json!({
            "managed": true,
            "enableAzureRBAC": true,
            "tenantID": state.config.tenant_id,
        });
    }
    serde_json::json!({
        "id": cluster.resource_id(),
        "location": cluster.location,
        "name": cluster.name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "properties": properties,
    })
}

fn credential_list(state: &AzureState, cluster: &AksCluster) -> serde_json::Value {
    let user = format!("clusterUser_{}_{}", cluster.resource_group, cluster.name);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {name}\ncurrent-context: {name}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: kubelogin\n      args:\n      - get-token\n      - --login\n      - devicecode\n      - --server-id\n      - {AKS_AUDIENCE}\n      - --tenant-id\n      - {tenant}\n      - --environment\n      - AzurePublicCloud\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n",
        ca = STANDARD.encode(cluster.ca_pem.as_bytes()),
        server = cluster.server,
        name = cluster.name,
        tenant = state.config.tenant_id,
    );
    serde_json::json!({
        "kubeconfigs": [{"name": "clusterUser", "value": STANDARD.encode(kubeconfig)}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_paths_are_case_insensitive() {
        assert_eq!(
            parse(
                "/subscriptions/s/resourcegroups/g/providers/microsoft.containerservice/managedclusters/c"
            ),
            Some(("s", "g", "c", false))
        );
        assert_eq!(
            parse(
                "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c/listClusterUserCredential"
            ),
            Some(("s", "g", "c", true))
        );
        for other in [
            "/",
            "/subscriptions/s",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/c",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c/other",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
