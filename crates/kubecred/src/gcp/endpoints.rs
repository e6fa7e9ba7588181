//! Where object level's exchanges go: Google STS and IAM Credentials, or, for the sandbox's
//! stand-ins and tests, the one documented override read from the engine's [`Env`]:
//!
//! - `KUBECRED_GCP_STS_URL`: the STS token endpoint (default `https://sts.googleapis.com/v1/token`);
//! - `KUBECRED_GCP_IAM_CREDENTIALS_URL`: the IAM Credentials base URL (default
//!   `https://iamcredentials.googleapis.com`), to which `/v1/projects/-/serviceAccounts/<email>:generateAccessToken`
//!   is appended;
//! - `KUBECRED_GCP_CONTAINER_URL`: the GKE API base URL (default
//!   `https://container.googleapis.com`), to which `/v1/projects/P/locations/L/clusters/C`
//!   (`clusters.get`) is appended.
//!
//! All are operator settings (never a tenant's), and both are checked as the endpoints of a
//! credential file are ([`super::urls`] with [`Endpoints::GoogleOrLoopback`]): a Google host of
//! that service over `https`, or a loopback listener over `http` or `https`.

use url::Url;

use super::audience::STS_TOKEN_URL;
use super::cluster::GkeCluster;
use super::parse::ServiceAccountEmail;
use super::urls::{Endpoints, Service, google_url, google_url_unshown};
use crate::Env;
use crate::error::{Error, Result};

/// The variable overriding the STS token endpoint.
pub const STS_URL_VAR: &str = "KUBECRED_GCP_STS_URL";
/// The variable overriding the IAM Credentials base URL.
pub const IAM_CREDENTIALS_URL_VAR: &str = "KUBECRED_GCP_IAM_CREDENTIALS_URL";
/// Google's IAM Credentials base URL.
pub const IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com";

/// The variable overriding the GKE API base URL.
pub const CONTAINER_URL_VAR: &str = "KUBECRED_GCP_CONTAINER_URL";
/// Google's GKE API base URL.
pub const CONTAINER_URL: &str = "https://container.googleapis.com";

/// The STS token endpoint.
pub(crate) fn sts_token_url(env: &Env) -> Result<Url> {
    let value = env.var(STS_URL_VAR);
    let value = value.as_deref().unwrap_or(STS_TOKEN_URL);
    google_url(value, Service::StsToken, Endpoints::GoogleOrLoopback)
        .map_err(|why| Error::invalid(format!("{STS_URL_VAR} {why}")))
}

/// The `generateAccessToken` URL impersonating `account`.
pub(crate) fn impersonation_url(env: &Env, account: &ServiceAccountEmail) -> Result<Url> {
    let base = env.var(IAM_CREDENTIALS_URL_VAR);
    let base = base.as_deref().unwrap_or(IAM_CREDENTIALS_URL);
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{}:generateAccessToken",
        base.trim_end_matches('/'),
        account.as_str()
    );
    google_url_unshown(&url, Service::Impersonation, Endpoints::GoogleOrLoopback).map_err(|why| {
        Error::invalid(format!(
            "{IAM_CREDENTIALS_URL_VAR} '{}' (a base URL such as {IAM_CREDENTIALS_URL}): {why}",
            base.escape_default()
        ))
    })
}

/// The `clusters.get` URL of `cluster`.
pub(crate) fn cluster_url(env: &Env, cluster: &GkeCluster) -> Result<Url> {
    let base = env.var(CONTAINER_URL_VAR);
    let base = base.as_deref().unwrap_or(CONTAINER_URL);
    let url = format!("{}/v1/{}", base.trim_end_matches('/'), cluster.id());
    google_url_unshown(&url, Service::GkeCluster, Endpoints::GoogleOrLoopback).map_err(|why| {
        Error::invalid(format!(
            "{CONTAINER_URL_VAR} '{}' (a base URL such as {CONTAINER_URL}): {why}",
            base.escape_default()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::parse::service_account_email;

    fn account() -> ServiceAccountEmail {
        service_account_email("sa@project-id.iam.gserviceaccount.com")
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn urls(pairs: &[(&str, &str)]) -> (String, String) {
        let env = Env::from_pairs(pairs);
        let shown = |r: Result<Url>| r.map(String::from).unwrap_or_else(|e| e.to_string());
        (
            shown(sts_token_url(&env)),
            shown(impersonation_url(&env, &account())),
        )
    }

    fn cluster(pairs: &[(&str, &str)]) -> String {
        let id = "projects/project-id/locations/europe-west1/clusters/prod";
        let cluster = crate::gcp::cluster::gke_cluster_id(id).unwrap_or_else(|e| panic!("{e}"));
        let url = cluster_url(&Env::from_pairs(pairs), &cluster);
        url.map(String::from).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn the_container_api_is_googles_or_a_loopback_override() {
        let path = "/v1/projects/project-id/locations/europe-west1/clusters/prod";
        assert_eq!(
            cluster(&[]),
            format!("https://container.googleapis.com{path}")
        );
        let local = [(CONTAINER_URL_VAR, "http://127.0.0.1:8083/")];
        assert_eq!(cluster(&local), format!("http://127.0.0.1:8083{path}"));
        for bad in [
            "http://container.googleapis.com",
            "https://container.example.com",
            "https://container.googleapis.com.example.com",
            "http://10.0.0.1:80",
            "http://127.0.0.1:1/x",
            "https://u:p@container.googleapis.com",
        ] {
            let error = cluster(&[(CONTAINER_URL_VAR, bad)]);
            assert!(
                error.starts_with(&format!("{CONTAINER_URL_VAR} '")),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn googles_endpoints_by_default() {
        assert_eq!(
            urls(&[]),
            (
                "https://sts.googleapis.com/v1/token".into(),
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@project-id.iam.gserviceaccount.com:generateAccessToken".into()
            )
        );
    }

    #[test]
    fn loopback_overrides_are_taken() {
        let (sts, iam) = urls(&[
            (STS_URL_VAR, "http://127.0.0.1:8081/v1/token"),
            (IAM_CREDENTIALS_URL_VAR, "http://127.0.0.1:8082/"),
        ]);
        assert_eq!(sts, "http://127.0.0.1:8081/v1/token");
        assert_eq!(
            iam,
            "http://127.0.0.1:8082/v1/projects/-/serviceAccounts/sa@project-id.iam.gserviceaccount.com:generateAccessToken"
        );
    }

    #[test]
    fn other_hosts_and_shapes_are_refused() {
        for (sts, iam) in [
            (
                "http://sts.googleapis.com/v1/token",
                "http://iamcredentials.googleapis.com",
            ),
            (
                "https://sts.example.com/v1/token",
                "https://iamcredentials.example.com",
            ),
            ("http://10.0.0.1:80/v1/token", "http://10.0.0.1"),
            ("http://127.0.0.1:1/v1/token?x=1", "http://127.0.0.1:1/x"),
            (
                "https://u:p@sts.googleapis.com/v1/token",
                "https://u:p@iamcredentials.googleapis.com",
            ),
        ] {
            let (sts_error, iam_error) =
                urls(&[(STS_URL_VAR, sts), (IAM_CREDENTIALS_URL_VAR, iam)]);
            assert!(sts_error.starts_with(STS_URL_VAR), "{sts_error}");
            assert!(
                iam_error.starts_with(IAM_CREDENTIALS_URL_VAR),
                "{iam_error}"
            );
        }
    }
}
