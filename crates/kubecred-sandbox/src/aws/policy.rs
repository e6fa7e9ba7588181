//! Loading what `kubecred policy --provider aws --output json` writes into the AWS stand-ins: the
//! role and its trust policy (`aws_iam_role`), the IAM OIDC provider it names
//! (`aws_iam_openid_connect_provider`), and the permission policy (`aws_iam_role_policy`), which
//! the stand-ins do not evaluate themselves: it is handed back for moto, whose IAM does.
//!
//! Only what STS checks is read from a trust policy: `Allow` statements for
//! `sts:AssumeRoleWithWebIdentity` by a federated OIDC provider with `StringEquals` conditions on
//! `<provider>:aud` and `<provider>:sub` (the shape IRSA uses). Anything else (another action, a
//! `Deny`, another operator, a condition key it does not know) is an error naming it: a loader
//! that skipped what it cannot read would prove a policy sufficient that is not.

use serde_json::Value;

use super::config::{AwsRole, Trust};
use crate::policy_fields::TOP_LEVEL;

/// The AWS side of a policy: roles with the trust they grant, the OIDC providers' issuer URLs
/// (the caller trusts each with a verifier), and the permission documents by role name.
#[derive(Clone, Debug, Default)]
pub struct LoadedPolicy {
    /// Roles and their trust.
    pub roles: Vec<AwsRole>,
    /// Issuer URLs of the IAM OIDC providers, as registered.
    pub oidc_providers: Vec<String>,
    /// `(role name, policy document)` of each inline permission policy.
    pub permission_policies: Vec<(String, Value)>,
}

/// Reads `policy` (one `kubecred policy` JSON object). Errors name the document and field.
pub fn load_policy(policy: &Value) -> Result<LoadedPolicy, String> {
    if policy["provider"] != "aws" {
        return Err(format!(
            "not an AWS policy (provider {})",
            policy["provider"]
        ));
    }
    let fields = policy
        .as_object()
        .ok_or("the policy is not a JSON object")?;
    if let Some(unknown) = fields.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(format!("unknown field '{unknown}' in the policy"));
    }
    let documents = |field: &str| -> Result<Vec<Value>, String> {
        match &policy[field] {
            Value::Array(items) => Ok(items.clone()),
            other => Err(format!("'{field}' is not a list: {other}")),
        }
    };
    let mut loaded = LoadedPolicy::default();
    // Providers first: a role's trust names them.
    let mut providers: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut roles = Vec::new();
    for document in documents("trust")?
        .into_iter()
        .chain(documents("permissions")?)
    {
        match document["kind"].as_str() {
            Some("aws_iam_openid_connect_provider") => {
                let url = text(&document, "url")?;
                let arn = text(&document, "arn")?;
                let audiences = document["clientIdList"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                providers.push((arn, url.clone(), audiences));
                loaded.oidc_providers.push(url);
            }
            Some("aws_iam_role") => roles.push(document),
            Some("aws_iam_role_policy") => {
                let role = text(&document, "roleName")?;
                let policy = document["policyDocument"].clone();
                super::permissions::validate(&policy)
                    .map_err(|e| format!("role {role}'s permission policy: {e}"))?;
                loaded.permission_policies.push((role, policy));
            }
            Some("aws_eks_pod_identity_association") => {}
            other => return Err(format!("unknown AWS document kind {other:?}")),
        }
    }
    for role in roles {
        let arn = text(&role, "roleArn")?;
        let statements = role["assumeRolePolicyDocument"]["Statement"]
            .as_array()
            .ok_or_else(|| format!("role {arn}: the trust policy has no Statement list"))?;
        let mut trust = Vec::new();
        for statement in statements {
            trust.extend(web_identity(&arn, statement, &providers)?);
        }
        loaded.roles.push(AwsRole { arn, trust });
    }
    Ok(loaded)
}

fn text(document: &Value, field: &str) -> Result<String, String> {
    document[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} has no '{field}'", document["kind"]))
}

/// The web-identity trust one statement grants, one entry per audience it admits (none for a
/// Pod Identity statement, which the Pod Identity agent stand-in serves by its own association).
fn web_identity(
    role: &str,
    statement: &Value,
    providers: &[(String, String, Vec<String>)],
) -> Result<Vec<Trust>, String> {
    if statement["Effect"] != "Allow" {
        return Err(format!(
            "role {role}: a statement that is not Allow: {statement}"
        ));
    }
    if statement["Principal"]["Service"] == "pods.eks.amazonaws.com" {
        return Ok(Vec::new());
    }
    if statement["Action"] != "sts:AssumeRoleWithWebIdentity" {
        return Err(format!(
            "role {role}: unsupported trust action {}",
            statement["Action"]
        ));
    }
    let federated = statement["Principal"]["Federated"]
        .as_str()
        .ok_or_else(|| format!("role {role}: no federated principal"))?;
    let Some((_, issuer, client_ids)) = providers.iter().find(|(arn, _, _)| arn == federated)
    else {
        // A trust naming a provider that does not exist trusts nothing.
        return Ok(Vec::new());
    };
    let provider = federated
        .split_once(":oidc-provider/")
        .map(|(_, p)| p)
        .ok_or_else(|| format!("role {role}: {federated} is not an OIDC provider ARN"))?;
    let mut audience = None;
    let mut subject = None;
    if let Some(conditions) = statement.get("Condition") {
        let conditions = conditions
            .as_object()
            .ok_or_else(|| format!("role {role}: Condition is not an object"))?;
        for (operator, keys) in conditions {
            if operator != "StringEquals" {
                return Err(format!(
                    "role {role}: unsupported condition operator {operator}"
                ));
            }
            for (key, value) in keys.as_object().into_iter().flatten() {
                let value = value
                    .as_str()
                    .ok_or_else(|| format!("role {role}: condition {key} is not one string"))?;
                match key.strip_prefix(provider) {
                    Some(":aud") => audience = Some(value.to_owned()),
                    Some(":sub") => subject = Some(value.to_owned()),
                    _ => return Err(format!("role {role}: unsupported condition key {key}")),
                }
            }
        }
    }
    // Without an `aud` condition the provider's client id list alone bounds the audience: a
    // token for any of its client ids is let in.
    let audiences = match audience {
        Some(audience) if client_ids.contains(&audience) => vec![audience],
        Some(audience) => {
            return Err(format!(
                "role {role}: aud {audience} is not a client id of provider {federated}"
            ));
        }
        None if client_ids.is_empty() => {
            return Err(format!("provider {federated} has no client id"));
        }
        None => client_ids.clone(),
    };
    Ok(audiences
        .into_iter()
        .map(|audience| Trust::WebIdentity {
            issuer: issuer.clone(),
            audience,
            subject: subject.clone(),
        })
        .collect())
}
