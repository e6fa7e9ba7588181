//! The `audience` of an STS token exchange: a workload identity pool provider's full resource
//! name (`//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/R`)
//! or a GKE identity namespace (`identitynamespace:<project>.svc.id.goog:<cluster URL>`).

use super::error::OAuthError;

/// What an STS audience names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// A pool provider.
    Provider {
        project_number: &'a str,
        pool: &'a str,
        provider: &'a str,
    },
    /// A GKE identity namespace and the cluster URL after it.
    IdentityNamespace {
        namespace: &'a str,
        cluster: &'a str,
    },
}

const PROVIDER_PREFIX: &str = "//iam.googleapis.com/";
const NAMESPACE_PREFIX: &str = "identitynamespace:";

/// Google's answer to an audience of neither form.
fn invalid() -> OAuthError {
    OAuthError::invalid_request(
        "Invalid value for \"audience\". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.",
    )
}

/// Splits `audience` into its parts, checking its shape (anchored, exact segments).
pub(crate) fn parse(audience: &str) -> Result<Target<'_>, OAuthError> {
    if let Some(rest) = audience.strip_prefix(NAMESPACE_PREFIX) {
        let (namespace, cluster) = rest.split_once(':').ok_or_else(invalid)?;
        if namespace.is_empty() || cluster.is_empty() {
            return Err(invalid());
        }
        return Ok(Target::IdentityNamespace { namespace, cluster });
    }
    let rest = audience.strip_prefix(PROVIDER_PREFIX).ok_or_else(invalid)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let [
        "projects",
        project_number,
        "locations",
        "global",
        "workloadIdentityPools",
        pool,
        "providers",
        provider,
    ] = segments.as_slice()
    else {
        return Err(invalid());
    };
    let digits = !project_number.is_empty() && project_number.bytes().all(|b| b.is_ascii_digit());
    if !digits || !is_id(pool) || !is_id(provider) {
        return Err(invalid());
    }
    Ok(Target::Provider {
        project_number,
        pool,
        provider,
    })
}

/// A pool or provider id: 4-32 of lowercase letters, digits and `-` (Google's rule).
fn is_id(id: &str) -> bool {
    (4..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn provider_audiences_split() {
        let audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/my-pool/providers/my-prov";
        assert_eq!(
            parse(audience),
            Ok(Target::Provider {
                project_number: "123",
                pool: "my-pool",
                provider: "my-prov"
            })
        );
    }

    #[test]
    fn identity_namespaces_split() {
        let audience = "identitynamespace:proj.svc.id.goog:https://container.googleapis.com/v1/projects/proj/locations/eu/clusters/c";
        assert_eq!(
            parse(audience),
            Ok(Target::IdentityNamespace {
                namespace: "proj.svc.id.goog",
                cluster: "https://container.googleapis.com/v1/projects/proj/locations/eu/clusters/c"
            })
        );
    }

    #[test]
    fn other_shapes_are_invalid_requests() {
        for bad in [
            "",
            "https://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov",
            "//iam.googleapis.com/projects/abc/locations/global/workloadIdentityPools/pool/providers/prov",
            "//iam.googleapis.com/projects/1/locations/us/workloadIdentityPools/pool/providers/prov",
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov/x",
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/POOL/providers/prov",
            "//iam.googleapis.com.evil/projects/1/locations/global/workloadIdentityPools/pool/providers/prov",
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/prov",
            "identitynamespace:proj.svc.id.goog",
            "identitynamespace::x",
        ] {
            let error = parse(bad).expect_err(bad);
            assert_eq!(error.code(), "invalid_request", "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_audience_parses_or_is_refused_without_panicking(audience in ".{0,200}") {
            let _ = parse(&audience);
        }

        #[test]
        fn audiences_with_more_segments_are_refused(extra in "[a-z/]{1,20}") {
            let audience = format!(
                "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov/{extra}"
            );
            prop_assert!(parse(&audience).is_err());
        }
    }
}
