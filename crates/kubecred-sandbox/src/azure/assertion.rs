//! Client assertions as Entra checks them: a federated identity credential's token from another
//! issuer (matched on issuer, subject and audience, then verified through the issuer's keys), or
//! a certificate-signed JWT (`x5t#S256` or `x5t` naming a registered certificate, optionally the
//! certificate itself in `x5c`; `iss` = `sub` = client id, `aud` = the token endpoint, `exp`,
//! `nbf`, `jti`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::certificate::{certificates_der, thumbprint};
use super::config::{EntraApp, FederatedCredential};
use super::der;
use super::error::{EntraError, shown};
use super::state::AzureState;
use crate::clock::{rfc3339, unix_now};
use crate::verify::VerifyErrorKind;

/// Clock skew tolerated on certificate assertions, seconds.
const LEEWAY: u64 = 60;
const FEDERATION_DOCS: &str =
    "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";
const CERTIFICATE_DOCS: &str = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

/// The unverified claims of an assertion that say which kind it is.
struct Unverified {
    iss: String,
    sub: String,
    aud: Vec<String>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

fn unverified(assertion: &str) -> Result<Unverified, EntraError> {
    let malformed = || EntraError::malformed_jwt("The assertion is not a JWT.");
    let payload = assertion.split('.').nth(1).ok_or_else(malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let text = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    let aud = match &claims["aud"] {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok(Unverified {
        iss: text("iss"),
        sub: text("sub"),
        aud,
        nbf: claims["nbf"].as_i64(),
        exp: claims["exp"].as_i64(),
    })
}

/// Checks `assertion` as `app`'s client credential; `token_endpoints` are the audiences a
/// certificate assertion may name.
pub(crate) fn verify(
    state: &AzureState,
    app: &EntraApp,
    assertion: &str,
    token_endpoints: &[String],
) -> Result<(), EntraError> {
    let claims = unverified(assertion)?;
    if claims.iss == app.client_id && claims.sub == app.client_id {
        certificate(app, assertion, &claims, token_endpoints)
    } else if claims.iss == app.client_id || claims.sub == app.client_id {
        Err(application_mismatch())
    } else {
        federated(state, app, assertion, &claims)
    }
}

fn application_mismatch() -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        700021,
        format!(
            "Client assertion application identifier doesn't match 'client_id' parameter. {CERTIFICATE_DOCS}"
        ),
    )
}

fn no_match(code: u32, what: &str, value: &str) -> EntraError {
    EntraError::new(
        401,
        "invalid_client",
        code,
        format!(
            "No matching federated identity record found for presented assertion {what} '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {FEDERATION_DOCS}",
            shown(value)
        ),
    )
}

fn out_of_range(nbf: Option<i64>, exp: Option<i64>) -> EntraError {
    let shown_time = |t: Option<i64>| t.map(rfc3339).unwrap_or_default();
    EntraError::new(
        401,
        "invalid_client",
        700024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. {CERTIFICATE_DOCS}",
            rfc3339(unix_now()),
            shown_time(nbf),
            shown_time(exp)
        ),
    )
}

fn federated(
    state: &AzureState,
    app: &EntraApp,
    assertion: &str,
    claims: &Unverified,
) -> Result<(), EntraError> {
    let by_issuer: Vec<&FederatedCredential> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer == claims.iss)
        .collect();
    if by_issuer.is_empty() {
        return Err(no_match(700211, "issuer", &claims.iss));
    }
    let by_subject: Vec<&&FederatedCredential> = by_issuer
        .iter()
        .filter(|f| f.subject == claims.sub)
        .collect();
    if by_subject.is_empty() {
        return Err(no_match(700213, "subject", &claims.sub));
    }
    let Some(audience) = by_subject
        .iter()
        .flat_map(|f| f.audiences.iter())
        .find(|a| claims.aud.contains(a))
    else {
        return Err(no_match(
            700212,
            "audience",
            &claims.aud.first().cloned().unwrap_or_default(),
        ));
    };
    let Some(verifier) = state
        .config
        .issuers
        .iter()
        .find(|v| v.issuer() == claims.iss)
    else {
        return Err(EntraError::new(
            400,
            "invalid_request",
            50166,
            format!(
                "Request to External OIDC endpoint failed. Issuer '{}'.",
                shown(&claims.iss)
            ),
        ));
    };
    match verifier.verify(assertion, audience) {
        Ok(_) => Ok(()),
        Err(error) => Err(match error.kind() {
            VerifyErrorKind::Expired | VerifyErrorKind::NotYetValid => {
                out_of_range(claims.nbf, claims.exp)
            }
            VerifyErrorKind::Signature | VerifyErrorKind::UnknownKey => EntraError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation.",
            ),
            // Entra could not fetch the issuer's discovery document or JWKS (unpublished,
            // unreachable, or not JSON): what it answers for a blocked or missing issuer URL.
            VerifyErrorKind::Discovery => EntraError::new(
                400,
                "invalid_request",
                50166,
                "Request to External OIDC endpoint failed.",
            ),
            _ => EntraError::malformed_jwt("The assertion could not be validated."),
        }),
    }
}

fn certificate(
    app: &EntraApp,
    assertion: &str,
    claims: &Unverified,
    token_endpoints: &[String],
) -> Result<(), EntraError> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| EntraError::malformed_jwt("The assertion header cannot be read."))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(EntraError::malformed_jwt(
            "The assertion's algorithm is not RS256 or PS256.",
        ));
    }
    let (presented, sha256) = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => (t.as_str(), true),
        (None, Some(t)) => (t.as_str(), false),
        (None, None) => {
            return Err(EntraError::malformed_jwt(
                "Invalid JWT token. No certificate thumbprint specified in token header.",
            ));
        }
    };
    let shown_thumbprint = URL_SAFE_NO_PAD
        .decode(presented)
        .map(|b| b.iter().map(|x| format!("{x:02X}")).collect::<String>())
        .unwrap_or_else(|_| shown(presented));
    let key_not_found = |sni: bool| {
        let mut message = format!(
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{shown_thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
            app.client_id
        );
        if sni {
            message.push_str(" Alternatively, SNI may be configured on the app. Please ensure that client assertion is being sent with the x5c claim in the JWT header using MSAL's WithSendX5C() method so that Azure Active Directory can validate the certificate being used.");
        }
        EntraError::new(401, "invalid_client", 700027, message)
    };
    let registered: Vec<Vec<u8>> = app
        .certificates
        .iter()
        .flat_map(|pem| certificates_der(pem))
        .collect();
    let Some(certificate) = registered
        .iter()
        .find(|der| thumbprint(der, sha256) == presented)
    else {
        return Err(key_not_found(app.require_x5c));
    };
    let chain_leaf = header
        .x5c
        .as_ref()
        .and_then(|chain| chain.first())
        .and_then(|leaf| STANDARD.decode(leaf).ok());
    match (&chain_leaf, app.require_x5c) {
        (None, true) => return Err(key_not_found(true)),
        (Some(leaf), _) if leaf != certificate => return Err(key_not_found(app.require_x5c)),
        _ => {}
    }
    let key = der::certificate_rsa_key(certificate)
        .map(|rsa| DecodingKey::from_rsa_der(&rsa))
        .ok_or_else(|| key_not_found(false))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "aud"]);
    if let Err(error) = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
        return Err(match error.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                out_of_range(claims.nbf, claims.exp)
            }
            ErrorKind::InvalidSignature => EntraError::new(
                401,
                "invalid_client",
                700027,
                format!(
                    "Client assertion contains an invalid signature. [Reason - Key was found, but use of the key to verify the signature failed., Thumbprint of key used by client: '{shown_thumbprint}']"
                ),
            ),
            _ => EntraError::malformed_jwt("The assertion's claims cannot be read."),
        });
    }
    let audience_ok = claims.aud.iter().any(|aud| {
        token_endpoints
            .iter()
            .any(|e| e.trim_end_matches('/') == aud.trim_end_matches('/'))
    });
    if !audience_ok {
        return Err(EntraError::new(
            401,
            "invalid_client",
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. {CERTIFICATE_DOCS}"
            ),
        ));
    }
    let jti = unverified_jti(assertion);
    if jti.is_none() {
        return Err(EntraError::malformed_jwt(
            "The assertion has no 'jti' claim.",
        ));
    }
    Ok(())
}

fn unverified_jti(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::config::AzureConfig;
    use proptest::prelude::*;

    /// One state for every case (RSA key generation is slow).
    fn state() -> &'static AzureState {
        static STATE: std::sync::OnceLock<AzureState> = std::sync::OnceLock::new();
        STATE.get_or_init(|| {
            AzureState::new(AzureConfig::default(), String::new(), String::new()).expect("key")
        })
    }

    fn app() -> EntraApp {
        EntraApp {
            federated_credentials: vec![FederatedCredential::service_account(
                "https://iss",
                "ns",
                "sa",
            )],
            ..EntraApp::new("client")
        }
    }

    fn jwt(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn federated_records_are_matched_issuer_subject_audience() {
        let header = r#"{"alg":"RS256","kid":"k"}"#;
        let cases = [
            (r#"{"iss":"https://other","sub":"x","aud":"a"}"#, 700211),
            (
                r#"{"iss":"https://iss","sub":"system:serviceaccount:ns:other","aud":"api://AzureADTokenExchange"}"#,
                700213,
            ),
            (
                r#"{"iss":"https://iss","sub":"system:serviceaccount:ns:sa","aud":["x"]}"#,
                700212,
            ),
            (
                r#"{"iss":"https://iss","sub":"system:serviceaccount:ns:sa","aud":"api://AzureADTokenExchange"}"#,
                50166,
            ),
            (r#"{"iss":"client","sub":"other"}"#, 700021),
        ];
        for (claims, code) in cases {
            let error = verify(state(), &app(), &jwt(header, claims), &[]).expect_err(claims);
            assert_eq!(error.code(), code, "{claims}: {error}");
        }
    }

    #[test]
    fn certificate_assertions_need_a_registered_thumbprint() {
        let claims = r#"{"iss":"client","sub":"client","aud":"https://e","exp":1,"jti":"j"}"#;
        let none = verify(state(), &app(), &jwt(r#"{"alg":"PS256"}"#, claims), &[]);
        assert_eq!(none.map_err(|e| e.code()), Err(50027));
        let unknown = verify(
            state(),
            &app(),
            &jwt(r#"{"alg":"PS256","x5t#S256":"AAAA"}"#, claims),
            &[],
        );
        let error = unknown.expect_err("unknown key");
        assert_eq!(error.code(), 700027);
        assert!(error.message().contains("'000000'"), "{error}");
    }

    proptest! {
        #[test]
        fn any_assertion_is_refused_without_panicking(assertion in ".{0,300}") {
            let _ = verify(state(), &app(), &assertion, &[]);
        }
    }
}
