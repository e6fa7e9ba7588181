//! Identity levels and the multi-tenancy policy.
//!
//! A request names an [`Identity`]: the controller's own, a ServiceAccount or Secret (by name
//! only: it is always read in the namespace of the object asking, so a reference to another
//! namespace cannot be written), or the node's. The [`Policy`] then decides which identity is
//! really used:
//!
//! - the `ObjectLevelWorkloadIdentity` feature gate (off by default) must be on for a
//!   ServiceAccount to be impersonated;
//! - with a default ServiceAccount configured (`default-service-account`,
//!   `default-kubeconfig-service-account`, `default-decryption-service-account`), an object that
//!   names no ServiceAccount is forced onto that ServiceAccount *in its own namespace*
//!   (lockdown); if it does not exist, the error says so and why;
//! - configuring a default ServiceAccount while the gate is off is refused when the policy is
//!   built (controllers refuse to start).

use crate::error::{Error, Result};

/// The feature gate that allows impersonating a ServiceAccount an object names.
pub const FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY: &str = "ObjectLevelWorkloadIdentity";
/// Controller flag: ServiceAccount used when an object names none.
pub const FLAG_DEFAULT_SERVICE_ACCOUNT: &str = "default-service-account";
/// Controller flag: ServiceAccount used when a kubeconfig ConfigMap names none.
pub const FLAG_DEFAULT_KUBECONFIG_SERVICE_ACCOUNT: &str = "default-kubeconfig-service-account";
/// Controller flag: ServiceAccount used for decryption when an object names none.
pub const FLAG_DEFAULT_DECRYPTION_SERVICE_ACCOUNT: &str = "default-decryption-service-account";

pub(crate) const LOCKDOWN_NOT_FOUND: &str = "the specified default service account does not exist in the object namespace. \
your cluster is subject to multi-tenant workload identity lockdown, reach out to your cluster administrator for help";

/// Whose identity a request uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The process's own environment (env keys, token files, workload identity env).
    #[default]
    Controller,
    /// Impersonate this ServiceAccount of the object's namespace.
    ServiceAccount(String),
    /// Use keys or certificates from this Secret of the object's namespace.
    Secret(String),
    /// The node's identity (metadata service).
    Node,
}

impl Identity {
    /// A ServiceAccount of the object's namespace.
    pub fn service_account(name: impl Into<String>) -> Self {
        Identity::ServiceAccount(name.into())
    }

    /// A Secret of the object's namespace.
    pub fn secret(name: impl Into<String>) -> Self {
        Identity::Secret(name.into())
    }
}

/// What the credential is for; decides which default ServiceAccount applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Sources, registries, buckets, notifications (`default-service-account`).
    #[default]
    General,
    /// Remote clusters (`default-kubeconfig-service-account`).
    Kubeconfig,
    /// Decryption (`default-decryption-service-account`).
    Decryption,
}

/// The multi-tenancy settings, as controllers take them from flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyConfig {
    /// The `ObjectLevelWorkloadIdentity` feature gate (default off).
    pub object_level_workload_identity: bool,
    /// `default-service-account`.
    pub default_service_account: Option<String>,
    /// `default-kubeconfig-service-account`.
    pub default_kubeconfig_service_account: Option<String>,
    /// `default-decryption-service-account`.
    pub default_decryption_service_account: Option<String>,
}

/// A checked [`PolicyConfig`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy(PolicyConfig);

/// The identity a request resolves to under the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Controller,
    Node,
    ServiceAccount {
        namespace: String,
        name: String,
        defaulted: bool,
    },
    Secret {
        namespace: String,
        name: String,
    },
}

impl PolicyConfig {
    /// Checks the settings: default ServiceAccounts need the feature gate.
    pub fn build(self) -> Result<Policy> {
        let any_default = [
            &self.default_service_account,
            &self.default_kubeconfig_service_account,
            &self.default_decryption_service_account,
        ]
        .into_iter()
        .any(|name| name.as_deref().is_some_and(|n| !n.is_empty()));
        for (flag, name) in [
            (FLAG_DEFAULT_SERVICE_ACCOUNT, &self.default_service_account),
            (
                FLAG_DEFAULT_KUBECONFIG_SERVICE_ACCOUNT,
                &self.default_kubeconfig_service_account,
            ),
            (
                FLAG_DEFAULT_DECRYPTION_SERVICE_ACCOUNT,
                &self.default_decryption_service_account,
            ),
        ] {
            if let Some(name) = name.as_deref().filter(|n| !n.is_empty()) {
                crate::names::object_name(flag, name)?;
            }
        }
        if any_default && !self.object_level_workload_identity {
            return Err(Error::refused(format!(
                "cannot set default service accounts when the feature gate \
                 {FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY} is not enabled"
            )));
        }
        Ok(Policy(self))
    }
}

impl Policy {
    /// Whether ServiceAccounts named by objects may be impersonated.
    pub fn object_level_enabled(&self) -> bool {
        self.0.object_level_workload_identity
    }

    fn default_for(&self, purpose: Purpose) -> Option<&str> {
        let config = &self.0;
        let chosen = match purpose {
            Purpose::General => config
                .default_service_account
                .as_ref()
                .or(config.default_kubeconfig_service_account.as_ref()),
            Purpose::Kubeconfig => config
                .default_kubeconfig_service_account
                .as_ref()
                .or(config.default_service_account.as_ref()),
            Purpose::Decryption => config.default_decryption_service_account.as_ref(),
        };
        chosen.map(String::as_str).filter(|name| !name.is_empty())
    }

    /// Decides which identity a request really uses.
    pub(crate) fn resolve(
        &self,
        identity: &Identity,
        namespace: Option<&str>,
        purpose: Purpose,
    ) -> Result<Resolved> {
        let named = |name: &str, what: &str| -> Result<(String, String)> {
            let namespace = namespace.filter(|ns| !ns.is_empty()).ok_or_else(|| {
                Error::invalid(format!(
                    "{what} '{name}' needs the namespace of the object asking"
                ))
            })?;
            if name.is_empty() {
                return Err(Error::invalid(format!("{what} name is empty")));
            }
            Ok((namespace.to_owned(), name.to_owned()))
        };
        let resolved = match identity {
            Identity::ServiceAccount(name) => {
                let (namespace, name) = named(name, "service account")?;
                Resolved::ServiceAccount {
                    namespace,
                    name,
                    defaulted: false,
                }
            }
            Identity::Secret(name) => {
                let (namespace, name) = named(name, "secret")?;
                return Ok(Resolved::Secret { namespace, name });
            }
            Identity::Controller | Identity::Node => match self.default_for(purpose) {
                Some(default) => Resolved::ServiceAccount {
                    namespace: lockdown_namespace(namespace, default)?,
                    name: default.to_owned(),
                    defaulted: true,
                },
                None if *identity == Identity::Node => Resolved::Node,
                None => Resolved::Controller,
            },
        };
        if matches!(resolved, Resolved::ServiceAccount { .. }) && !self.object_level_enabled() {
            return Err(gate_disabled());
        }
        Ok(resolved)
    }
}

/// The object's namespace, which the lockdown needs: without one the request would fall back to
/// the controller's own identity, which the lockdown exists to prevent.
fn lockdown_namespace(namespace: Option<&str>, default: &str) -> Result<String> {
    match namespace.filter(|ns| !ns.is_empty()) {
        Some(namespace) => Ok(namespace.to_owned()),
        None => Err(Error::refused(format!(
            "the request names no namespace, but a default service account ('{default}') is \
             configured: under multi-tenant workload identity lockdown every request must name \
             the namespace of the object asking (the controller's own identity is never used)"
        ))),
    }
}

/// The refusal while the feature gate is off.
fn gate_disabled() -> Error {
    Error::refused(format!(
        "{FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY} feature gate is not enabled: impersonating a \
         ServiceAccount named by an object is refused (enable it with \
         --feature-gates={FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY}=true)"
    ))
}

/// The error for a defaulted ServiceAccount that does not exist.
pub(crate) fn lockdown_not_found(namespace: &str, name: &str) -> Error {
    Error::refused(format!(
        "failed to get service account '{namespace}/{name}': {LOCKDOWN_NOT_FOUND}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(gate: bool, default_sa: Option<&str>) -> Policy {
        Policy(PolicyConfig {
            object_level_workload_identity: gate,
            default_service_account: default_sa.map(str::to_owned),
            ..PolicyConfig::default()
        })
    }

    fn sa(namespace: &str, name: &str, defaulted: bool) -> Resolved {
        Resolved::ServiceAccount {
            namespace: namespace.into(),
            name: name.into(),
            defaulted,
        }
    }

    #[test]
    fn default_service_account_needs_the_gate() {
        for config in [
            PolicyConfig {
                default_service_account: Some("d".into()),
                ..Default::default()
            },
            PolicyConfig {
                default_kubeconfig_service_account: Some("d".into()),
                ..Default::default()
            },
            PolicyConfig {
                default_decryption_service_account: Some("d".into()),
                ..Default::default()
            },
        ] {
            let error = config
                .build()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains("feature gate ObjectLevelWorkloadIdentity is not enabled"),
                "{error}"
            );
        }
        assert!(PolicyConfig::default().build().is_ok());
        let gated = PolicyConfig {
            object_level_workload_identity: true,
            default_service_account: Some("d".into()),
            ..Default::default()
        };
        assert!(gated.build().is_ok());
    }

    #[test]
    fn named_service_account_needs_the_gate() {
        let error = policy(false, None)
            .resolve(
                &Identity::service_account("app"),
                Some("team-a"),
                Purpose::General,
            )
            .err();
        assert!(error.as_ref().is_some_and(Error::is_refused));
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("ObjectLevelWorkloadIdentity feature gate is not enabled"),
            "{message}"
        );
    }

    #[test]
    fn resolution_table() {
        let on = policy(true, None);
        let locked = policy(true, Some("lockdown-sa"));
        let cases: Vec<(&Policy, Identity, Option<&str>, Resolved)> = vec![
            (
                &on,
                Identity::Controller,
                Some("team-a"),
                Resolved::Controller,
            ),
            (&on, Identity::Controller, None, Resolved::Controller),
            (&on, Identity::Node, Some("team-a"), Resolved::Node),
            (
                &on,
                Identity::service_account("app"),
                Some("team-a"),
                sa("team-a", "app", false),
            ),
            (
                &locked,
                Identity::Controller,
                Some("team-a"),
                sa("team-a", "lockdown-sa", true),
            ),
            (
                &locked,
                Identity::Node,
                Some("team-a"),
                sa("team-a", "lockdown-sa", true),
            ),
            (
                &locked,
                Identity::service_account("app"),
                Some("team-a"),
                sa("team-a", "app", false),
            ),
            (
                &locked,
                Identity::secret("keys"),
                Some("team-a"),
                Resolved::Secret {
                    namespace: "team-a".into(),
                    name: "keys".into(),
                },
            ),
        ];
        for (policy, identity, namespace, expected) in cases {
            let got = policy.resolve(&identity, namespace, Purpose::General).ok();
            assert_eq!(
                got.as_ref(),
                Some(&expected),
                "{identity:?} in {namespace:?}"
            );
        }
    }

    #[test]
    fn each_purpose_takes_its_default() {
        let policy = Policy(PolicyConfig {
            object_level_workload_identity: true,
            default_kubeconfig_service_account: Some("kube".into()),
            default_decryption_service_account: Some("sops".into()),
            ..Default::default()
        });
        let resolve = |purpose| {
            policy
                .resolve(&Identity::Controller, Some("ns"), purpose)
                .ok()
        };
        assert_eq!(resolve(Purpose::General), Some(sa("ns", "kube", true)));
        assert_eq!(resolve(Purpose::Kubeconfig), Some(sa("ns", "kube", true)));
        assert_eq!(resolve(Purpose::Decryption), Some(sa("ns", "sops", true)));
    }

    #[test]
    fn under_lockdown_a_missing_or_empty_namespace_is_refused_not_the_controller() {
        let locked = policy(true, Some("lockdown-sa"));
        for identity in [Identity::Controller, Identity::Node] {
            for namespace in [None, Some("")] {
                let error = locked.resolve(&identity, namespace, Purpose::General).err();
                assert!(
                    error.as_ref().is_some_and(Error::is_refused),
                    "{identity:?} in {namespace:?}: {error:?}"
                );
                let message = error.map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    message.contains("names no namespace") && message.contains("lockdown-sa"),
                    "{message}"
                );
            }
        }
        // Without a default for the purpose, the controller level stays as it was.
        let decryption = locked.resolve(&Identity::Controller, None, Purpose::Decryption);
        assert_eq!(decryption.ok(), Some(Resolved::Controller));
    }

    #[test]
    fn default_service_account_names_are_kubernetes_names() {
        let error = PolicyConfig {
            object_level_workload_identity: true,
            default_kubeconfig_service_account: Some("../kube-system/admin".into()),
            ..Default::default()
        }
        .build()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            error.contains("default-kubeconfig-service-account")
                && error.contains("../kube-system/admin"),
            "{error}"
        );
    }

    #[test]
    fn named_objects_need_a_namespace_and_a_name() {
        let on = policy(true, None);
        assert!(
            on.resolve(&Identity::service_account("app"), None, Purpose::General)
                .is_err()
        );
        assert!(
            on.resolve(&Identity::secret("s"), Some(""), Purpose::General)
                .is_err()
        );
        assert!(
            on.resolve(&Identity::service_account(""), Some("ns"), Purpose::General)
                .is_err()
        );
    }
}
