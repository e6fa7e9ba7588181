//! The kind of cluster a sandbox presents itself as, by its ServiceAccount issuer's shape: what a
//! target cloud sees of a source cluster.
//!
//! - [`SourceCluster::Kind`]: the issuer is the API server's own URL (kind, a dev cluster);
//! - [`SourceCluster::Eks`], [`SourceCluster::Gke`], [`SourceCluster::Aks`]: the managed
//!   services' public issuers (`https://oidc.eks.<region>.amazonaws.com/id/<id>`,
//!   `https://container.googleapis.com/v1/projects/<p>/locations/<l>/clusters/<c>`,
//!   `https://<region>.oic.prod-aks.azure.com/<tenant>/<id>/`), whose discovery documents the
//!   sandbox serves on its own listener under that host (its certificate names it; a client
//!   reaches it by resolving the host to the sandbox: [`crate::Sandbox::resolve`]);
//! - [`SourceCluster::Other`]: a self-managed cluster whose issuer is a URL of the operator's
//!   (a bucket's website): the sandbox signs with it but does not serve it; the documents are
//!   published there (`kubecred issuer publish`), and targets fetch them from there.

/// What kind of cluster the sandbox is, for its issuer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceCluster {
    /// The issuer is the API server's URL.
    #[default]
    Kind,
    /// An EKS cluster: `https://oidc.eks.<region>.amazonaws.com/id/<id>`, JWKS at `<issuer>/keys`.
    Eks {
        /// The AWS region.
        region: String,
        /// The cluster's OIDC id (32 upper-case hexadecimal characters).
        id: String,
    },
    /// A GKE cluster: `https://container.googleapis.com/v1/projects/<p>/locations/<l>/clusters/<c>`,
    /// JWKS at `<issuer>/jwks`.
    Gke {
        /// The project id.
        project: String,
        /// The cluster location.
        location: String,
        /// The cluster name.
        cluster: String,
    },
    /// An AKS cluster with the OIDC issuer enabled:
    /// `https://<region>.oic.prod-aks.azure.com/<tenant>/<id>/` (with its trailing slash),
    /// JWKS at `<issuer>openid/v1/jwks`.
    Aks {
        /// The Azure region.
        region: String,
        /// The tenant id.
        tenant: String,
        /// The cluster's issuer id (a GUID).
        id: String,
    },
    /// A self-managed cluster whose issuer is this URL, served by whoever publishes there.
    Other {
        /// The issuer URL (`--service-account-issuer`).
        issuer: String,
    },
}

/// The EKS example's region.
pub const EKS_REGION: &str = "us-west-2";
/// The GKE example's project, location and cluster (those of the GCP stand-ins' cluster).
pub const GKE_PROJECT: &str = "example-project";
/// See [`GKE_PROJECT`].
pub const GKE_LOCATION: &str = "europe-west1";
/// See [`GKE_PROJECT`].
pub const GKE_CLUSTER: &str = "kubecred-sandbox";
/// The AKS example's region.
pub const AKS_REGION: &str = "westeurope";
/// The AKS example's tenant (the Azure stand-ins' tenant).
pub const AKS_TENANT: &str = "00000000-0000-0000-0000-000000000001";

impl SourceCluster {
    /// An EKS cluster in [`EKS_REGION`] whose OIDC id is built from `n`.
    pub fn eks(n: u32) -> SourceCluster {
        SourceCluster::Eks {
            region: EKS_REGION.into(),
            id: format!("{n:032X}"),
        }
    }

    /// The GKE cluster [`GKE_CLUSTER`] of [`GKE_PROJECT`] (`n` = 0), or a sibling
    /// (`kubecred-sandbox-<n>`).
    pub fn gke(n: u32) -> SourceCluster {
        SourceCluster::Gke {
            project: GKE_PROJECT.into(),
            location: GKE_LOCATION.into(),
            cluster: match n {
                0 => GKE_CLUSTER.into(),
                n => format!("{GKE_CLUSTER}-{n}"),
            },
        }
    }

    /// An AKS cluster of [`AKS_TENANT`] in [`AKS_REGION`] whose issuer id is built from `n`.
    pub fn aks(n: u32) -> SourceCluster {
        SourceCluster::Aks {
            region: AKS_REGION.into(),
            tenant: AKS_TENANT.into(),
            id: format!("00000000-0000-0000-0000-{n:012x}"),
        }
    }

    /// Parses `kind`, `eks`, `gke`, `aks` (the examples, `n` = 0) or `other:<URL>`.
    pub fn parse(text: &str) -> Result<SourceCluster, String> {
        match text {
            "kind" => Ok(SourceCluster::Kind),
            "eks" => Ok(SourceCluster::eks(0)),
            "gke" => Ok(SourceCluster::gke(0)),
            "aks" => Ok(SourceCluster::aks(0)),
            _ => match text.strip_prefix("other:") {
                Some(url) if url.starts_with("https://") && url.len() > "https://".len() => {
                    Ok(SourceCluster::Other { issuer: url.into() })
                }
                Some(_) => Err("other:<URL> needs an https:// issuer URL".into()),
                None => Err(format!(
                    "unknown source cluster type '{text}': expected kind, eks, gke, aks or other:<https URL>"
                )),
            },
        }
    }

    /// `kind`, `eks`, `gke`, `aks` or `other`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            SourceCluster::Kind => "kind",
            SourceCluster::Eks { .. } => "eks",
            SourceCluster::Gke { .. } => "gke",
            SourceCluster::Aks { .. } => "aks",
            SourceCluster::Other { .. } => "other",
        }
    }

    /// The issuer URL, for an API server at `api_url`.
    pub fn issuer(&self, api_url: &str) -> String {
        match self {
            SourceCluster::Kind => api_url.to_owned(),
            SourceCluster::Eks { region, id } => {
                format!("https://oidc.eks.{region}.amazonaws.com/id/{id}")
            }
            SourceCluster::Gke {
                project,
                location,
                cluster,
            } => format!(
                "https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{cluster}"
            ),
            SourceCluster::Aks { region, tenant, id } => {
                format!("https://{region}.oic.prod-aks.azure.com/{tenant}/{id}/")
            }
            SourceCluster::Other { issuer } => issuer.clone(),
        }
    }

    /// The host the sandbox serves the issuer's documents under, for the managed types.
    pub fn hosted_host(&self) -> Option<String> {
        match self {
            SourceCluster::Eks { region, .. } => Some(format!("oidc.eks.{region}.amazonaws.com")),
            SourceCluster::Gke { .. } => Some("container.googleapis.com".into()),
            SourceCluster::Aks { region, .. } => Some(format!("{region}.oic.prod-aks.azure.com")),
            SourceCluster::Kind | SourceCluster::Other { .. } => None,
        }
    }

    /// For the managed types: the paths (on the hosted host) of the discovery document and the
    /// JWKS, and the JWKS URL.
    pub(crate) fn hosted_paths(&self, api_url: &str) -> Option<HostedPaths> {
        let host = self.hosted_host()?;
        let issuer = self.issuer(api_url);
        let base = issuer.strip_prefix(&format!("https://{host}"))?.to_owned();
        let base = base.trim_end_matches('/');
        let jwks = match self {
            SourceCluster::Eks { .. } => format!("{base}/keys"),
            SourceCluster::Gke { .. } => format!("{base}/jwks"),
            _ => format!("{base}/openid/v1/jwks"),
        };
        Some(HostedPaths {
            discovery: format!("{base}/.well-known/openid-configuration"),
            jwks_url: format!("https://{host}{jwks}"),
            jwks,
        })
    }
}

/// Where a managed issuer's documents are served.
#[derive(Clone, Debug)]
pub(crate) struct HostedPaths {
    pub(crate) discovery: String,
    pub(crate) jwks: String,
    pub(crate) jwks_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_have_each_services_shape() {
        let api = "https://127.0.0.1:6443";
        assert_eq!(SourceCluster::Kind.issuer(api), api);
        assert_eq!(
            SourceCluster::eks(1).issuer(api),
            "https://oidc.eks.us-west-2.amazonaws.com/id/00000000000000000000000000000001"
        );
        assert_eq!(
            SourceCluster::gke(0).issuer(api),
            "https://container.googleapis.com/v1/projects/example-project/locations/europe-west1/clusters/kubecred-sandbox"
        );
        assert_eq!(
            SourceCluster::aks(2).issuer(api),
            "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002/"
        );
        let aks = SourceCluster::aks(2).hosted_paths(api).expect("hosted");
        assert_eq!(
            aks.discovery,
            "/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002/.well-known/openid-configuration"
        );
        assert!(aks.jwks_url.ends_with("-000000000002/openid/v1/jwks"));
        let eks = SourceCluster::eks(1).hosted_paths(api).expect("hosted");
        assert_eq!(eks.jwks, "/id/00000000000000000000000000000001/keys");
        assert!(SourceCluster::Kind.hosted_paths(api).is_none());
    }

    #[test]
    fn parse_names_each_type() {
        for name in ["kind", "eks", "gke", "aks"] {
            assert_eq!(SourceCluster::parse(name).map(|s| s.kind_name()), Ok(name));
        }
        assert_eq!(
            SourceCluster::parse("other:https://bucket.example/issuer"),
            Ok(SourceCluster::Other {
                issuer: "https://bucket.example/issuer".into()
            })
        );
        for bad in ["", "EKS", "other:", "other:http://x", "other:https://"] {
            assert!(SourceCluster::parse(bad).is_err(), "{bad}");
        }
    }
}
