//! The parameters of an OAuth-style request (STS `v1/token`, the token endpoint): a form body
//! (`application/x-www-form-urlencoded`, what Google's client libraries send) or a JSON object
//! (what the REST reference documents, in camelCase or snake_case field names). Field names
//! are kept in snake_case; a repeated field is refused, as is anything that is not a string.

use std::collections::BTreeMap;

use super::error::OAuthError;

/// The largest body read (Google's token endpoints take a few KB).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Request parameters by snake_case name.
#[derive(Debug, Default)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `body` as JSON when `content_type` says so, as a form otherwise.
    pub(crate) fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Params, OAuthError> {
        if body.len() > MAX_BODY {
            return Err(OAuthError::invalid_request(format!(
                "The request body is larger than {MAX_BODY} bytes."
            )));
        }
        let json = content_type.is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
        if json {
            Params::json(body)
        } else {
            Params::form(body)
        }
    }

    fn form(body: &[u8]) -> Result<Params, OAuthError> {
        let mut params = Params::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            params.insert(name.into_owned(), value.into_owned())?;
        }
        Ok(params)
    }

    fn json(body: &[u8]) -> Result<Params, OAuthError> {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_request(format!("The request body is not valid JSON: {e}"))
        })?;
        let serde_json::Value::Object(fields) = value else {
            return Err(OAuthError::invalid_request(
                "The request body is not a JSON object.",
            ));
        };
        let mut params = Params::default();
        for (name, value) in fields {
            let serde_json::Value::String(text) = value else {
                return Err(OAuthError::invalid_request(format!(
                    "Invalid value for \"{}\": expected a string.",
                    shown(&name)
                )));
            };
            params.insert(snake_case(&name), text)?;
        }
        Ok(params)
    }

    fn insert(&mut self, name: String, value: String) -> Result<(), OAuthError> {
        if self.0.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "The parameter \"{}\" is given more than once.",
                shown(&name)
            )));
        }
        self.0.insert(name, value);
        Ok(())
    }

    /// The value of `name`, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, or Google's "Invalid value" error naming it.
    pub(crate) fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!("Invalid value for \"{name}\": it is missing."))
        })
    }
}

/// `grantType` → `grant_type`; snake_case names are unchanged.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A caller-supplied name, shortened for messages.
fn shown(name: &str) -> String {
    name.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms_and_json_give_the_same_params() {
        let form = Params::parse(
            Some("application/x-www-form-urlencoded"),
            b"grant_type=a%3Ab&subject_token=t",
        )
        .expect("form");
        let json = Params::parse(
            Some("application/json; charset=utf-8"),
            br#"{"grantType": "a:b", "subject_token": "t"}"#,
        )
        .expect("json");
        for params in [&form, &json] {
            assert_eq!(params.get("grant_type"), Some("a:b"));
            assert_eq!(params.get("subject_token"), Some("t"));
        }
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        let cases: [(Option<&str>, &[u8], &str); 4] = [
            (None, b"a=1&a=2", "given more than once"),
            (Some("application/json"), b"[1]", "not a JSON object"),
            (
                Some("application/json"),
                b"{\"scope\": 1}",
                "expected a string",
            ),
            (Some("application/json"), b"{", "not valid JSON"),
        ];
        for (content_type, body, expected) in cases {
            let error = Params::parse(content_type, body).expect_err("refused");
            assert_eq!(error.code(), "invalid_request");
            assert!(error.description().contains(expected), "{error}");
        }
        let huge = vec![b'a'; MAX_BODY + 1];
        assert!(Params::parse(None, &huge).is_err());
    }

    #[test]
    fn missing_and_empty_values_are_named() {
        let params = Params::parse(None, b"audience=").expect("form");
        let error = params.required("audience").expect_err("empty");
        assert_eq!(
            error.description(),
            "Invalid value for \"audience\": it is missing."
        );
    }

    proptest! {
        #[test]
        fn any_body_parses_or_is_refused_without_panicking(
            body in proptest::collection::vec(any::<u8>(), 0..512),
            json in any::<bool>(),
        ) {
            let content_type = json.then_some("application/json");
            let _ = Params::parse(content_type, &body);
        }

        #[test]
        fn any_form_field_round_trips(name in "[a-z_]{1,20}", value in ".{0,50}") {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(&name, &value)
                .finish();
            let params = Params::parse(None, body.as_bytes()).expect("one field");
            prop_assert_eq!(params.get(&name), Some(value.as_str()).filter(|v| !v.is_empty()));
        }
    }
}
