//! Stops a `credential_process` loop: a profile whose `credential_process` runs kubecred, while
//! that kubecred resolves its controller chain through the same profile (`AWS_PROFILE` set to
//! it, a common shell set-up), would start kubecred again without end.
//!
//! The controller chain reads the shared config files plus one override (an in-memory
//! credentials file, read last) that rewrites every profile's `credential_process`:
//! - a profile a kubecred chain above us is already running is replaced by a command that
//!   fails at once, naming the profile;
//! - every other one is prefixed with `export KUBECRED_AWS_CREDENTIAL_PROCESS_PROFILES=…;`: the
//!   running profiles, this one appended, so the process it starts knows.
//!
//! aws-config still decides which profile's command it runs: a `credential_process` that runs
//! kubecred at object or secret level (no controller chain), or under another profile, never
//! reaches a replaced command and works as before. The common case, the chain starting from a
//! running profile itself (`AWS_PROFILE`, no environment keys before it), is refused before the
//! chain starts ([`refuse_reentry`]), with a plain error rather than one wrapped by aws-config.
//!
//! Written by hand because aws-config starts the command with the process environment and has no
//! hook to add a variable to it, and kubecred cannot change its own environment
//! (`std::env::set_var` is unsafe and the workspace forbids unsafe code): the command string,
//! which aws-config runs with `sh -c`, is the only channel. Windows (`cmd.exe /C`) is left as is.

use std::fmt::Write as _;

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_types::os_shim_internal::{Env, Fs};

use crate::error::{Error, Result};

/// The profiles whose `credential_process` a kubecred controller chain is running, outermost
/// first, comma-separated (profile names cannot hold a comma).
pub(crate) const MARKER: &str = "KUBECRED_AWS_CREDENTIAL_PROCESS_PROFILES";

const PROPERTY: &str = "credential_process";

/// The profile files for the controller chain: the default ones and the override, or `None`
/// when no profile has a `credential_process` (or the files do not parse: the chain then reports
/// that itself).
pub(crate) async fn guarded_profile_files(env: &Env, fs: &Fs) -> Option<EnvConfigFiles> {
    if !cfg!(unix) {
        return None;
    }
    let profiles = aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None)
        .await
        .ok()?;
    let overrides = overrides(&profiles, &running(env))?;
    Some(
        EnvConfigFiles::builder()
            .include_default_config_file(true)
            .include_default_credentials_file(true)
            .with_contents(EnvConfigFileKind::Credentials, overrides)
            .build(),
    )
}

/// Refuses when the chain would start from a profile whose `credential_process` a kubecred
/// chain above us is running: the selected profile (`AWS_PROFILE`, else `default`), unless
/// environment keys come first in the chain.
pub(crate) fn refuse_reentry(env: &Env) -> Result<()> {
    let set = |name: &str| env.get(name).is_ok_and(|value| !value.is_empty());
    if set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY") {
        return Ok(());
    }
    let selected = env.get("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    match running(env).contains(&selected) {
        true => Err(Error::invalid(loop_message(&selected))),
        false => Ok(()),
    }
}

/// The profiles named by [`MARKER`] in `env`.
fn running(env: &Env) -> Vec<String> {
    let value = env.get(MARKER).unwrap_or_default();
    value
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A credentials file setting the rewritten `credential_process` of every profile that has one.
fn overrides(profiles: &ProfileSet, running: &[String]) -> Option<String> {
    let mut names: Vec<&str> = profiles.profiles().collect();
    names.sort_unstable();
    let mut file = String::new();
    for name in names {
        let Some(command) = profiles
            .get_profile(name)
            .and_then(|profile| profile.get(PROPERTY))
        else {
            continue;
        };
        let rewritten = if running.iter().any(|r| r == name) {
            refusal(name)
        } else {
            marked(name, running, command)?
        };
        let _ = write!(file, "[{name}]\n{PROPERTY} = {}\n", continued(&rewritten));
    }
    (!file.is_empty()).then_some(file)
}

/// `command`, run with [`MARKER`] naming the running profiles and `name`.
fn marked(name: &str, running: &[String], command: &str) -> Option<String> {
    let profiles = [running, &[name.to_owned()]].concat().join(",");
    let value = shlex::try_quote(&profiles).ok()?;
    Some(format!("export {MARKER}={value}; {command}"))
}

/// What went wrong at profile `name` (no `#` or `;` after a space: it goes into a profile file).
fn loop_message(name: &str) -> String {
    format!(
        "stopped a credential_process loop at AWS profile \"{name}\": its credential_process \
         runs kubecred, whose controller chain resolves through \"{name}\" again. Give that \
         kubecred an identity of its own (--service-account, --secret, --node) or another \
         profile (AWS_PROFILE=...)"
    )
}

/// A command that fails at once, explaining the loop.
fn refusal(name: &str) -> String {
    let message = format!("kubecred: {}", loop_message(name));
    let quoted = shlex::try_quote(&message).unwrap_or_default();
    format!("printf '%s\\n' {quoted} >&2; exit 1")
}

/// A value that spans lines written as the profile parser reads it back: continuation lines
/// start with whitespace (the parser trims them and joins them with `\n`).
fn continued(value: &str) -> String {
    value.replace('\n', "\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::credential_process::CredentialProcessProvider;
    use aws_credential_types::provider::ProvideCredentials;

    async fn parse(files: &[&str]) -> ProfileSet {
        let mut builder = EnvConfigFiles::builder();
        for contents in files {
            builder = builder.with_contents(EnvConfigFileKind::Config, *contents);
        }
        let no_fs = Fs::from_slice(&[]);
        let no_env = Env::from_slice(&[]);
        let loaded = aws_config::profile::load(&no_fs, &no_env, &builder.build(), None).await;
        loaded.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `credential_process` of `profile` once the override is read after `config`.
    async fn rewritten(config: &str, running: &[&str], profile: &str) -> Option<String> {
        let running: Vec<String> = running.iter().map(|s| s.to_string()).collect();
        let set = parse(&[config]).await;
        let overrides = overrides(&set, &running)?;
        let mut builder =
            EnvConfigFiles::builder().with_contents(EnvConfigFileKind::Config, config);
        builder = builder.with_contents(EnvConfigFileKind::Credentials, overrides);
        let no_fs = Fs::from_slice(&[]);
        let no_env = Env::from_slice(&[]);
        let merged = aws_config::profile::load(&no_fs, &no_env, &builder.build(), None).await;
        let merged = merged.unwrap_or_else(|e| panic!("{e}"));
        let command = merged.get_profile(profile)?.get(PROPERTY)?;
        Some(command.to_owned())
    }

    /// Runs `command` as aws-config runs a `credential_process`; its JSON or its error.
    async fn run(command: String) -> Result<String, String> {
        let provider = CredentialProcessProvider::new(command);
        match provider.provide_credentials().await {
            Ok(credentials) => Ok(credentials.session_token().unwrap_or_default().to_owned()),
            Err(e) => Err(aws_smithy_types::error::display::DisplayErrorContext(e).to_string()),
        }
    }

    /// A `credential_process` answering with the marker it saw as its session token.
    const ECHO_MARKER: &str = r#"printf '{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"S","SessionToken":"[%s]"}' "$KUBECRED_AWS_CREDENTIAL_PROCESS_PROFILES""#;

    #[tokio::test]
    async fn the_process_of_a_profile_sees_the_running_profiles_and_itself() {
        let config = format!("[profile b]\n{PROPERTY} = {ECHO_MARKER}\n");
        let command = rewritten(&config, &["a"], "b").await;
        let command = command.unwrap_or_else(|| panic!("no rewritten command"));
        assert_eq!(run(command).await, Ok("[a,b]".to_owned()));
        // Outside any kubecred chain: the profile alone.
        let command = rewritten(&config, &[], "b").await;
        assert_eq!(run(command.unwrap_or_default()).await, Ok("[b]".to_owned()));
    }

    #[tokio::test]
    async fn a_running_profile_fails_at_once_naming_itself() {
        let config = "[default]\ncredential_process = kubecred token --provider aws\n\
                      [profile other]\ncredential_process = kubecred token --provider aws\n";
        let command = rewritten(config, &["other", "default"], "default").await;
        let error = run(command.unwrap_or_default()).await.unwrap_err();
        assert!(error.contains("loop at AWS profile \"default\""), "{error}");
        let command = rewritten(config, &["other"], "other").await;
        let error = run(command.unwrap_or_default()).await.unwrap_err();
        assert!(error.contains("loop at AWS profile \"other\""), "{error}");
        // Not running: only marked (`default` was never started by a kubecred chain).
        let command = rewritten(config, &["other"], "default")
            .await
            .unwrap_or_default();
        assert!(
            command.starts_with(&format!("export {MARKER}=")),
            "{command}"
        );
        assert!(
            command.ends_with("; kubecred token --provider aws"),
            "{command}"
        );
    }

    #[tokio::test]
    async fn commands_survive_the_rewrite_as_the_shell_runs_them() {
        // Quotes, a `#` that is not a comment, pipes and a continuation line.
        let config = "[profile odd]\ncredential_process = printf '%s' 'a#b' | sed 's/#/:/' >/dev/null && \
                      printf '{\"Version\":1,\"AccessKeyId\":\"AK\",\"SecretAccessKey\":\"S\",\"SessionToken\":\"ok\"}'\n  \
                      true\n";
        let original = parse(&[config]).await;
        let original = original.get_profile("odd").and_then(|p| p.get(PROPERTY));
        let command = rewritten(config, &[], "odd").await.unwrap_or_default();
        assert!(command.ends_with(original.unwrap_or("?")), "{command}");
        assert_eq!(run(command).await, Ok("ok".to_owned()));
    }

    #[tokio::test]
    async fn no_override_without_a_credential_process() {
        let set =
            parse(&["[profile keys]\naws_access_key_id = AK\naws_secret_access_key = S\n"]).await;
        assert_eq!(overrides(&set, &["keys".to_owned()]), None);
    }

    #[test]
    fn a_chain_starting_from_a_running_profile_is_refused() {
        let refused = |vars: &[(&str, &str)]| refuse_reentry(&Env::from_slice(vars)).err();
        let error = refused(&[(MARKER, "a,loop"), ("AWS_PROFILE", "loop")]);
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("loop at AWS profile \"loop\""),
            "{message}"
        );
        assert!(refused(&[(MARKER, "default")]).is_some());
        // Not running, not the selected profile, or environment keys first: the chain runs.
        assert!(refused(&[("AWS_PROFILE", "loop")]).is_none());
        assert!(refused(&[(MARKER, "loop"), ("AWS_PROFILE", "other")]).is_none());
        assert!(refused(&[(MARKER, "loop")]).is_none());
        let keys = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "S")];
        assert!(refused(&[&keys[..], &[(MARKER, "default")]].concat()).is_none());
    }

    #[test]
    fn the_marker_lists_profiles_and_ignores_empty_parts() {
        let env = Env::from_slice(&[(MARKER, ",a,,b/c@d,")]);
        assert_eq!(running(&env), ["a", "b/c@d"]);
        assert!(running(&Env::from_slice(&[])).is_empty());
    }
}
