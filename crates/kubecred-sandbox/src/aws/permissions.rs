//! The permission half of IAM, as far as the stand-ins' calls need it: is `action` on `resource`
//! allowed by a role's permission policies (the `aws_iam_role_policy` documents `kubecred
//! policy` writes)? Not a general policy engine: statements have `Effect`, `Action` and
//! `Resource` (a string or a list) and at most `StringEquals` / `StringLike` conditions on keys
//! the caller supplies (`s3:prefix`); anything else is refused when the policy is loaded
//! ([`validate`]), so a document the stand-ins cannot read never counts as allowing.
//!
//! IAM's rules kept: an explicit `Deny` wins; without a matching `Allow` the answer is an
//! implicit deny; action names match case-insensitively, resources case-sensitively; `*` and `?`
//! are wildcards in both, and `*` crosses `/` and `:` (unlike a path glob, which is why the
//! matcher is written here rather than taken from a glob crate).

use serde_json::Value;

use super::config::parse_role_arn;
use super::error::AwsError;
use super::state::{AwsState, Caller};

/// What a call's permission check answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// An `Allow` statement matches and no `Deny` does.
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A `Deny` statement matches.
    ExplicitDeny,
}

/// One call's need: the action, the resource ARN, and condition keys with their values.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Need<'a> {
    /// `service:Action`, e.g. `s3:ListBucket`.
    pub(crate) action: &'a str,
    /// The resource ARN, or `*` for actions without resource-level permissions.
    pub(crate) resource: &'a str,
    /// Condition keys the call carries (e.g. `("s3:prefix", "team-a/")`).
    pub(crate) context: &'a [(&'a str, &'a str)],
}

/// Checks that `document` is a permission policy the evaluator reads exactly. The error names
/// the statement and the part it cannot read.
pub(crate) fn validate(document: &Value) -> Result<(), String> {
    let statements = statements(document)?;
    for (index, statement) in statements.iter().enumerate() {
        let at = |what: &str| format!("statement {index}: {what}");
        let fields = statement
            .as_object()
            .ok_or_else(|| at("not a JSON object"))?;
        for key in fields.keys() {
            if !["Sid", "Effect", "Action", "Resource", "Condition"].contains(&key.as_str()) {
                return Err(at(&format!("unsupported field {key}")));
            }
        }
        match statement["Effect"].as_str() {
            Some("Allow" | "Deny") => {}
            _ => return Err(at("Effect is neither Allow nor Deny")),
        }
        strings(&statement["Action"]).ok_or_else(|| at("Action is not a string or a list"))?;
        strings(&statement["Resource"]).ok_or_else(|| at("Resource is not a string or a list"))?;
        if let Some(condition) = statement.get("Condition") {
            let operators = condition
                .as_object()
                .ok_or_else(|| at("Condition is not an object"))?;
            for (operator, keys) in operators {
                if operator != "StringEquals" && operator != "StringLike" {
                    return Err(at(&format!("unsupported condition operator {operator}")));
                }
                let keys = keys
                    .as_object()
                    .ok_or_else(|| at(&format!("{operator} is not an object")))?;
                for (key, values) in keys {
                    strings(values)
                        .ok_or_else(|| at(&format!("{operator} {key} is not a string or list")))?;
                }
            }
        }
    }
    Ok(())
}

/// Allows `need` for `caller` under the stand-ins' permission policies (all allowed when none
/// are configured), or answers AWS's denial (`code`, 403) naming the caller, action and resource.
pub(crate) fn permit(
    state: &AwsState,
    caller: &Caller,
    need: Need<'_>,
    code: &'static str,
) -> Result<(), AwsError> {
    let Some(policies) = &state.config.permissions else {
        return Ok(());
    };
    let role = parse_role_arn(&caller.principal_arn).map(|r| r.name);
    let documents: Vec<Value> = policies
        .iter()
        .filter(|(name, _)| role.as_deref() == Some(name.as_str()))
        .map(|(_, document)| document.clone())
        .collect();
    let (action, resource, arn) = (need.action, need.resource, &caller.arn);
    let why = match evaluate(&documents, need) {
        Decision::Allowed => return Ok(()),
        Decision::ImplicitDeny => {
            format!("because no identity-based policy allows the {action} action")
        }
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
    };
    tracing::info!(%arn, %action, %resource, "AWS stand-in denied a call");
    Err(AwsError::new(
        code,
        403,
        format!("User: {arn} is not authorized to perform: {action} on resource: {resource} {why}"),
    ))
}

/// The decision of `documents` (each already [`validate`]d) on `need`.
pub(crate) fn evaluate(documents: &[Value], need: Need<'_>) -> Decision {
    let mut allowed = false;
    for statement in documents
        .iter()
        .filter_map(|d| statements(d).ok())
        .flatten()
    {
        if !matches(statement, need) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    match allowed {
        true => Decision::Allowed,
        false => Decision::ImplicitDeny,
    }
}

fn statements(document: &Value) -> Result<&[Value], String> {
    match &document["Statement"] {
        Value::Array(items) => Ok(items),
        _ => Err("the policy document has no Statement list".into()),
    }
}

/// A string or a list of strings.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(one) => Some(vec![one]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn matches(statement: &Value, need: Need<'_>) -> bool {
    let actions = strings(&statement["Action"]).unwrap_or_default();
    let resources = strings(&statement["Resource"]).unwrap_or_default();
    actions.iter().any(|pattern| {
        wildcard(
            &pattern.to_ascii_lowercase(),
            &need.action.to_ascii_lowercase(),
        )
    }) && resources
        .iter()
        .any(|pattern| wildcard(pattern, need.resource))
        && conditions_hold(statement.get("Condition"), need.context)
}

/// Every condition holds: each key must be present in `context` and match one of its values
/// (exactly for `StringEquals`, with wildcards for `StringLike`).
fn conditions_hold(condition: Option<&Value>, context: &[(&str, &str)]) -> bool {
    let Some(operators) = condition.and_then(Value::as_object) else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        keys.as_object().into_iter().flatten().all(|(key, values)| {
            let Some(given) = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| *v)
            else {
                return false;
            };
            strings(values)
                .unwrap_or_default()
                .iter()
                .any(|value| match operator.as_str() {
                    "StringLike" => wildcard(value, given),
                    _ => *value == given,
                })
        })
    })
}

/// IAM's wildcard match: `*` any run of characters (including none, `/` and `:`), `?` one
/// character, everything else itself. Iterative with one backtrack point: linear in practice,
/// never exponential on hostile patterns.
fn wildcard(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn need<'a>(action: &'a str, resource: &'a str) -> Need<'a> {
        Need {
            action,
            resource,
            context: &[],
        }
    }

    #[test]
    fn look_alikes_of_allowed_actions_and_resources_are_denied() {
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::flux"]},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::flux/*"]},
            {"Effect": "Allow", "Action": "ecr:BatchGetImage",
             "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/team-a/app"},
        ]});
        validate(&policy).expect("valid");
        let documents = [policy];
        for (action, resource, expected) in [
            ("s3:ListBucket", "arn:aws:s3:::flux", Decision::Allowed),
            ("S3:listbucket", "arn:aws:s3:::flux", Decision::Allowed),
            (
                "s3:ListBucketVersions",
                "arn:aws:s3:::flux",
                Decision::ImplicitDeny,
            ),
            ("s3:ListBucke", "arn:aws:s3:::flux", Decision::ImplicitDeny),
            (
                "s3:ListBucket",
                "arn:aws:s3:::flux-evil",
                Decision::ImplicitDeny,
            ),
            ("s3:ListBucket", "arn:aws:s3:::FLUX", Decision::ImplicitDeny),
            ("s3:ListBucket", "arn:aws:s3:::flu", Decision::ImplicitDeny),
            (
                "s3:GetObject",
                "arn:aws:s3:::flux/a/b.tgz",
                Decision::Allowed,
            ),
            (
                "s3:GetObject",
                "arn:aws:s3:::flux-evil/a",
                Decision::ImplicitDeny,
            ),
            ("s3:GetObject", "arn:aws:s3:::flux", Decision::ImplicitDeny),
            (
                "s3:GetObjectAcl",
                "arn:aws:s3:::flux/a",
                Decision::ImplicitDeny,
            ),
            (
                "ecr:BatchGetImage",
                "arn:aws:ecr:us-east-1:123456789012:repository/team-a/app",
                Decision::Allowed,
            ),
            (
                "ecr:BatchGetImage",
                "arn:aws:ecr:us-east-1:123456789012:repository/team-a/app2",
                Decision::ImplicitDeny,
            ),
            (
                "ecr:BatchGetImage",
                "arn:aws:ecr:us-east-1:210987654321:repository/team-a/app",
                Decision::ImplicitDeny,
            ),
            ("ecr:GetAuthorizationToken", "*", Decision::ImplicitDeny),
        ] {
            assert_eq!(
                evaluate(&documents, need(action, resource)),
                expected,
                "{action} on {resource}"
            );
        }
    }

    #[test]
    fn an_explicit_deny_wins_and_conditions_need_their_key() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::p",
             "Condition": {"StringLike": {"s3:prefix": ["team-a/*", "team-a"]}}},
        ]});
        validate(&policy).expect("valid");
        let documents = [policy];
        assert_eq!(
            evaluate(&documents, need("s3:GetObject", "arn:aws:s3:::b/secret/k")),
            Decision::ExplicitDeny
        );
        assert_eq!(
            evaluate(&documents, need("s3:GetObject", "arn:aws:s3:::b/public/k")),
            Decision::Allowed
        );
        let only_conditional = [json!({"Statement": [documents[0]["Statement"][2].clone()]})];
        let with = |prefix: &str| {
            let context = [("s3:prefix", prefix)];
            let need = Need {
                action: "s3:ListBucket",
                resource: "arn:aws:s3:::p",
                context: &context,
            };
            evaluate(&only_conditional, need)
        };
        assert_eq!(with("team-a/x"), Decision::Allowed);
        assert_eq!(with("team-b/"), Decision::ImplicitDeny);
        assert_eq!(
            evaluate(&only_conditional, need("s3:ListBucket", "arn:aws:s3:::p")),
            Decision::ImplicitDeny,
            "a condition on a key the call does not carry does not hold"
        );
    }

    #[test]
    fn unreadable_documents_are_refused_by_name() {
        for (document, expected) in [
            (json!({}), "no Statement list"),
            (json!({"Statement": [1]}), "not a JSON object"),
            (
                json!({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}),
                "unsupported field NotAction",
            ),
            (
                json!({"Statement": [{"Effect": "allow", "Action": "s3:*", "Resource": "*"}]}),
                "Effect",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": 3, "Resource": "*"}]}),
                "Action",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}}]}),
                "unsupported condition operator IpAddress",
            ),
        ] {
            let error = validate(&document).expect_err("refused");
            assert!(error.contains(expected), "{document}: {error}");
        }
    }

    proptest! {
        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(
            pattern in "[a-zA-Z0-9:/._-]{0,24}",
            text in "[a-zA-Z0-9:/._-]{0,24}",
        ) {
            prop_assert_eq!(wildcard(&pattern, &text), pattern == text);
            prop_assert!(wildcard(&pattern, &pattern));
        }

        #[test]
        fn a_trailing_star_matches_exactly_the_extensions(
            prefix in "[a-z0-9:/]{0,12}",
            text in "[a-z0-9:/*?]{0,16}",
        ) {
            prop_assert_eq!(wildcard(&format!("{prefix}*"), &text), text.starts_with(&prefix));
        }

        #[test]
        fn hostile_patterns_terminate(pattern in "[*?a]{0,40}", text in "a{0,60}") {
            let _ = wildcard(&pattern, &text);
        }
    }
}
