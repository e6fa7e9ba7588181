//! Query API parameters and their validation, with STS's messages.

use crate::aws::error::AwsError;

/// Default session length when `DurationSeconds` is not given.
pub(crate) const DEFAULT_DURATION: i64 = 3600;
/// The longest session a role allows (its MaxSessionDuration at most).
pub(crate) const MAX_DURATION: i64 = 43_200;
/// The shortest session STS issues.
const MIN_DURATION: i64 = 900;

/// The decoded parameters of a Query API request (query string and form
/// body together).
#[derive(Debug, Default)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` (member `member` in messages), or the
    /// ValidationError STS gives for a null member.
    pub(crate) fn required(&self, name: &str, member: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    /// `RoleSessionName`, validated.
    pub(crate) fn session_name(&self) -> Result<&str, AwsError> {
        let name = self.required("RoleSessionName", "roleSessionName")?;
        check_session_name(name)?;
        Ok(name)
    }

    /// `DurationSeconds` (default 3600), within 900..=`max`.
    pub(crate) fn duration(&self, max: i64) -> Result<i64, AwsError> {
        let Some(text) = self.get("DurationSeconds") else {
            return Ok(DEFAULT_DURATION);
        };
        let shown: String = text.chars().take(20).collect();
        let value: i64 = text.parse().map_err(|_| {
            AwsError::validation(format!(
                "Value '{shown}' for parameter DurationSeconds is invalid. It must be an integer."
            ))
        })?;
        if value < MIN_DURATION {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{value}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}"
            )));
        }
        if value > max {
            return Err(AwsError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        Ok(value)
    }
}

/// `RoleSessionName`: 2 to 64 characters of `[\w+=,.@-]`.
pub(crate) fn check_session_name(name: &str) -> Result<(), AwsError> {
    let shown: String = name.chars().take(80).collect();
    let constraint = |what: &str| {
        AwsError::validation(format!(
            "1 validation error detected: Value '{shown}' at 'roleSessionName' failed to satisfy constraint: {what}"
        ))
    };
    let length = name.chars().count();
    if length < 2 {
        return Err(constraint(
            "Member must have length greater than or equal to 2",
        ));
    }
    if length > 64 {
        return Err(constraint(
            "Member must have length less than or equal to 64",
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !name.chars().all(allowed) {
        return Err(constraint(
            "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn session_names_follow_sts_rules() {
        for good in [
            "ab",
            "test-sa.test-ns.us-east-1.fluxcd.io",
            "a_b+c=d,e.f@g-h",
            &"x".repeat(64),
        ] {
            assert!(check_session_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "has space", "slash/no", "ü1", &"x".repeat(65)] {
            let err = check_session_name(bad).expect_err(bad);
            assert_eq!(err.code(), "ValidationError");
        }
    }

    #[test]
    fn durations_default_and_are_bounded() {
        assert_eq!(params(&[]).duration(MAX_DURATION), Ok(3600));
        assert_eq!(
            params(&[("DurationSeconds", "900")]).duration(3600),
            Ok(900)
        );
        for bad in ["899", "3601", "x", "-1"] {
            let err = params(&[("DurationSeconds", bad)])
                .duration(3600)
                .expect_err(bad);
            assert_eq!((err.code(), err.status()), ("ValidationError", 400));
        }
    }

    #[test]
    fn missing_members_are_reported_like_sts() {
        let err = params(&[])
            .required("RoleArn", "roleArn")
            .expect_err("missing");
        assert!(err.message().contains("Value null at 'roleArn'"));
    }
}
