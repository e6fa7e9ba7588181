//! Verifying AWS CodeCommit's HTTPS git credentials as CodeCommit does, with the stand-ins' own
//! SigV4 code (not kubecred's signer): HTTP Basic with username
//! `<access key id>%<session token>` (empty token for an IAM user's key) and password
//! `<YYYYMMDDTHHMMSS>Z<hex signature>`, the signature being SigV4 (service `codecommit`, the
//! host's region) over the pseudo-request `GIT\n<repository path>\n\nhost:<host>\n\nhost\n`,
//! whose string to sign carries the timestamp *without* the trailing `Z`. A password is good for
//! 15 minutes either side of its timestamp.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::sigv4::{self, SignatureInfo};
use super::state::{AwsState, Caller};

/// The SigV4 service name.
const SERVICE: &str = "codecommit";
/// How far a password's timestamp may be from now, in seconds.
const MAX_SKEW: i64 = 15 * 60;
/// `YYYYMMDDTHHMMSS`.
const STAMP_LEN: usize = 15;

/// What the server saw: the repository path of the request (still percent-encoded, without
/// the smart-HTTP suffix), its `Host` header and its `Authorization` header.
pub(crate) struct Presented<'a> {
    pub(crate) repository_path: &'a str,
    pub(crate) host: &'a str,
    pub(crate) authorization: &'a str,
}

/// Why credentials were refused. Never contains the secret, the token or the signature.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) String);

fn refuse<T>(reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal(reason.into()))
}

/// Checks `presented` against the keys `state` knows, for a server in `region`, at `now` (Unix
/// seconds). Returns the caller.
pub(crate) fn verify(
    state: &AwsState,
    region: &str,
    presented: &Presented<'_>,
    now: i64,
) -> Result<Caller, Refusal> {
    let (username, password) = basic(presented.authorization)?;
    let Some((key_id, token)) = username.split_once('%') else {
        return refuse("the username is not <access key id>%<session token>");
    };
    let (stamp, signature) = split_password(&password)?;
    let Some(signed_at) = sigv4::parse_amz_date(&format!("{stamp}Z")) else {
        return refuse("the password's timestamp is not YYYYMMDDTHHMMSS");
    };
    if (now - signed_at).abs() > MAX_SKEW {
        return refuse("the password was signed more than 15 minutes from now");
    }
    let Some(record) = state.lookup_key(key_id) else {
        return refuse(format!("unknown access key id {key_id}"));
    };
    if record.session_token.as_deref().unwrap_or("") != token {
        return refuse(format!("the session token does not belong to {key_id}"));
    }
    if record.expires_at.is_some_and(|at| at <= now) {
        return refuse(format!("the session of {key_id} has expired"));
    }
    let info = SignatureInfo {
        key_id: key_id.to_owned(),
        scope_date: stamp[..8].to_owned(),
        region: region.to_owned(),
        service: SERVICE.to_owned(),
        signed_headers: vec!["host".to_owned()],
        signature: signature.to_owned(),
    };
    let canonical = canonical_request(presented.repository_path, presented.host);
    let to_sign = sigv4::string_to_sign(stamp, &info.scope(), &canonical);
    let key = sigv4::signing_key(&record.secret, &info);
    if !sigv4::signature_matches(&key, &to_sign, signature) {
        return refuse(format!("the signature does not match for {key_id}"));
    }
    Ok(record.caller)
}

/// The pseudo-request CodeCommit signs: method `GIT`, the path encoded once more, no query,
/// only `host` signed, an empty payload-hash line.
fn canonical_request(repository_path: &str, host: &str) -> String {
    let path = if repository_path.is_empty() {
        "/"
    } else {
        repository_path
    };
    format!(
        "GIT\n{}\n\nhost:{}\n\nhost\n",
        sigv4::uri_encode(path, true),
        host.trim()
    )
}

/// The username and password of `Basic <base64(user:password)>`.
fn basic(authorization: &str) -> Result<(String, String), Refusal> {
    let Some((scheme, encoded)) = authorization.trim().split_once(' ') else {
        return refuse("the Authorization header is not Basic");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return refuse("the Authorization header is not Basic");
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    match decoded.as_deref().and_then(|text| text.split_once(':')) {
        Some((user, password)) => Ok((user.to_owned(), password.to_owned())),
        None => refuse("the Basic credentials are not base64 of user:password"),
    }
}

/// `(YYYYMMDDTHHMMSS, signature)` of `<stamp>Z<signature>`.
fn split_password(password: &str) -> Result<(&str, &str), Refusal> {
    match (
        password.get(..STAMP_LEN),
        password.get(STAMP_LEN..=STAMP_LEN),
        password.get(STAMP_LEN + 1..),
    ) {
        (Some(stamp), Some("Z"), Some(signature)) if stamp.is_ascii() => Ok((stamp, signature)),
        _ => refuse("the password is not <YYYYMMDDTHHMMSS>Z<signature>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::{AwsConfig, AwsUser};

    const HOST: &str = "git-codecommit.eu-west-1.amazonaws.com";

    /// The vector of kubecred's `aws::codecommit` tests (computed there with a python3 one-off)
    /// checked here by the stand-in's independent verifier; `now` is the signing time.
    #[test]
    fn accepts_the_reference_vector_and_nothing_else() {
        let state = AwsState::new(
            AwsConfig {
                users: vec![AwsUser {
                    arn: "arn:aws:iam::123456789012:user/u".into(),
                    access_key_id: "AKIDEXAMPLE".into(),
                    secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                }],
                ..AwsConfig::default()
            },
            "127.0.0.1:1".into(),
        );
        let session = state.issue_session("arn:aws:iam::123456789012:role/r", "s", 3600);
        let password =
            "20240102T030405Z591b14c6114fcd9ea7450670fecf0525d0ce800acc97f702d7c29f7da0ad68b5";
        let now = 1_704_164_645;
        let authorization = |user: &str, password: &str| {
            format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
        };
        let check = |user: &str, password: &str, path: &str, now: i64| {
            let header = authorization(user, password);
            let presented = Presented {
                repository_path: path,
                host: HOST,
                authorization: &header,
            };
            verify(&state, "eu-west-1", &presented, now)
        };
        let accepted = check("AKIDEXAMPLE%", password, "/v1/repos/my%20repo", now);
        assert_eq!(
            accepted.map(|caller| caller.arn),
            Ok("arn:aws:iam::123456789012:user/u".to_owned())
        );
        // The reference signed with a session token the user key does not have.
        let refused = check(
            "AKIDEXAMPLE%session-token",
            password,
            "/v1/repos/my%20repo",
            now,
        );
        assert_eq!(
            refused,
            Err(Refusal(
                "the session token does not belong to AKIDEXAMPLE".into()
            ))
        );
        let session_user = format!("{}%{}", session.access_key_id, session.session_token);
        let wrong_key = check(&session_user, password, "/v1/repos/my%20repo", now);
        assert!(wrong_key.is_err());
        assert!(check("AKIDEXAMPLE%", password, "/v1/repos/other", now).is_err());
        assert!(check("AKIDEXAMPLE%", "garbage", "/v1/repos/my%20repo", now).is_err());
        let late = check("AKIDEXAMPLE%", password, "/v1/repos/my%20repo", now + 901);
        assert_eq!(
            late,
            Err(Refusal(
                "the password was signed more than 15 minutes from now".into()
            ))
        );
    }

    #[test]
    fn canonical_request_and_parsing() {
        assert_eq!(
            canonical_request("/v1/repos/my%20repo", HOST),
            format!("GIT\n/v1/repos/my%2520repo\n\nhost:{HOST}\n\nhost\n")
        );
        assert_eq!(
            split_password("20240102T030405Zab"),
            Ok(("20240102T030405", "ab"))
        );
        assert!(split_password("20240102T030405").is_err());
        assert!(split_password("2024010é030405Zab").is_err());
        let header = format!("basic {}", STANDARD.encode("a%b:c:d"));
        assert_eq!(basic(&header), Ok(("a%b".into(), "c:d".into())));
        assert!(basic("Bearer x").is_err());
        assert!(basic("Basic !!!").is_err());
    }
}
