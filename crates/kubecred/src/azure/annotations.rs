//! The ServiceAccount annotations of Azure workload identity: the application (client) id of
//! the Entra application or user-assigned managed identity whose federated credential trusts the
//! ServiceAccount, and its tenant. Both are required at object level and must be GUIDs (the
//! reference only checked their presence; a GUID check keeps a hostile value out of the Entra
//! token URL, `https://<authority>/<tenant>/oauth2/v2.0/token`).

use crate::account::ServiceAccountInfo;
use crate::error::{Error, Result};

/// The application (client) id.
pub const CLIENT_ID: &str = "azure.workload.identity/client-id";
/// The tenant id.
pub const TENANT_ID: &str = "azure.workload.identity/tenant-id";
/// Every annotation read.
pub const ALL: &[&str] = &[CLIENT_ID, TENANT_ID];
/// The annotations object level cannot work without.
pub const REQUIRED: &[&str] = &[CLIENT_ID, TENANT_ID];

/// The validated identity a ServiceAccount's annotations name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadIdentity {
    /// The tenant id, lowercase.
    pub tenant_id: String,
    /// The client id, lowercase.
    pub client_id: String,
}

/// Reads and checks the annotations, with the reference's messages for missing ones.
pub fn read(account: &ServiceAccountInfo) -> Result<WorkloadIdentity> {
    Ok(WorkloadIdentity {
        tenant_id: guid(account, TENANT_ID, "tenant")?,
        client_id: guid(account, CLIENT_ID, "client")?,
    })
}

fn guid(account: &ServiceAccountInfo, key: &str, what: &str) -> Result<String> {
    let value = account
        .annotations
        .get(key)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::invalid(format!(
                "azure {what} ID is not set in the service account annotation {key}"
            ))
        })?;
    match super::is_guid(value) {
        true => Ok(value.to_ascii_lowercase()),
        false => Err(Error::invalid(format!(
            "invalid {key} annotation: {}. must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
            super::shown(value)
        ))),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn account(pairs: &[(&str, &str)]) -> ServiceAccountInfo {
        ServiceAccountInfo::annotated(pairs)
    }

    fn message(result: Result<WorkloadIdentity>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    const TENANT: &str = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
    const CLIENT: &str = "2c1e4f6a-0b3d-4e5f-8a9b-0c1d2e3f4a5b";

    #[test]
    fn both_guids_are_read_and_lowercased() {
        let read = read(&account(&[(TENANT_ID, TENANT), (CLIENT_ID, CLIENT)]));
        assert_eq!(
            read.ok(),
            Some(WorkloadIdentity {
                tenant_id: TENANT.to_ascii_lowercase(),
                client_id: CLIENT.into()
            })
        );
    }

    /// §4.3: the reference's messages, the tenant checked first. (The reference took empty
    /// values; an empty or blank GUID is as missing here.)
    #[test]
    fn missing_annotations_give_the_reference_messages() {
        let tenant = "azure tenant ID is not set in the service account annotation azure.workload.identity/tenant-id";
        let client = "azure client ID is not set in the service account annotation azure.workload.identity/client-id";
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[(CLIENT_ID, CLIENT)], tenant),
            (&[], tenant),
            (&[(TENANT_ID, ""), (CLIENT_ID, "")], tenant),
            (&[(TENANT_ID, " \t"), (CLIENT_ID, CLIENT)], tenant),
            (&[(TENANT_ID, TENANT)], client),
            (&[(TENANT_ID, TENANT), (CLIENT_ID, " ")], client),
            (&[(TENANT_ID, TENANT), (CLIENT_ID, "")], client),
            (
                &[
                    (TENANT_ID, TENANT),
                    ("azure.workload.identity/client", CLIENT),
                ],
                client,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(message(read(&account(pairs))), *expected, "{pairs:?}");
        }
        assert_eq!(
            read(&account(&[
                (TENANT_ID, &format!(" {TENANT}\n")),
                (CLIENT_ID, CLIENT)
            ]))
            .ok()
            .map(|w| w.tenant_id),
            Some(TENANT.to_ascii_lowercase())
        );
    }

    #[test]
    fn values_that_are_not_guids_are_refused_and_shown_escaped() {
        for bad in [
            "contoso.onmicrosoft.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db47/../../evil",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "72f988bf-86f1-41af-91ab-2d7cd011db477",
            "72f988bf86f141af91ab2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "72f988bf-86f1-41af-91ab-2d7cd011dbé7",
        ] {
            let got = message(read(&account(&[(TENANT_ID, bad), (CLIENT_ID, CLIENT)])));
            assert!(
                got.starts_with("invalid azure.workload.identity/tenant-id annotation: \""),
                "{bad:?}: {got}"
            );
            assert!(!got.contains('\n'), "{got}");
        }
        let (long, cut) = ("x".repeat(300), format!("\"{}\".", "x".repeat(100)));
        for (bad, shown) in [
            ("app\nid", "\"app\\nid\""),
            (long.as_str(), cut.as_str()),
            (
                "00000000-0000-0000-0000-00000000000g",
                "\"00000000-0000-0000-0000-00000000000g\"",
            ),
        ] {
            let got = message(read(&account(&[(TENANT_ID, TENANT), (CLIENT_ID, bad)])));
            assert!(
                got.starts_with(&format!(
                    "invalid azure.workload.identity/client-id annotation: {shown}"
                )),
                "{bad:?}: {got}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn reading_never_panics(tenant in "\\PC{0,60}", client in "\\PC{0,60}") {
            let _ = read(&account(&[(TENANT_ID, &tenant), (CLIENT_ID, &client)]));
        }
    }
}
