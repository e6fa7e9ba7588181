//! `kubecred issuer show|generate|verify`: thin over `kubecred::issuer`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kubecred::issuer::{self, Issuer, Outcome, PublicKeyPem, Report, VerifyOptions};

use crate::UsageError;
use crate::args::{
    IdentityArgs, IssuerGenerateArgs, IssuerShowArgs, IssuerVerifyArgs, ReportOutput,
};

/// A check that failed: reported on stdout already, exit status 1.
#[derive(Debug)]
struct ChecksFailed(usize);

impl std::fmt::Display for ChecksFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} check(s) failed", self.0)
    }
}

impl std::error::Error for ChecksFailed {}

pub async fn show(args: IssuerShowArgs) -> anyhow::Result<()> {
    let connection = IdentityArgs {
        kubeconfig: args.kubeconfig,
        context: args.context,
        ..IdentityArgs::default()
    };
    let kubernetes = crate::request::connect(&connection).await?;
    let shown = issuer::show(&kubernetes)
        .await
        .context("reading the cluster's issuer")?;
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&shown)?),
        ReportOutput::Text => {
            println!("issuer: {}", shown.issuer);
            println!(
                "jwks_uri: {}",
                shown.jwks_uri.as_deref().unwrap_or("(none)")
            );
            let verdict = if shown.reachability.public {
                "maybe"
            } else {
                "no"
            };
            println!(
                "reachable by a cloud: {verdict}: {}",
                shown.reachability.reason
            );
            println!(
                "discovery: {}",
                serde_json::to_string_pretty(&shown.discovery)?
            );
            println!("jwks: {}", serde_json::to_string_pretty(&shown.jwks)?);
        }
    }
    Ok(())
}

pub async fn generate(args: IssuerGenerateArgs) -> anyhow::Result<()> {
    let issuer = Issuer::parse(&args.issuer).map_err(|e| UsageError(e.to_string()))?;
    let keys = read_keys(&args.signing_keys).await?;
    let documents = issuer::generate(&issuer, args.jwks_uri.as_deref(), &keys)?;
    let Some(dir) = args.output_dir else {
        let both = serde_json::json!({
            "openid-configuration": documents.discovery,
            "jwks": documents.jwks,
        });
        println!("{}", serde_json::to_string_pretty(&both)?);
        return Ok(());
    };
    let discovery = dir.join(".well-known/openid-configuration");
    let jwks = dir.join("openid/v1/jwks");
    write(&discovery, documents.discovery_json().as_bytes())?;
    write(&jwks, documents.jwks_json().as_bytes())?;
    println!("wrote {}", discovery.display());
    println!("wrote {}", jwks.display());
    if args.jwks_uri.is_some() {
        println!("upload the JWKS at the jwks_uri you gave, not under the issuer");
    }
    Ok(())
}

async fn read_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<PublicKeyPem>> {
    let mut keys = Vec::new();
    for path in paths {
        keys.push(PublicKeyPem::read(path).await?);
    }
    Ok(keys)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(kubecred::fs::write_private(path, bytes)?)
}

pub async fn verify(args: IssuerVerifyArgs) -> anyhow::Result<()> {
    let options = VerifyOptions {
        timeouts: crate::timeouts(),
        proxy: args.proxy,
        signing_keys: read_keys(&args.signing_keys).await?,
        extra_roots_pem: None,
    };
    let report = issuer::verify(&args.issuer, &options)
        .await
        .with_context(|| format!("verifying issuer {}", args.issuer))?;
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        ReportOutput::Text => print!("{}", text(&report)),
    }
    match report.failures().count() {
        0 => Ok(()),
        failed => Err(ChecksFailed(failed).into()),
    }
}

/// One line per check: `ok`, `FAIL` (with the problem code) or `skip`.
fn text(report: &Report) -> String {
    let mut out = format!("issuer {}\n", report.issuer);
    for check in &report.checks {
        let verdict = match (check.outcome, check.problem) {
            (Outcome::Pass, _) => "ok".to_owned(),
            (Outcome::Fail, Some(problem)) => format!("FAIL ({problem})"),
            (Outcome::Fail, None) => "FAIL".to_owned(),
            (Outcome::Skipped, _) => "skip".to_owned(),
        };
        out.push_str(&format!(
            "  {:<13} {verdict}: {}\n",
            check.name, check.message
        ));
    }
    out.push_str(if report.passed {
        "passed\n"
    } else {
        "failed\n"
    });
    out
}
