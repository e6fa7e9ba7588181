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
//! aws-lc TLS stack every other client of kubecred uses. Every SDK client of a request also
//! takes its [`Timeouts`] from here ([`HttpClient::timeout_config`]): connect, read, and the
//! operation timeout (`overall`, the SDK's own retries included).

use aws_smithy_http_client::pool::{Client, ConnectionPool};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_types::timeout::TimeoutConfig;
use url::Url;

use crate::error::{Error, Result};
use crate::request::redacted_url;
use crate::timeouts::Timeouts;

/// The instance metadata service's addresses (IPv4, IPv6): never sent to a request's proxy.
const INSTANCE_METADATA: &str = "169.254.169.254,fd00:ec2::254";

/// How the AWS calls of a request reach the network: its proxy (none: the proxy environment
/// variables) and the deadlines.
#[derive(Clone, Copy, Debug, Default)]
pub struct Transport<'a> {
    /// The request's proxy ([`crate::Request::proxy`]).
    pub proxy: Option<&'a Url>,
    /// Connect, read and overall timeouts.
    pub timeouts: Timeouts,
}

impl<'a> Transport<'a> {
    /// The transport of `request`'s AWS calls made by `engine`: the request's proxy, the
    /// engine's timeouts.
    pub(crate) fn of(engine: &crate::Engine, request: &'a crate::Request) -> Self {
        Transport {
            proxy: request.proxy.as_ref(),
            timeouts: *engine.timeouts(),
        }
    }
}

/// The HTTP client every AWS SDK client of one request shares, and the timeouts they all take.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client,
    timeouts: Timeouts,
}

impl HttpClient {
    /// The connection pool, for an SDK config's `http_client`.
    pub(crate) fn client(&self) -> Client {
        self.client.clone()
    }

    /// The timeouts, for an SDK config's `timeout_config`.
    pub(crate) fn timeout_config(&self) -> TimeoutConfig {
        sdk_timeouts(&self.timeouts)
    }
}

/// The SDK's form of [`Timeouts`]: the operation timeout bounds every attempt and retry.
fn sdk_timeouts(timeouts: &Timeouts) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .operation_timeout(timeouts.overall)
        .build()
}

/// The HTTP client for the AWS calls of a request (see the module docs).
pub(crate) fn client(transport: Transport<'_>) -> Result<HttpClient> {
    let config = match transport.proxy {
        Some(url) => fixed_proxy(url)?,
        None => ProxyConfig::from_env(),
    };
    let pool = ConnectionPool::builder()
        .proxy_config(config)
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .build_https()
        .map_err(|e| Error::invalid(format!("cannot build the AWS HTTP client: {e}")))?;
    let client = Client::new(&pool)
        .map_err(|e| Error::invalid(format!("cannot build the AWS HTTP client: {e}")))?;
    Ok(HttpClient {
        client,
        timeouts: transport.timeouts,
    })
}

/// The proxy for every call. User info in the URL stays percent-encoded: the HTTP stack decodes
/// it into the `Proxy-Authorization` header.
fn fixed_proxy(url: &Url) -> Result<ProxyConfig> {
    check_proxy(url)?;
    ProxyConfig::all(url.as_str())
        .map(|config| config.no_proxy(INSTANCE_METADATA))
        .map_err(|e| Error::invalid(format!("proxy {}: {e}", redacted_url(url))))
}

pub(crate) use crate::http::check_proxy;

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<ProxyConfig>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn sdk_clients_take_every_timeout() {
        let timeouts = Timeouts {
            connect: std::time::Duration::from_secs(1),
            read: std::time::Duration::from_secs(2),
            overall: std::time::Duration::from_secs(3),
        };
        let config = sdk_timeouts(&timeouts);
        assert_eq!(config.connect_timeout(), Some(timeouts.connect));
        assert_eq!(config.read_timeout(), Some(timeouts.read));
        assert_eq!(config.operation_timeout(), Some(timeouts.overall));
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
