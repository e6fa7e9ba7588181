//! The providers, named as in the Flux documentation: `aws`, `azure`, `gcp`, `generic`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Who issues the credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Amazon Web Services (STS).
    Aws,
    /// Microsoft Azure (Entra ID).
    Azure,
    /// Google Cloud (STS, IAM Credentials).
    Gcp,
    /// The Kubernetes ServiceAccount token itself, for remote clusters that trust this
    /// cluster's issuer.
    Generic,
}

impl Provider {
    /// Every provider, in the order error messages list them.
    pub const ALL: [Provider; 4] = [
        Provider::Aws,
        Provider::Azure,
        Provider::Gcp,
        Provider::Generic,
    ];

    /// The provider's name, as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Generic => "generic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Provider {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Provider::ALL
            .into_iter()
            .find(|provider| provider.name() == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
                Error::invalid(format!(
                    "unknown provider '{name}': valid providers are {}",
                    valid.join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(provider.name().parse::<Provider>().ok(), Some(provider));
        }
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let error = "AWS".parse::<Provider>().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown provider 'AWS': valid providers are aws, azure, gcp, generic")
        );
    }
}
