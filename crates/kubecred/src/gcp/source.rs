//! The `credential_source` of an `external_account` configuration: where the subject token
//! comes from. A file, a URL (with headers), or an executable, with the token in text or in a
//! JSON field (`format`). AWS (`environment_id`) and X.509 (`certificate`) sources are
//! recognised and refused as unsupported. The object is closed: an unknown field is an error.
//!
//! Executable sources follow Google's rules: `command` starts with an absolute path (arguments
//! follow, separated by spaces), `timeout_millis` is 5000-120000 (default 30000), `output_file`
//! is absolute. Running one also needs `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`, which is
//! the runner's check, not the parser's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::Secret;
use crate::error::Result;

use super::external_account::WHAT;
use super::json::field_error;

const DEFAULT_TIMEOUT_MILLIS: u64 = 30_000;
const TIMEOUT_MILLIS: std::ops::RangeInclusive<u64> = 5_000..=120_000;
/// The variable without which Google's libraries run no executable source.
pub const ALLOW_EXECUTABLES_VAR: &str = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    file: Option<String>,
    url: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    executable: Option<RawExecutable>,
    format: Option<RawFormat>,
    environment_id: Option<Value>,
    region_url: Option<Value>,
    regional_cred_verification_url: Option<Value>,
    imdsv2_session_token_url: Option<Value>,
    certificate: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecutable {
    command: String,
    timeout_millis: Option<u64>,
    output_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    #[serde(rename = "type")]
    kind: Option<String>,
    subject_token_field_name: Option<String>,
}

/// Where the subject token comes from.
#[derive(Clone, Debug)]
pub enum CredentialSource {
    /// Read from this file.
    File {
        /// The file.
        path: PathBuf,
        /// How the token is written in it.
        format: SubjectTokenFormat,
    },
    /// Fetched with a GET of this URL.
    Url {
        /// The URL (`http` or `https`).
        url: Url,
        /// Headers sent with it, values secret (they may carry credentials).
        headers: Vec<(String, Secret)>,
        /// How the token is written in the answer.
        format: SubjectTokenFormat,
    },
    /// Printed by this executable.
    Executable(Executable),
}

/// How a file or URL holds the subject token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectTokenFormat {
    /// The whole content.
    Text,
    /// The string of this field of a JSON object.
    Json {
        /// `subject_token_field_name`.
        field: String,
    },
}

/// An executable source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executable {
    /// The program: an absolute path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
    /// Where it caches its answer, if anywhere.
    pub output_file: Option<PathBuf>,
}

fn error(field: &str, why: impl std::fmt::Display) -> crate::Error {
    field_error(WHAT, &format!("credential_source.{field}"), why)
}

impl RawSource {
    /// The one source the object names, checked.
    pub(crate) fn checked(self) -> Result<CredentialSource> {
        self.refuse_unsupported()?;
        if self.headers.is_some() && self.url.is_none() {
            return Err(error("headers", "given without url"));
        }
        match (self.file, self.url, self.executable) {
            (Some(file), None, None) => file_source(&file, self.format),
            (None, Some(url), None) => {
                url_source(&url, self.headers.unwrap_or_default(), self.format)
            }
            (None, None, Some(executable)) if self.format.is_none() => {
                executable.checked().map(CredentialSource::Executable)
            }
            (None, None, Some(_)) => Err(error("format", "does not apply to an executable source")),
            _ => Err(field_error(
                WHAT,
                "credential_source",
                "must name exactly one of file, url or executable",
            )),
        }
    }

    /// AWS (`environment_id` and its URLs) and X.509 (`certificate`) sources are refused.
    fn refuse_unsupported(&self) -> Result<()> {
        let aws = [
            &self.environment_id,
            &self.region_url,
            &self.regional_cred_verification_url,
            &self.imdsv2_session_token_url,
        ];
        if aws.iter().any(|field| field.is_some()) {
            return Err(error(
                "environment_id",
                "AWS credential sources are not supported",
            ));
        }
        match self.certificate {
            Some(_) => Err(error(
                "certificate",
                "X.509 credential sources are not supported",
            )),
            None => Ok(()),
        }
    }
}

fn file_source(file: &str, format: Option<RawFormat>) -> Result<CredentialSource> {
    if file.is_empty() || file.chars().any(char::is_control) {
        return Err(error("file", "not a file path"));
    }
    Ok(CredentialSource::File {
        path: PathBuf::from(file),
        format: token_format(format)?,
    })
}

fn url_source(
    value: &str,
    headers: BTreeMap<String, String>,
    format: Option<RawFormat>,
) -> Result<CredentialSource> {
    let url = source_url(value)
        .map_err(|why| error("url", format_args!("'{}': {why}", value.escape_default())))?;
    let headers = headers
        .into_iter()
        .map(|(name, value)| header(name, value))
        .collect::<Result<Vec<_>>>()?;
    Ok(CredentialSource::Url {
        url,
        headers,
        format: token_format(format)?,
    })
}

/// An absolute `http` or `https` URL of printable ASCII, without user info or fragment (the
/// query is kept: Azure's metadata service takes its parameters there).
fn source_url(value: &str) -> std::result::Result<Url, &'static str> {
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("only printable ASCII is accepted");
    }
    let url = Url::parse(value).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme is not http or https");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it has user info (send credentials as headers)");
    }
    match url.fragment() {
        Some(_) => Err("it has a fragment"),
        None => Ok(url),
    }
}

/// A header: an HTTP token as name, a value of visible ASCII, spaces and tabs (no line breaks).
fn header(name: String, value: String) -> Result<(String, Secret)> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(error(
            "headers",
            format_args!("'{}' is not a header name", name.escape_default()),
        ));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(error(
            &format!("headers.{name}"),
            "the value holds a line break or a character headers cannot carry",
        ));
    }
    Ok((name, Secret::new(value)))
}

fn token_format(format: Option<RawFormat>) -> Result<SubjectTokenFormat> {
    let Some(format) = format else {
        return Ok(SubjectTokenFormat::Text);
    };
    match (format.kind.as_deref(), format.subject_token_field_name) {
        (None | Some("text"), None) => Ok(SubjectTokenFormat::Text),
        (None | Some("text"), Some(_)) => Err(error(
            "format.subject_token_field_name",
            "only for format type json",
        )),
        (Some("json"), Some(field)) if !field.is_empty() => Ok(SubjectTokenFormat::Json { field }),
        (Some("json"), _) => Err(error(
            "format.subject_token_field_name",
            "required, non-empty, with format type json",
        )),
        (Some(other), _) => Err(error(
            "format.type",
            format_args!("'{}' is not text or json", other.escape_default()),
        )),
    }
}

impl RawExecutable {
    fn checked(self) -> Result<Executable> {
        if self.command.chars().any(char::is_control) {
            return Err(error("executable.command", "holds a control character"));
        }
        let mut words = self.command.split(' ').filter(|w| !w.is_empty());
        let program = words.next().filter(|p| is_absolute_path(p));
        let program = program
            .ok_or_else(|| error("executable.command", "does not start with an absolute path"))?;
        let timeout_millis = self.timeout_millis.unwrap_or(DEFAULT_TIMEOUT_MILLIS);
        if !TIMEOUT_MILLIS.contains(&timeout_millis) {
            return Err(error(
                "executable.timeout_millis",
                format_args!("{timeout_millis} is not within 5000..=120000"),
            ));
        }
        let output_file = match self.output_file {
            Some(file) if !is_absolute_path(&file) => {
                return Err(error("executable.output_file", "not an absolute path"));
            }
            other => other.map(PathBuf::from),
        };
        Ok(Executable {
            program: PathBuf::from(program),
            args: words.map(str::to_owned).collect(),
            timeout: Duration::from_millis(timeout_millis),
            output_file,
        })
    }
}

fn is_absolute_path(path: &str) -> bool {
    path.starts_with('/') && !path.chars().any(char::is_control)
}
