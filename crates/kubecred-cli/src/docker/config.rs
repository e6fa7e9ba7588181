//! The docker credential helper's configuration file: which identity serves which registry.
//!
//! `$XDG_CONFIG_HOME/kubecred/config.yaml` (an absolute `XDG_CONFIG_HOME` only), else
//! `$HOME/.config/kubecred/config.yaml`. The file is optional: without it (or for a host it
//! does not name) the helper uses the caller's own environment (controller level).
//!
//! ```yaml
//! registries:
//!   123456789012.dkr.ecr.us-east-1.amazonaws.com:   # exact host (with :port if docker sends one)
//!     assumeRole: [arn:aws:iam::123456789012:role/puller]
//!     externalId: team-a
//!   "*.dkr.ecr.eu-west-1.amazonaws.com":           # any host under this suffix
//!     secret: team-a/ecr-keys                      # or serviceAccount: team-a/puller
//!     kubeconfig: ~/.kube/config                   # relative paths: from this file's folder
//!     context: prod
//! ```
//!
//! Options: `provider`, `region`, `assumeRole` (an ARN or a list, in order), `externalId`,
//! `serviceAccount` or `secret` (`NS/NAME`, or `NAME` with `namespace`), `namespace`,
//! `kubeconfig`, `context`. An exact host wins over patterns; the longest pattern wins among
//! patterns. Unknown keys and contradictions are errors naming the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;

use crate::args::IdentityArgs;

/// The file's content.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    registries: BTreeMap<String, RegistryOptions>,
}

/// How one host (or host pattern) is served.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryOptions {
    /// aws (today); default: the host's.
    pub provider: Option<String>,
    /// Region of the identity's STS calls (the registry host still decides the ECR region).
    pub region: Option<String>,
    /// Roles to assume after the base identity, in order.
    #[serde(default, deserialize_with = "one_or_many")]
    pub assume_role: Vec<String>,
    /// External ID of the last role.
    pub external_id: Option<String>,
    /// `NS/NAME`, or `NAME` with `namespace`.
    pub service_account: Option<String>,
    /// `NS/NAME`, or `NAME` with `namespace`.
    pub secret: Option<String>,
    /// The namespace of the ServiceAccount or Secret.
    pub namespace: Option<String>,
    /// Kubeconfig file for ServiceAccount and Secret references.
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    pub context: Option<String>,
}

/// The loaded configuration: host patterns and their options.
#[derive(Debug, Default)]
pub struct Config {
    registries: BTreeMap<String, RegistryOptions>,
}

impl Config {
    /// The default file's path, if `XDG_CONFIG_HOME` or `HOME` is set.
    pub fn default_path() -> Option<PathBuf> {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
        };
        absolute("XDG_CONFIG_HOME")
            .or_else(|| absolute("HOME").map(|home| home.join(".config")))
            .map(|base| base.join("kubecred").join("config.yaml"))
    }

    /// Loads the default file; an absent file is an empty configuration.
    pub fn load_default() -> anyhow::Result<Config> {
        match Config::default_path() {
            Some(path) if path.exists() => Config::load(&path),
            _ => Ok(Config::default()),
        }
    }

    /// Reads and checks `path`.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the kubecred config file {}", path.display()))?;
        Config::parse(&text, path)
    }

    /// Checks the text of the file at `path` (relative kubeconfig paths are resolved against
    /// its directory).
    fn parse(text: &str, path: &Path) -> anyhow::Result<Config> {
        let shown = path.display();
        let file: File = match text.trim().is_empty() {
            true => File::default(),
            false => serde_saphyr::from_str(text)
                .map_err(|e| anyhow!("config file {shown}: {}", yaml_error(&e)))?,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut registries = BTreeMap::new();
        for (pattern, mut options) in file.registries {
            let at = format!("config file {shown}: registries.\"{pattern}\"");
            check_pattern(&pattern).with_context(|| at.clone())?;
            options.check().with_context(|| at.clone())?;
            options.kubeconfig = options.kubeconfig.map(|p| resolve_path(base, &p));
            registries.insert(pattern.to_ascii_lowercase(), options);
        }
        Ok(Config { registries })
    }

    /// The options for `host`: an exact entry, else the longest matching `*.suffix` pattern.
    pub fn for_host(&self, host: &str) -> Option<&RegistryOptions> {
        let host = host.to_ascii_lowercase();
        if let Some(options) = self.registries.get(&host) {
            return Some(options);
        }
        self.registries
            .iter()
            .filter_map(|(pattern, options)| {
                let suffix = pattern.strip_prefix('*')?;
                (host.len() > suffix.len() && host.ends_with(suffix)).then_some((suffix, options))
            })
            .max_by_key(|(suffix, _)| suffix.len())
            .map(|(_, options)| options)
    }
}

impl RegistryOptions {
    /// Contradictions and incomplete references, named by their key.
    fn check(&self) -> anyhow::Result<()> {
        if self.service_account.is_some() && self.secret.is_some() {
            bail!("serviceAccount and secret: name one identity, not both");
        }
        if self.external_id.is_some() && self.assume_role.is_empty() {
            bail!("externalId: belongs to the last assumeRole, and there is none");
        }
        for (key, value) in [
            ("serviceAccount", &self.service_account),
            ("secret", &self.secret),
        ] {
            let Some(value) = value else { continue };
            check_reference(key, value, self.namespace.as_deref())?;
        }
        if let Some(provider) = &self.provider {
            provider
                .parse::<kubecred::Provider>()
                .map_err(|e| anyhow!("provider: {e}"))?;
        }
        Ok(())
    }

    /// The identity flags these options stand for (the request is then built from them as
    /// from the command line's, in `request::prepare`).
    pub fn identity_args(&self) -> IdentityArgs {
        IdentityArgs {
            region: self.region.clone(),
            service_account: self.service_account.clone(),
            secret: self.secret.clone(),
            namespace: self.namespace.clone(),
            context: self.context.clone(),
            external_id: self.external_id.clone(),
            kubeconfig: self.kubeconfig.clone(),
            assume_roles: self.assume_role.clone(),
            ..IdentityArgs::default()
        }
    }

    /// Every option, in a fixed order, for the cache key.
    pub fn key_parts(&self) -> Vec<(&'static str, String)> {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        vec![
            ("provider", text(&self.provider)),
            ("region", text(&self.region)),
            ("assumeRole", self.assume_role.join(",")),
            ("externalId", text(&self.external_id)),
            ("serviceAccount", text(&self.service_account)),
            ("secret", text(&self.secret)),
            ("namespace", text(&self.namespace)),
            (
                "kubeconfig",
                self.kubeconfig
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            ("context", text(&self.context)),
        ]
    }
}

/// One line: the problem and where, without a snippet of the file.
fn yaml_error(error: &serde_saphyr::Error) -> String {
    error
        .without_snippet()
        .render_with_formatter(&serde_saphyr::UserMessageFormatter)
}

/// `host`, `host:port` or `*.suffix`.
fn check_pattern(pattern: &str) -> anyhow::Result<()> {
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    match plain {
        true => Ok(()),
        false => bail!("not a registry host or *.suffix pattern"),
    }
}

/// `NS/NAME`, or `NAME` when `namespace` is set (and agrees).
fn check_reference(key: &str, value: &str, namespace: Option<&str>) -> anyhow::Result<()> {
    let bad = |part: &str| part.is_empty() || part.contains('/');
    match (value.split_once('/'), namespace) {
        (Some((ns, name)), _) if bad(ns) || bad(name) => {
            bail!("{key}: '{value}' is not NAMESPACE/NAME")
        }
        (Some((ns, _)), Some(namespace)) if ns != namespace => {
            bail!("{key}: '{value}' is in namespace '{ns}' but namespace is '{namespace}'")
        }
        (None, None) => bail!("{key}: '{value}' needs a namespace: write NAMESPACE/NAME"),
        _ => Ok(()),
    }
}

/// `~/x` from HOME; a relative path from the config file's folder.
fn resolve_path(base: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    base.join(path)
}

/// `assumeRole`: one ARN or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("assumeRole: a role ARN or a list of role ARNs")
        }
        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Vec<String>, E> {
            Ok(vec![value.to_owned()])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut roles = Vec::new();
            while let Some(role) = seq.next_element::<String>()? {
                roles.push(role);
            }
            Ok(roles)
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Config::load(&path).map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn exact_hosts_win_over_patterns_and_longer_patterns_over_shorter() -> Result<(), String> {
        let config = load(
            "registries:\n  \"*.amazonaws.com\": {region: a}\n  \"*.dkr.ecr.us-east-1.amazonaws.com\": {region: b}\n  1.dkr.ecr.us-east-1.amazonaws.com: {region: c}\n",
        )?;
        let region = |host: &str| config.for_host(host).and_then(|o| o.region.clone());
        assert_eq!(
            region("1.dkr.ecr.us-east-1.amazonaws.com").as_deref(),
            Some("c")
        );
        assert_eq!(
            region("2.DKR.ecr.us-east-1.amazonaws.com").as_deref(),
            Some("b")
        );
        assert_eq!(
            region("2.dkr.ecr.eu-west-1.amazonaws.com").as_deref(),
            Some("a")
        );
        assert_eq!(region("amazonaws.com"), None);
        assert_eq!(region("public.ecr.aws"), None);
        Ok(())
    }

    #[test]
    fn options_become_identity_flags() -> Result<(), String> {
        let config = load(
            "registries:\n  public.ecr.aws:\n    secret: team-a/keys\n    assumeRole: arn:aws:iam::1:role/a\n    externalId: x\n    kubeconfig: kc.yaml\n",
        )?;
        let options = config.for_host("public.ecr.aws").ok_or("no entry")?;
        let args = options.identity_args();
        assert_eq!(args.secret.as_deref(), Some("team-a/keys"));
        assert_eq!(args.assume_roles, ["arn:aws:iam::1:role/a"]);
        assert_eq!(args.external_id.as_deref(), Some("x"));
        assert!(
            args.kubeconfig
                .is_some_and(|p| p.is_absolute() && p.ends_with("kc.yaml"))
        );
        Ok(())
    }

    #[test]
    fn mistakes_name_the_file_and_the_key() {
        for (text, expected) in [
            (
                "registries:\n  h.example: {assumeRoles: [x]}\n",
                "assumeRoles",
            ),
            (
                "registries:\n  h.example: {externalId: x}\n",
                "registries.\"h.example\"",
            ),
            (
                "registries:\n  h.example: {secret: keys}\n",
                "needs a namespace",
            ),
            (
                "registries:\n  h.example: {secret: a/k, serviceAccount: a/s}\n",
                "not both",
            ),
            ("registries:\n  h.example: {provider: nope}\n", "provider"),
            ("registries:\n  \"h/x\": {}\n", "not a registry host"),
            ("registry: {}\n", "registry"),
            ("registries: [\n", "config.yaml"),
        ] {
            let error = load(text).err().unwrap_or_default();
            assert!(
                error.contains(expected) && error.contains("config.yaml"),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn references_need_a_namespace_that_agrees() {
        assert!(check_reference("secret", "a/k", None).is_ok());
        assert!(check_reference("secret", "k", Some("a")).is_ok());
        assert!(check_reference("secret", "b/k", Some("a")).is_err());
        assert!(check_reference("secret", "a/", None).is_err());
        assert!(check_reference("secret", "a/b/c", None).is_err());
    }

    proptest::proptest! {
        /// Whatever the file holds, loading it answers (a config or an error naming the file),
        /// without panicking.
        #[test]
        fn any_text_loads_or_is_refused_by_name(text in "(registries:\n  [ -~]{0,30}: [ -~\n]{0,60})|[ -~\n]{0,120}") {
            let path = Path::new("/etc/kubecred/config.yaml");
            if let Err(error) = Config::parse(&text, path) {
                let message = format!("{error:#}");
                proptest::prop_assert!(message.contains("config file /etc/kubecred/config.yaml"), "{}", message);
            }
        }
    }
}
