//! The HTTP client of the AWS SDK clients one request builds, and how it reaches the network.
//!
//! - A request's proxy ([`crate::Request::proxy`], Flux's `ProxyURL`) carries every AWS call of
//!   that request (STS, ECR, EKS, and the default chain's own calls), as Flux's fixed proxy does,
//!   with one exception: the EC2 instance metadata addresses (`169.254.169.254`,
//!   `fd00:ec2::254`) are never proxied, since a proxy elsewhere would answer with its own
//!   host's role. The proxy URL's user and password, if any, are its basic authentication.
//! - Without one, the proxy variables apply as Go's and botocore's HTTP stacks read them
//!   (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper or lower case). The SDK's
//!   default client ignores them, which would make kubecred the one tool of a proxied cluster
//!   that goes around the proxy. As for the AWS CLI, list `169.254.169.254` in `NO_PROXY`.
//! - Node level reads the instance metadata service with the SDK's default client: no proxy.
//!
//! The client is the SDK's own connection pool (`aws-smithy-http-client`), with the rustls /
//! aws-lc TLS stack every other client of kubecred uses.

use aws_smithy_http_client::pool::{Client, ConnectionPool};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use url::Url;

use crate::error::{Error, Result};
use crate::request::redacted_url;

/// The instance metadata service's addresses (IPv4, IPv6): never sent to a request's proxy.
const INSTANCE_METADATA: &str = "169.254.169.254,fd00:ec2::254";

/// The client every AWS SDK client of one request shares.
pub(crate) type HttpClient = Client;

/// The HTTP client for the AWS calls of a request with this proxy (see the module docs).
pub(crate) fn client(proxy: Option<&Url>) -> Result<HttpClient> {
    let config = match proxy {
        Some(url) => fixed_proxy(url)?,
        None => ProxyConfig::from_env(),
    };
    let pool = ConnectionPool::builder()
        .proxy_config(config)
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
        .map_err(|e| Error::invalid(format!("cannot build the AWS HTTP client: {e}")))?;
    Client::new(&pool).map_err(|e| Error::invalid(format!("cannot build the AWS HTTP client: {e}")))
}

/// The proxy for every call. User info in the URL stays percent-encoded: the HTTP stack decodes
/// it into the `Proxy-Authorization` header.
fn fixed_proxy(url: &Url) -> Result<ProxyConfig> {
    check_proxy(url)?;
    ProxyConfig::all(url.as_str())
        .map(|config| config.no_proxy(INSTANCE_METADATA))
        .map_err(|e| Error::invalid(format!("proxy {}: {e}", redacted_url(url))))
}

/// A request's proxy must be an `http://` or `https://` URL with a host, whichever HTTP stack
/// carries the call (the SDK pool here, reqwest for the S3/KMS checks).
pub(crate) fn check_proxy(url: &Url) -> Result<()> {
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "proxy {}: expected an http:// or https:// URL with a host",
        redacted_url(url)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<ProxyConfig>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn only_http_proxies_with_a_host_are_taken() -> std::result::Result<(), url::ParseError> {
        assert!(fixed_proxy(&Url::parse("http://proxy.example:3128")?).is_ok());
        assert!(fixed_proxy(&Url::parse("https://proxy.example")?).is_ok());
        let socks = message(fixed_proxy(&Url::parse("socks5://proxy.example:1080")?));
        assert!(socks.contains("socks5://proxy.example:1080") && socks.contains("http://"));
        // User info is taken as is (percent-encoded), for basic authentication.
        assert!(fixed_proxy(&Url::parse("http://team-a:p%40ss@proxy.example:3128")?).is_ok());
        Ok(())
    }

    #[test]
    fn proxy_passwords_never_reach_messages() -> std::result::Result<(), url::ParseError> {
        let url = Url::parse("ftp://user:s3cr%2Bet@proxy.example")?;
        let text = message(fixed_proxy(&url));
        assert!(
            text.contains("user:redacted@") && !text.contains("s3cr"),
            "{text}"
        );
        assert_eq!(
            redacted_url(&Url::parse("http://proxy.example")?),
            "http://proxy.example/"
        );
        Ok(())
    }
}
