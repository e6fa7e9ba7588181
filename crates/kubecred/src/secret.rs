//! Secret strings: redacted in `Debug`, zeroized when the last copy is dropped.
//!
//! Every token, key and password kubecred handles is a [`Secret`]. There is deliberately no
//! `Display` impl: printing a secret takes an explicit [`Secret::expose`].

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

/// A secret string. Clones share one zeroized buffer.
#[derive(Clone)]
pub struct Secret(Arc<Zeroizing<String>>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::new(Zeroizing::new(value.into())))
    }

    /// The secret value, for the one place that must send or print it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2-token");
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn expose_returns_the_value_and_clones_share_it() {
        let secret = Secret::new(String::from("abc"));
        let copy = secret.clone();
        assert_eq!(copy.expose(), "abc");
        assert!(std::ptr::eq(secret.expose(), copy.expose()));
    }
}
