//! Form bodies (`application/x-www-form-urlencoded`) of the token endpoints, bounded; a repeated
//! field is refused.

use std::collections::BTreeMap;

/// The largest body read.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// Why a form was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FormError {
    TooLarge,
    Repeated(String),
}

/// Form fields by name.
#[derive(Debug, Default)]
pub(crate) struct Form(BTreeMap<String, String>);

impl Form {
    pub(crate) fn parse(body: &[u8]) -> Result<Form, FormError> {
        if body.len() > MAX_BODY {
            return Err(FormError::TooLarge);
        }
        let mut fields = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            let name = name.into_owned();
            if fields.contains_key(&name) {
                return Err(FormError::Repeated(super::error::shown(&name)));
            }
            fields.insert(name, value.into_owned());
        }
        Ok(Form(fields))
    }

    /// The value of `name`, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repeated_and_huge_forms_are_refused() {
        assert_eq!(
            Form::parse(b"a=1&a=2").map(|_| ()),
            Err(FormError::Repeated("a".into()))
        );
        assert_eq!(
            Form::parse(&vec![b'a'; MAX_BODY + 1]).map(|_| ()),
            Err(FormError::TooLarge)
        );
        let form = Form::parse(b"a=x%20y&b=").expect("form");
        assert_eq!(form.get("a"), Some("x y"));
        assert_eq!(form.get("b"), None);
    }

    proptest! {
        #[test]
        fn any_body_is_handled(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Form::parse(&body);
        }
    }
}
