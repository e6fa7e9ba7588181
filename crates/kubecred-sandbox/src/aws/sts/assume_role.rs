//! `AssumeRole` and `GetCallerIdentity`: actions of a SigV4-authenticated
//! caller.

use super::params::{DEFAULT_DURATION, MAX_DURATION, Params};
use super::xml::{element, session};
use crate::aws::config::Trust;
use crate::aws::error::AwsError;
use crate::aws::state::{AwsState, Caller};

/// The AssumeRole action name.
pub(crate) const ASSUME_ROLE: &str = "AssumeRole";
/// The GetCallerIdentity action name.
pub(crate) const GET_CALLER_IDENTITY: &str = "GetCallerIdentity";

/// Runs AssumeRole for `caller`; returns the `<AssumeRoleResult>` content.
pub(crate) fn assume_role(
    state: &AwsState,
    params: &Params,
    caller: &Caller,
) -> Result<String, AwsError> {
    let role_arn = params.required("RoleArn", "roleArn")?;
    let session_name = params.session_name()?;
    let duration = if caller.is_session {
        chained_duration(params)?
    } else {
        params.duration(MAX_DURATION)?
    };
    let external_id = params.get("ExternalId");
    if let Some(id) = external_id {
        check_external_id(id)?;
    }
    let denied = || {
        AwsError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn
        ))
    };
    let role = state
        .config
        .roles
        .iter()
        .find(|r| r.arn == role_arn)
        .ok_or_else(denied)?;
    let trusted = role.trust.iter().any(|t| match t {
        Trust::Principal {
            arn,
            external_id: required,
        } => {
            *arn == caller.principal_arn
                && required.as_deref().is_none_or(|r| Some(r) == external_id)
        }
        Trust::WebIdentity { .. } => false,
    });
    if !trusted {
        return Err(denied());
    }
    let issued = state.issue_session(role_arn, session_name, duration);
    Ok(session(&issued))
}

/// Role chaining: sessions of one role assuming another last at most 1 h.
fn chained_duration(params: &Params) -> Result<i64, AwsError> {
    let duration = params.duration(MAX_DURATION)?;
    if duration > DEFAULT_DURATION {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    Ok(duration)
}

/// `ExternalId`: 2 to 1224 characters of `[\w+=,.@:/-]`.
fn check_external_id(id: &str) -> Result<(), AwsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
    let length = id.chars().count();
    if (2..=1224).contains(&length) && id.chars().all(allowed) {
        return Ok(());
    }
    Err(AwsError::validation(
        "1 validation error detected: Value at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and satisfy regular expression pattern: [\\w+=,.@:/-]*",
    ))
}

/// GetCallerIdentity's `<GetCallerIdentityResult>` content.
pub(crate) fn caller_identity(state: &AwsState, caller: &Caller) -> String {
    format!(
        "    {}\n    {}\n    {}\n",
        element("Arn", &caller.arn),
        element("UserId", &caller.user_id),
        element("Account", &state.account_of(&caller.arn)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_validated() {
        assert!(check_external_id("tenant-a:42/x").is_ok());
        assert!(check_external_id("a").is_err());
        assert!(check_external_id("has space").is_err());
    }

    #[test]
    fn chained_sessions_are_limited_to_an_hour() {
        let params = Params(vec![("DurationSeconds".into(), "7200".into())]);
        let err = chained_duration(&params).expect_err("too long");
        assert!(err.message().contains("role chaining"));
        assert_eq!(chained_duration(&Params::default()), Ok(3600));
    }
}
