//! [`ServiceAccountInfo`]: a ServiceAccount as the cloud exchanges see it. Neutral ground: the
//! Kubernetes layer fills it, the cloud modules read it, neither imports the other.

use std::collections::BTreeMap;

/// A ServiceAccount as the exchanges need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountInfo {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its annotations (cloud identities: role ARN, client id, GCP service account, ...).
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
impl ServiceAccountInfo {
    /// ServiceAccount team-a/app with these annotations (for tests).
    #[cfg_attr(
        not(any(feature = "aws", feature = "gcp", feature = "azure")),
        allow(dead_code)
    )]
    pub(crate) fn annotated(pairs: &[(&str, &str)]) -> Self {
        ServiceAccountInfo {
            namespace: "team-a".into(),
            name: "app".into(),
            annotations: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}
