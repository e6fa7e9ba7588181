//! The cluster's own issuer, read through the Kubernetes API (`/.well-known/openid-configuration`
//! and `/openid/v1/jwks`, which kube-apiserver serves to any authenticated caller, and to
//! anonymous ones when `system:service-account-issuer-discovery` is bound to them), and whether a
//! cloud could reach the issuer as configured.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;
use url::Host;

use super::generate::JWKS_PATH;
use super::url::{DISCOVERY_PATH, Issuer};
use crate::error::Result;
use crate::http;
use crate::kubernetes::Kubernetes;

/// What the cluster serves about its issuer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterIssuer {
    /// The discovery document's `issuer` (the first `--service-account-issuer`).
    pub issuer: String,
    /// The discovery document's `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// Whether a cloud could fetch the issuer's documents, judged from its URL alone.
    pub reachability: Reachability,
    /// The discovery document as served.
    pub discovery: Value,
    /// The JWKS as served.
    pub jwks: Value,
}

/// Whether an issuer URL can be reached by a cloud.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reachability {
    /// `false` when no cloud can fetch it (http, a loopback or private address, an in-cluster
    /// name); `true` when it is a public name or address, which `verify` then checks for real.
    pub public: bool,
    /// Why, in words, with the next step.
    pub reason: String,
}

/// Reads the cluster's discovery document and JWKS.
pub async fn show(kubernetes: &Kubernetes) -> Result<ClusterIssuer> {
    let discovery = kubernetes.get_path(DISCOVERY_PATH).await?;
    let discovery: Value = http::parse(&discovery, "read the cluster's discovery document")?;
    let jwks = kubernetes.get_path(JWKS_PATH).await?;
    let jwks: Value = http::parse(&jwks, "read the cluster's JWKS")?;
    let issuer = discovery
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str);
    Ok(ClusterIssuer {
        reachability: reachability(&issuer),
        jwks_uri: jwks_uri.map(str::to_owned),
        issuer,
        discovery,
        jwks,
    })
}

/// Whether a cloud could fetch `issuer`'s discovery document, from the URL alone.
pub fn reachability(issuer: &str) -> Reachability {
    let not_public = |why: String| Reachability {
        public: false,
        reason: format!(
            "{why}: no cloud can fetch its discovery document; publish the documents at a public \
             https URL (kubecred issuer generate) and set --service-account-issuer to it, new \
             issuer first and the old one kept"
        ),
    };
    let parsed = match Issuer::parse(issuer) {
        Ok(parsed) => parsed,
        Err(error) => return not_public(error.to_string()),
    };
    let why = match parsed.url().host() {
        Some(Host::Ipv4(ip)) => private_address(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => private_address(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => private_name(&name.to_ascii_lowercase()),
        None => Some("it has no host"),
    };
    match why {
        Some(why) => not_public(format!("issuer '{issuer}' is {why}")),
        None => Reachability {
            public: true,
            reason: format!(
                "issuer '{issuer}' is a public https URL; whether it serves the documents: \
                 kubecred issuer verify {issuer}"
            ),
        },
    }
}

fn private_address(ip: IpAddr) -> Option<&'static str> {
    let private = match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                // 100.64.0.0/10, shared address space (carrier-grade NAT)
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
        }
    };
    match (private, ip.is_loopback()) {
        (true, true) => Some("a loopback address"),
        (true, false) => Some("a private address"),
        (false, _) => None,
    }
}

fn private_name(name: &str) -> Option<&'static str> {
    let in_cluster = [".svc", ".svc.cluster.local", ".cluster.local"];
    let local = [
        ".local",
        ".localhost",
        ".internal",
        ".lan",
        ".home.arpa",
        ".localdomain",
    ];
    if name == "localhost" {
        Some("a loopback name")
    } else if name == "kubernetes"
        || name.starts_with("kubernetes.default")
        || in_cluster.iter().any(|s| name.ends_with(s))
    {
        Some("an in-cluster name (kubernetes.default.svc and the like)")
    } else if local.iter().any(|s| name.ends_with(s)) || !name.trim_end_matches('.').contains('.') {
        Some("a local or single-label name, not in public DNS")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_no_cloud_can_reach() {
        for (issuer, why) in [
            ("https://kubernetes.default.svc.cluster.local", "in-cluster"),
            ("https://kubernetes.default.svc", "in-cluster"),
            ("https://kubernetes.default", "in-cluster"),
            ("https://api.team.svc", "in-cluster"),
            ("https://127.0.0.1:6443", "loopback address"),
            ("https://[::1]:6443", "loopback address"),
            ("https://localhost:6443", "loopback name"),
            ("https://10.0.0.1", "private address"),
            ("https://172.20.0.3:6443", "private address"),
            ("https://192.168.1.10", "private address"),
            ("https://100.64.0.1", "private address"),
            ("https://169.254.169.254", "private address"),
            ("https://[fd00::1]", "private address"),
            ("https://[fe80::1]", "private address"),
            ("https://kind-control-plane:6443", "single-label"),
            ("https://api.cluster.local", "in-cluster"),
            ("https://nas.lan", "local"),
            ("http://oidc.example.com", "only over https"),
        ] {
            let verdict = reachability(issuer);
            assert!(!verdict.public, "{issuer}");
            assert!(verdict.reason.contains(why), "{issuer}: {}", verdict.reason);
            assert!(verdict.reason.contains("publish the documents"), "{issuer}");
        }
    }

    #[test]
    fn public_issuers_are_sent_to_verify() {
        for issuer in [
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c",
            "https://westeurope.oic.prod-aks.azure.com/t/i/",
            "https://s3.amazonaws.com/my-bucket",
            "https://34.1.2.3",
        ] {
            let verdict = reachability(issuer);
            assert!(verdict.public, "{issuer}: {}", verdict.reason);
            assert!(verdict.reason.contains("kubecred issuer verify"));
        }
    }
}
