//! `git-credential-kubecred` / `kubecred git-credential get|store|erase`: git's credential-helper
//! protocol (gitcredentials(7), git-credential(1)).
//!
//! With `credential.helper = kubecred`, git runs `git credential-kubecred [ARGS] <operation>`,
//! i.e. the program `git-credential-kubecred` on PATH (this binary under another name, or a
//! symlink to it), with a credential description on stdin: `key=value` lines (`protocol`, `host`
//! with an optional `:port`, `path` when `credential.useHttpPath` is set, `username`, `wwwauth[]`,
//! `capability[]`, ...) up to a blank line or the end of input.
//!
//! - `get` answers `username`, `password` and `password_expiry_utc` for the hosts kubecred serves:
//!   AWS CodeCommit (`git-codecommit[-fips].<region>.amazonaws.com[.cn]`, HTTPS only): git
//!   credentials signed locally (SigV4) with the identity's AWS keys, region from the host, over
//!   the repository path (so git must send it: `credential.useHttpPath`). Azure DevOps
//!   (`dev.azure.com`, `<org>.visualstudio.com`, HTTPS only): an Entra token for Azure DevOps
//!   as the password (the path is not needed).
//!   Any other host gets an empty answer, so git asks its next helper.
//! - `store` and `erase` read the description and do nothing: the credentials are short-lived and
//!   never stored. Other operations are ignored, as the protocol asks of helpers.
//!
//! The identity comes from the helper's own flags (`credential.helper = "kubecred --assume-role
//! ARN"`) and the environment, as for `kubecred token --provider aws`. Answers are kept in the
//! disk cache ([`crate::disk_cache`], keyed by URL, flags and environment) until 80% of their
//! life, unless `--no-cache` or `KUBECRED_NO_CACHE=1`. Secrets go to git's pipe and the 0600
//! cache file only: never to logs or error messages.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use kubecred::{Provider, Secret};
use url::Url;

use crate::args::GitCredentialArgs;
use crate::disk_cache::{self, DiskCache, Entry};
use crate::request::prepare;

/// The program git runs for `credential.helper = kubecred`.
pub const PROGRAM: &str = "git-credential-kubecred";
/// The subcommand the helper's arguments are handed to.
const SUBCOMMAND: &str = "git-credential";
/// The entries of this front door in the disk cache.
const CACHE_KIND: &str = "git";
/// A description is a few hundred bytes; refuse anything absurd instead of buffering it.
const MAX_INPUT_BYTES: usize = 64 * 1024;

/// `argv`, rewritten to `kubecred git-credential ARGS...` when the binary runs as
/// `git-credential-kubecred`; unchanged otherwise.
pub fn argv(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    crate::argv0::rewrite(args.into_iter().collect(), PROGRAM, SUBCOMMAND)
}

/// Runs one helper operation with the description on standard input.
pub async fn run(args: GitCredentialArgs) -> anyhow::Result<()> {
    let input = read_description(std::io::stdin().lock());
    if args.operation != "get" {
        // store, erase and operations of future gits: nothing to do, nothing to say.
        tracing::debug!(operation = %args.operation, "git credential operation ignored");
        return Ok(());
    }
    let description = Description::parse(&input?)?;
    let Some(answer) = get(&args, &description).await? else {
        return Ok(());
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(answer.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the credentials to standard output")
}

/// The attributes of a description this helper uses; the others are ignored.
#[derive(Debug, Default, PartialEq, Eq)]
struct Description {
    protocol: Option<String>,
    /// `name` or `name:port`.
    host: Option<String>,
    /// Without the leading `/`; git sends it only with `credential.useHttpPath`.
    path: Option<String>,
}

impl Description {
    /// Parses `key=value` lines up to the first blank line. Errors name the line, never its
    /// content (it may hold a password).
    fn parse(input: &str) -> anyhow::Result<Description> {
        let mut description = Description::default();
        for (index, line) in input.lines().enumerate() {
            if line.is_empty() {
                break;
            }
            let number = index + 1;
            let Some((key, value)) = line.split_once('=').filter(|(key, _)| !key.is_empty()) else {
                bail!(
                    "line {number} of the credential description on standard input is not key=value"
                );
            };
            if value.contains('\0') {
                bail!("line {number} of the credential description contains a NUL byte");
            }
            match key {
                "protocol" => description.protocol = Some(value.to_owned()),
                "host" => description.host = Some(value.to_owned()),
                "path" => description.path = Some(value.to_owned()),
                "url" => description = Description::from_url(value, number)?,
                _ => {}
            }
        }
        Ok(description)
    }

    /// The attributes of a `url=` line (which, as in git, replaces the ones before it).
    fn from_url(value: &str, number: usize) -> anyhow::Result<Description> {
        let url = Url::parse(value).map_err(|e| {
            anyhow!("line {number} of the credential description: invalid url: {e}")
        })?;
        let host = url.host_str().map(|host| match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        });
        let path = url.path().trim_start_matches('/');
        Ok(Description {
            protocol: Some(url.scheme().to_owned()),
            host,
            path: (!path.is_empty()).then(|| path.to_owned()),
        })
    }
}

/// Reads standard input up to a blank line or the end, at most [`MAX_INPUT_BYTES`].
fn read_description(input: impl BufRead) -> anyhow::Result<String> {
    let reading = "reading the credential description from standard input";
    let mut limited = std::io::Read::take(input, MAX_INPUT_BYTES as u64 + 1);
    let mut text = Vec::new();
    loop {
        let start = text.len();
        let read = limited.read_until(b'\n', &mut text).context(reading)?;
        if text.len() > MAX_INPUT_BYTES {
            bail!("the credential description on standard input is larger than 64 KiB");
        }
        if read == 0 || matches!(&text[start..], b"\n" | b"\r\n") {
            break;
        }
    }
    String::from_utf8(text)
        .map_err(|_| anyhow!("the credential description on standard input is not UTF-8"))
}

/// The answer to `get`, or `None` for hosts kubecred does not serve.
async fn get(
    args: &GitCredentialArgs,
    description: &Description,
) -> anyhow::Result<Option<String>> {
    let Some(host) = description.host.as_deref() else {
        return Ok(None);
    };
    let provider = kubecred::git::provider_for_host(host);
    tracing::debug!(host, provider = ?provider, "git credential get");
    match provider {
        None => Ok(None),
        Some(provider) => answer(args, description, host, provider).await.map(Some),
    }
}

/// The provider's git credentials for the description, as protocol lines: from the disk cache
/// while fresh (served until 80% of their life: CodeCommit's, valid 15 minutes, for 12), else
/// fetched with the helper's identity.
async fn answer(
    args: &GitCredentialArgs,
    description: &Description,
    host: &str,
    provider: Provider,
) -> anyhow::Result<String> {
    let url = https_url(description, host, provider)?;
    let cache = DiskCache::open_default(CACHE_KIND, args.no_cache);
    // The helper's flags name the identity (and what its kubeconfig resolves to, when the
    // identity is read there); the URL, the repository.
    let key = || {
        let url = ("url".to_owned(), url.to_string());
        let cluster = disk_cache::identity_cluster_parts(&args.identity, provider);
        let parts = [url, disk_cache::argv_key_part()]
            .into_iter()
            .chain(cluster);
        disk_cache::key("git-credential/1", parts)
    };
    let cache = cache.map(|cache| (cache, key()));
    let now = SystemTime::now();
    if let Some(hit) = cache.as_ref().and_then(|(cache, key)| cache.get(key, now)) {
        tracing::debug!(host, "served from the disk cache");
        return render(&hit.username, &hit.secret, hit.expires_at);
    }
    let (engine, request) = prepare(&args.identity, provider).await?;
    let credentials = kubecred::git::credentials(&engine, &url, &request)
        .await
        .with_context(|| format!("getting git credentials for {host}"))?;
    let username = credentials.username.expose().to_owned();
    let answer = render(&username, &credentials.password, credentials.expires_at)?;
    if let Some((cache, key)) = &cache {
        let entry = Entry {
            label: url.to_string(),
            username,
            secret: credentials.password,
            expires_at: credentials.expires_at,
        };
        cache.put(key, &entry, now);
    }
    Ok(answer)
}

/// `https://<host>/<path>`: HTTPS only (a token never goes over plain HTTP); CodeCommit signs
/// the repository path, so it must be there; Azure DevOps' token is the same for every path.
fn https_url(description: &Description, host: &str, provider: Provider) -> anyhow::Result<Url> {
    let service = match provider {
        Provider::Azure => "Azure DevOps",
        _ => "AWS CodeCommit",
    };
    let protocol = description.protocol.as_deref().unwrap_or_default();
    if !protocol.eq_ignore_ascii_case("https") {
        bail!("{service} authentication requires HTTPS, but git asked for '{protocol}://{host}'");
    }
    let path = description
        .path
        .as_deref()
        .map(|path| path.trim_start_matches('/'))
        .filter(|path| !path.is_empty());
    let path = match (path, provider) {
        (Some(path), _) => path,
        (None, Provider::Azure) => "",
        (None, _) => bail!(
            "git did not send the repository path for {host}, and AWS CodeCommit credentials \
             are signed over it: set `git config --global credential.useHttpPath true`"
        ),
    };
    let mut url = Url::parse(&format!("https://{host}/"))
        .map_err(|e| anyhow!("invalid {service} host '{host}': {e}"))?;
    url.set_path(&format!("/{path}"));
    Ok(url)
}

/// The protocol lines of an answer: username, password, expiry (Unix seconds), blank line.
fn render(username: &str, password: &Secret, expires_at: SystemTime) -> anyhow::Result<String> {
    let expiry = expires_at
        .duration_since(UNIX_EPOCH)
        .context("the credentials expire before 1970")?
        .as_secs();
    let password = password.expose();
    if [username, password]
        .iter()
        .any(|value| value.contains(['\n', '\0']))
    {
        bail!("the credentials contain a line break or NUL byte and cannot be passed to git");
    }
    Ok(format!(
        "username={username}\npassword={password}\npassword_expiry_utc={expiry}\n\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description(text: &str) -> Result<Description, String> {
        Description::parse(text).map_err(|e| e.to_string())
    }

    #[test]
    fn argv_zero_selects_the_helper() {
        let rewritten = argv(
            [
                "/usr/local/bin/git-credential-kubecred",
                "--region",
                "x",
                "get",
            ]
            .map(OsString::from),
        );
        assert_eq!(
            rewritten,
            ["kubecred", "git-credential", "--region", "x", "get"].map(OsString::from)
        );
        let plain = ["kubecred", "token"].map(OsString::from);
        assert_eq!(argv(plain.clone()), plain);
    }

    #[test]
    fn descriptions_parse_up_to_the_blank_line() {
        let parsed = description(
            "protocol=https\nhost=h.example:8443\npath=a/b\nwwwauth[]=Basic realm=\"x\"\n\nhost=later\n",
        );
        assert_eq!(
            parsed,
            Ok(Description {
                protocol: Some("https".into()),
                host: Some("h.example:8443".into()),
                path: Some("a/b".into()),
            })
        );
        let from_url = description("username=u\nurl=https://h.example:8443/v1/repos/r\n");
        assert_eq!(
            from_url.map(|d| (d.host, d.path)),
            Ok((Some("h.example:8443".into()), Some("v1/repos/r".into())))
        );
    }

    #[test]
    fn malformed_lines_are_named_without_their_content() {
        let error = description("protocol=https\npassword secret\n");
        assert_eq!(
            error,
            Err("line 2 of the credential description on standard input is not key=value".into())
        );
        assert!(description("=value\n").is_err());
        assert!(description("url=not a url\n").is_err());
    }

    #[test]
    fn input_is_read_to_the_blank_line_and_bounded() {
        let text = read_description("a=1\n\nb=2\n".as_bytes()).map_err(|e| e.to_string());
        assert_eq!(text.as_deref(), Ok("a=1\n\n"));
        let text = read_description("a=1".as_bytes()).map_err(|e| e.to_string());
        assert_eq!(text.as_deref(), Ok("a=1"));
        let huge = "a=".to_owned() + &"x".repeat(MAX_INPUT_BYTES);
        assert!(read_description(huge.as_bytes()).is_err());
    }

    #[test]
    fn codecommit_urls_need_https_and_a_path() {
        let with = |protocol: &str, path: Option<&str>| {
            let description = Description {
                protocol: Some(protocol.into()),
                host: None,
                path: path.map(Into::into),
            };
            https_url(
                &description,
                "git-codecommit.us-east-1.amazonaws.com:8443",
                Provider::Aws,
            )
            .map(String::from)
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            with("https", Some("v1/repos/my repo")),
            Ok("https://git-codecommit.us-east-1.amazonaws.com:8443/v1/repos/my%20repo".into())
        );
        assert!(with("http", Some("v1/repos/r")).is_err_and(|e| e.contains("requires HTTPS")));
        assert!(with("https", None).is_err_and(|e| e.contains("credential.useHttpPath")));
        assert!(with("https", Some("")).is_err());
    }

    #[test]
    fn azure_devops_urls_need_https_but_no_path() {
        let with = |protocol: &str, path: Option<&str>| {
            let description = Description {
                protocol: Some(protocol.into()),
                host: None,
                path: path.map(Into::into),
            };
            https_url(&description, "dev.azure.com", Provider::Azure)
                .map(String::from)
                .map_err(|e| e.to_string())
        };
        assert_eq!(with("https", None), Ok("https://dev.azure.com/".into()));
        assert_eq!(
            with("https", Some("org/project/_git/repo")),
            Ok("https://dev.azure.com/org/project/_git/repo".into())
        );
        let plain = with("http", None);
        assert!(plain.is_err_and(|e| e.contains("Azure DevOps authentication requires HTTPS")));
    }

    #[test]
    fn answers_carry_the_expiry_in_unix_seconds() {
        let password = Secret::new("20240102T030405Zabc");
        let expires_at = UNIX_EPOCH + std::time::Duration::from_secs(1_704_165_545);
        assert_eq!(
            render("AKID%token", &password, expires_at).map_err(|e| e.to_string()),
            Ok("username=AKID%token\npassword=20240102T030405Zabc\npassword_expiry_utc=1704165545\n\n".into())
        );
        assert!(render("AKID%tok\nen", &password, expires_at).is_err());
        assert!(render("AKID", &Secret::new("a\0b"), expires_at).is_err());
    }

    proptest::proptest! {
        /// Any description parses or is refused by line number; a password line is never
        /// echoed.
        #[test]
        fn descriptions_never_echo_a_password(
            lines in proptest::collection::vec("[ -~]{0,40}", 0..6),
            password in "[A-Za-z0-9]{16,32}",
        ) {
            let mut text = lines.join("\n");
            text.push_str(&format!("\npassword={password}\n"));
            match Description::parse(&text) {
                Ok(_) => {}
                Err(error) => {
                    let message = format!("{error:#}");
                    proptest::prop_assert!(!message.contains(&password), "{}", message);
                }
            }
            let read = read_description(text.as_bytes());
            proptest::prop_assert!(read.is_ok());
        }
    }
}
