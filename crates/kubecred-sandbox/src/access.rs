//! Who is calling (bearer-token authentication) and what they may do (a
//! small RBAC stand-in).

use std::sync::RwLock;

use aws_lc_rs::constant_time::verify_slices_are_equal;

use crate::claims::subject;
use crate::manifest::Manifests;
use crate::verify::JwtVerifier;

/// The user name of the sandbox's admin token.
pub(crate) const ADMIN_USER: &str = "sandbox-admin";

/// Permission for `subject` to perform `verbs` on `resources` in
/// `namespaces`. `"*"` matches anything in every list (and as subject).
/// Resources are `serviceaccounts`, `serviceaccounts/token`, `secrets`,
/// `configmaps` and `namespaces`; verbs are `get`, `list` and `create`. A
/// Namespace's own namespace is itself (as in Kubernetes RBAC).
#[derive(Clone, Debug)]
pub struct Grant {
    /// User name, e.g. `system:serviceaccount:ns:name`, or `"*"`.
    pub subject: String,
    /// Verbs, e.g. `["get", "list"]` or `["create"]`.
    pub verbs: Vec<String>,
    /// Resources, e.g. `["serviceaccounts/token"]`.
    pub resources: Vec<String>,
    /// Namespaces.
    pub namespaces: Vec<String>,
}

impl Grant {
    fn allows(&self, user: &str, action: &Action<'_>) -> bool {
        let matches = |list: &[String], wanted: &str| list.iter().any(|v| v == "*" || v == wanted);
        (self.subject == "*" || self.subject == user)
            && matches(&self.verbs, action.verb)
            && matches(&self.resources, action.resource)
            && matches(&self.namespaces, action.namespace)
    }
}

/// An extra user authenticated by a static bearer token.
#[derive(Clone)]
pub struct User {
    /// The user name grants refer to.
    pub name: String,
    /// The bearer token (kept out of `Debug`).
    pub token: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// An API action to authorize.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Action<'a> {
    pub(crate) verb: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
}

/// A token authenticator outside the sandbox (as a webhook token authenticator is to an API
/// server): the user a bearer token stands for, if any.
pub type TokenAuthenticator = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The authenticators added after start ([`crate::Sandbox::accept_bearer_tokens`]).
#[derive(Default)]
pub(crate) struct Webhooks(RwLock<Vec<TokenAuthenticator>>);

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.read().map(|list| list.len()).unwrap_or_default();
        f.debug_struct("Webhooks").field("count", &count).finish()
    }
}

impl Webhooks {
    pub(crate) fn add(&self, authenticator: TokenAuthenticator) {
        if let Ok(mut list) = self.0.write() {
            list.push(authenticator);
        }
    }

    fn user(&self, token: &str) -> Option<String> {
        let list = self.0.read().ok()?;
        list.iter().find_map(|authenticate| authenticate(token))
    }
}

/// Authentication and authorization settings of one sandbox.
#[derive(Debug)]
pub(crate) struct Access {
    pub(crate) admin_token: String,
    pub(crate) users: Vec<User>,
    pub(crate) grants: Vec<Grant>,
    /// One per issuer the API server accepts (`--service-account-issuer`, each), with every
    /// verification key.
    pub(crate) verifiers: Vec<JwtVerifier>,
    pub(crate) webhooks: Webhooks,
}

impl Access {
    /// The user name behind `Authorization` header value `header`, if any.
    /// ServiceAccount tokens must verify (any audience) and name a
    /// ServiceAccount that exists with the same uid.
    pub(crate) fn authenticate(&self, header: Option<&str>, store: &Manifests) -> Option<String> {
        let token = header?.strip_prefix("Bearer ")?.trim();
        if token.is_empty() {
            return None;
        }
        if same(token, &self.admin_token) {
            return Some(ADMIN_USER.to_string());
        }
        if let Some(user) = self.users.iter().find(|u| same(token, &u.token)) {
            return Some(user.name.clone());
        }
        let Some(claims) = self
            .verifiers
            .iter()
            .find_map(|v| v.verify_any_audience(token).ok())
        else {
            return self.webhooks.user(token);
        };
        let namespace = &claims.kubernetes.namespace;
        let account = &claims.kubernetes.serviceaccount;
        let uid = store.service_account_uid(namespace, &account.name)?;
        (uid == account.uid).then(|| subject(namespace, &account.name))
    }

    /// Whether `user` may perform `action`.
    pub(crate) fn authorize(&self, user: &str, action: &Action<'_>) -> bool {
        user == ADMIN_USER || self.grants.iter().any(|g| g.allows(user, action))
    }
}

fn same(a: &str, b: &str) -> bool {
    verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::SigningKey;

    fn grant(subject: &str, verb: &str, resource: &str, namespace: &str) -> Grant {
        Grant {
            subject: subject.into(),
            verbs: vec![verb.into()],
            resources: vec![resource.into()],
            namespaces: vec![namespace.into()],
        }
    }

    fn access(grants: Vec<Grant>) -> Access {
        let key = SigningKey::generate().expect("keygen");
        let jwks = serde_json::json!({"keys": [key.jwk()]});
        Access {
            admin_token: "admin-secret".into(),
            users: vec![User {
                name: "alice".into(),
                token: "alice-secret".into(),
            }],
            grants,
            verifiers: vec![JwtVerifier::from_jwks("http://x", &jwks).expect("verifier")],
            webhooks: Webhooks::default(),
        }
    }

    const GET_SA: Action<'static> = Action {
        verb: "get",
        resource: "serviceaccounts",
        namespace: "ns",
        name: "app",
    };

    #[test]
    fn static_tokens_authenticate() {
        let access = access(vec![]);
        let store = Manifests::default();
        let who = |h: &str| access.authenticate(Some(h), &store);
        assert_eq!(who("Bearer admin-secret").as_deref(), Some(ADMIN_USER));
        assert_eq!(who("Bearer alice-secret").as_deref(), Some("alice"));
        assert_eq!(who("Bearer nope"), None);
        assert_eq!(who("Basic admin-secret"), None);
        assert_eq!(who("Bearer "), None);
        assert_eq!(access.authenticate(None, &store), None);
    }

    #[test]
    fn grants_match_each_field_with_wildcards() {
        let access = access(vec![grant("alice", "get", "serviceaccounts", "ns")]);
        assert!(access.authorize("alice", &GET_SA));
        assert!(access.authorize(ADMIN_USER, &GET_SA));
        assert!(!access.authorize("bob", &GET_SA));
        let create = Action {
            verb: "create",
            ..GET_SA
        };
        assert!(!access.authorize("alice", &create));
        let other_ns = Action {
            namespace: "kube-system",
            ..GET_SA
        };
        assert!(!access.authorize("alice", &other_ns));
        let wide = super::tests::access(vec![grant("*", "*", "*", "*")]);
        assert!(wide.authorize("bob", &create));
    }

    #[test]
    fn user_debug_hides_the_token() {
        let user = User {
            name: "alice".into(),
            token: "alice-secret".into(),
        };
        let debug = format!("{user:?}");
        assert!(
            debug.contains("alice") && !debug.contains("alice-secret"),
            "{debug}"
        );
    }

    #[test]
    fn added_authenticators_are_asked_last() {
        let access = access(Vec::new());
        let store = Manifests::default();
        let user = |token: &str| access.authenticate(Some(&format!("Bearer {token}")), &store);
        assert_eq!(user("ya29.gke"), None);
        access.webhooks.add(Box::new(|token: &str| {
            (token == "ya29.gke").then(|| "sa@p.iam.gserviceaccount.com".to_string())
        }));
        assert_eq!(
            user("ya29.gke").as_deref(),
            Some("sa@p.iam.gserviceaccount.com")
        );
        assert_eq!(user("alice-secret").as_deref(), Some("alice"));
        assert_eq!(user("ya29.other"), None);
    }
}
