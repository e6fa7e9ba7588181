//! `docker-credential-kubecred` / `kubecred docker-credential <verb>`: docker's credential-helper
//! protocol (github.com/docker/docker-credential-helpers).
//!
//! With `"credHelpers": {"<registry host>": "kubecred"}` in `~/.docker/config.json`, docker runs
//! `docker-credential-kubecred <verb>` from PATH (this binary under that name, or a symlink).
//!
//! - `get`: the server URL on stdin (a host, possibly with a scheme and path); answers
//!   `{"ServerURL","Username","Secret"}` on stdout. The provider follows from the host (ECR
//!   private and public today, see [`kubecred::registry::provider_for_host`]) or from the config
//!   file. A host kubecred does not serve gets the protocol's not-found answer
//!   (`credentials not found in native keychain`, exit 1), so docker goes on without credentials.
//! - `store` and `erase`: refused (message on stdout, exit 1): kubecred mints short-lived
//!   credentials and stores nothing. Their input is read and discarded.
//! - `list`: the cached entries, `{"<ServerURL>": "<Username>"}` (`{}` when none).
//! - `version`: the version.
//!
//! Errors follow the protocol: the message on stdout (not stderr), exit status 1. Cache warnings
//! go to stderr.
//!
//! Identity: the caller's own environment (controller level) unless the config file
//! (`$XDG_CONFIG_HOME/kubecred/config.yaml`, see [`config`]) maps the host to options.
//! Credentials are cached on disk ([`crate::disk_cache`], `$XDG_CACHE_HOME/kubecred/`) unless
//! `--no-cache` or `KUBECRED_NO_CACHE=1`. The secret goes to stdout only.

pub mod config;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use kubecred::{CacheKey, Provider, registry};
use serde_json::json;

use crate::args::DockerCredentialArgs;
use crate::disk_cache::{self, DiskCache, Entry};
use crate::request::prepare;
use config::{Config, RegistryOptions};

/// The program docker runs for `credHelpers` / `credsStore` value `kubecred`.
pub const PROGRAM: &str = "docker-credential-kubecred";
/// The subcommand the helper's arguments are handed to.
const SUBCOMMAND: &str = "docker-credential";
/// The protocol's not-found message: docker treats it as "no credentials", not as a failure.
pub const NOT_FOUND: &str = "credentials not found in native keychain";
/// The protocol's message for an empty server URL.
const MISSING_URL: &str = "no credentials server URL";
/// A server URL is short; refuse anything absurd instead of buffering it.
const MAX_INPUT_BYTES: u64 = 64 * 1024;
/// The entries of this front door in the disk cache.
const CACHE_KIND: &str = "registry";
/// A failure already answered on stdout, as the protocol asks: exit status 1, nothing on stderr.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the error was written to standard output")
    }
}

impl std::error::Error for Reported {}

/// `argv`, rewritten to `kubecred docker-credential ARGS...` when the binary runs as
/// `docker-credential-kubecred`; unchanged otherwise.
pub fn argv(args: Vec<OsString>) -> Vec<OsString> {
    crate::argv0::rewrite(args, PROGRAM, SUBCOMMAND)
}

/// Runs one verb; protocol errors are written to stdout before being returned.
pub async fn run(args: DockerCredentialArgs, looked_up: Option<Box<Lookup>>) -> anyhow::Result<()> {
    let result = match args.verb.as_str() {
        "get" => get(args.no_cache, looked_up).await,
        "store" | "erase" => refuse(&args.verb),
        "list" => list(args.no_cache),
        "version" => Ok(format!(
            "{PROGRAM} (kubecred) {}",
            env!("CARGO_PKG_VERSION")
        )),
        other => Err(anyhow!(
            "unknown credential action '{other}': expected get, store, erase, list or version"
        )),
    };
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => {
            // docker reads the message on stdout; stderr would reach the user's terminal on
            // every pull (e.g. not-found for other registries with `credsStore`).
            println!("{error:#}");
            return Err(Reported.into());
        }
    };
    print_answer(&answer)
}

/// The answer on stdout, flushed.
fn print_answer(answer: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{answer}")
        .and_then(|()| stdout.flush())
        .context("writing the answer to standard output")
}

/// `store` and `erase`: the input (which may hold a secret) is read and dropped.
fn refuse(verb: &str) -> anyhow::Result<String> {
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    bail!(
        "kubecred does not {verb} credentials: it mints short-lived ones on each `get` and \
         stores nothing (remove the registry from credHelpers to use `docker login`)"
    )
}

/// `list`: the fresh cached entries, `{ServerURL: Username}`.
fn list(no_cache: bool) -> anyhow::Result<String> {
    let entries = DiskCache::open_default(CACHE_KIND, no_cache)
        .map(|cache| cache.entries(SystemTime::now()))
        .unwrap_or_default();
    let listed: serde_json::Map<String, serde_json::Value> = entries
        .into_iter()
        .map(|entry| (entry.label, entry.username.into()))
        .collect();
    Ok(serde_json::Value::Object(listed).to_string())
}

/// `get`: the registry credentials for the server URL on stdin, or for the lookup
/// [`answer_warm_get`] already made (and found no fresh entry for).
async fn get(no_cache: bool, looked_up: Option<Box<Lookup>>) -> anyhow::Result<String> {
    let now = SystemTime::now();
    let lookup = match looked_up {
        Some(lookup) => *lookup,
        None => {
            let lookup = Lookup::new(read_server_url(std::io::stdin().lock())?, no_cache)?;
            if let Some(answer) = lookup.cached(now) {
                return Ok(answer);
            }
            lookup
        }
    };
    let entry = login(
        &lookup.server_url,
        &lookup.host,
        lookup.provider,
        &lookup.options,
    )
    .await?;
    if let Some((cache, key)) = &lookup.cache {
        cache.put(key, &entry, now);
    }
    Ok(answer(&lookup.server_url, &entry))
}

/// Everything `get` knows before any network call: the host, its options and provider, and the
/// disk cache with the entry's key.
#[derive(Debug)]
pub struct Lookup {
    server_url: String,
    host: String,
    provider: Provider,
    options: RegistryOptions,
    cache: Option<(DiskCache, CacheKey)>,
}

impl Lookup {
    /// Fails with the protocol's not-found message for a host kubecred does not serve.
    fn new(server_url: String, no_cache: bool) -> anyhow::Result<Lookup> {
        let host = registry::registry_host(&server_url).to_ascii_lowercase();
        let config = Config::load_default()?;
        let options = config.for_host(&host).cloned().unwrap_or_default();
        let Some(provider) = provider(&host, &options)? else {
            tracing::debug!(host, "not a registry kubecred serves");
            bail!(NOT_FOUND);
        };
        let cache = DiskCache::open_default(CACHE_KIND, no_cache);
        // Keyed only when there is a cache: the key reads the environment and stats profile files.
        let cache = cache.map(|cache| (cache, cache_key(&host, provider, &options)));
        Ok(Lookup {
            server_url,
            host,
            provider,
            options,
            cache,
        })
    }

    /// The answer from a fresh disk-cache entry, if there is one.
    fn cached(&self, now: SystemTime) -> Option<String> {
        let (cache, key) = self.cache.as_ref()?;
        let hit = cache.get(key, now)?;
        tracing::debug!(host = self.host, "served from the disk cache");
        Some(answer(&self.server_url, &hit))
    }
}

/// How [`answer_warm_get`] left a `get`.
pub enum WarmGet {
    /// Answered (from the cache, or with the protocol's error): exit with this status.
    Done(ExitCode),
    /// Not in the cache: the full path logs in, with what was looked up (stdin is read).
    Fetch(Box<Lookup>),
}

/// Whether `args` (after the `argv[0]` rewrite) are exactly a plain `docker-credential get`, with
/// no option, no log setting and no cache setting: the call docker makes on every pull.
pub fn is_plain_get(args: &[OsString]) -> bool {
    args.len() == 3
        && args[1] == SUBCOMMAND
        && args[2] == "get"
        && std::env::var_os("KUBECRED_LOG").is_none()
        && std::env::var_os("KUBECRED_NO_CACHE").is_none()
}

/// The warm path of a plain `get` (see [`is_plain_get`]), run before the command-line parser,
/// logging and the async runtime are set up: docker starts the helper for every pull and push,
/// and a cached answer needs none of them. Anything but a cache miss is answered here exactly
/// as [`run`] would answer it; a miss goes on to [`run`].
pub fn answer_warm_get() -> WarmGet {
    let answered = read_server_url(std::io::stdin().lock()).and_then(|server_url| {
        let lookup = Lookup::new(server_url, false)?;
        Ok(lookup.cached(SystemTime::now()).ok_or(lookup))
    });
    match answered {
        Ok(Ok(answer)) => match print_answer(&answer) {
            Ok(()) => WarmGet::Done(ExitCode::SUCCESS),
            Err(error) => {
                eprintln!("error: {error:#}");
                WarmGet::Done(ExitCode::from(1))
            }
        },
        Ok(Err(lookup)) => WarmGet::Fetch(Box::new(lookup)),
        Err(error) => {
            println!("{error:#}");
            WarmGet::Done(ExitCode::from(1))
        }
    }
}

/// The config's provider, else the host's; `None` for hosts kubecred does not serve.
fn provider(host: &str, options: &RegistryOptions) -> anyhow::Result<Option<Provider>> {
    match &options.provider {
        Some(name) => Ok(Some(name.parse()?)),
        None => Ok(registry::provider_for_host(host)),
    }
}

/// Logs in with the identity the options describe (the environment's by default).
async fn login(
    server_url: &str,
    host: &str,
    provider: Provider,
    options: &RegistryOptions,
) -> anyhow::Result<Entry> {
    let identity = options.identity_args();
    let (engine, request) = prepare(&identity, provider).await?;
    let credentials = registry::login(&engine, host, &request)
        .await
        .with_context(|| format!("logging in to {host}"))?;
    Ok(Entry {
        label: server_url.to_owned(),
        username: credentials.username,
        secret: credentials.password,
        expires_at: credentials.expires_at,
    })
}

/// The protocol's answer to `get`.
fn answer(server_url: &str, entry: &Entry) -> String {
    json!({
        "ServerURL": server_url,
        "Username": entry.username,
        "Secret": entry.secret.expose(),
    })
    .to_string()
}

/// The server URL: stdin, trimmed, at most 64 KiB.
fn read_server_url(input: impl Read) -> anyhow::Result<String> {
    let mut text = String::new();
    input
        .take(MAX_INPUT_BYTES + 1)
        .read_to_string(&mut text)
        .context("reading the server URL from standard input")?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        bail!("the server URL on standard input is larger than 64 KiB");
    }
    let url = text.trim();
    if url.is_empty() {
        bail!(MISSING_URL);
    }
    if url.chars().any(char::is_control) {
        bail!("the server URL on standard input contains control characters");
    }
    Ok(url.to_owned())
}

/// Every input that changes the credential: host, provider, the config's options, what their
/// kubeconfig resolves to when the identity is read there (a ServiceAccount or Secret), the
/// environment the SDKs read (secret values excluded: they never leave memory) and the state of
/// the AWS profile files. The default identity (the environment's) reads no kubeconfig here.
fn cache_key(host: &str, provider: Provider, options: &RegistryOptions) -> CacheKey {
    let parts = [
        ("host".to_owned(), host.to_owned()),
        ("provider".to_owned(), provider.to_string()),
    ];
    let named = options
        .key_parts()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value));
    let object_level = options.service_account.is_some() || options.secret.is_some();
    let cluster = match disk_cache::depends_on_cluster(provider, object_level) {
        true => {
            disk_cache::cluster_key_parts(options.kubeconfig.as_deref(), options.context.as_deref())
        }
        false => Vec::new(),
    };
    let parts = parts.into_iter().chain(named).chain(cluster);
    disk_cache::key("docker-credential/1", parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_zero_selects_the_helper() {
        let rewritten = argv(vec![
            "/tmp/x/docker-credential-kubecred".into(),
            "get".into(),
        ]);
        assert_eq!(
            rewritten,
            ["kubecred", "docker-credential", "get"].map(OsString::from)
        );
        let plain = vec![OsString::from("kubecred"), OsString::from("token")];
        assert_eq!(argv(plain.clone()), plain);
    }

    #[test]
    fn server_urls_are_trimmed_and_bounded() {
        let read = |text: &str| read_server_url(text.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(
            read("https://public.ecr.aws\n"),
            Ok("https://public.ecr.aws".into())
        );
        assert_eq!(read(" \n"), Err(MISSING_URL.into()));
        assert!(read("a\u{0}b").is_err());
        assert!(read(&"a".repeat(70_000)).is_err());
    }

    #[test]
    fn keys_differ_by_every_option() {
        let base = RegistryOptions::default();
        let key = |options: &RegistryOptions| cache_key("public.ecr.aws", Provider::Aws, options);
        let with_role = RegistryOptions {
            assume_role: vec!["arn:aws:iam::1:role/a".into()],
            ..base.clone()
        };
        let with_secret = RegistryOptions {
            secret: Some("team-a/keys".into()),
            ..base.clone()
        };
        assert_eq!(key(&base), key(&base));
        assert_ne!(key(&base), key(&with_role));
        assert_ne!(key(&base), key(&with_secret));
        assert_ne!(key(&base), cache_key("other.example", Provider::Aws, &base));
    }

    #[test]
    fn unknown_hosts_have_no_provider() -> anyhow::Result<()> {
        let none = RegistryOptions::default();
        assert_eq!(provider("ghcr.io", &none)?, None);
        assert_eq!(provider("public.ecr.aws", &none)?, Some(Provider::Aws));
        Ok(())
    }
}
