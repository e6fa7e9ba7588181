//! `kubecred issuer show|generate|verify|publish|rotate-plan|setup`: thin over `kubecred::issuer`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use kubecred::issuer::{
    self, AzureIdentity, ClusterIssuer, Documents, Issuer, Outcome, PublicKeyPem, Report, Rotation,
    SetupTarget, Target, VerifyOptions,
};

use crate::UsageError;
use crate::args::{
    AzureIdentityArgs, GenerateFormat, IdentityArgs, IssuerGenerateArgs, IssuerPublishArgs,
    IssuerRotatePlanArgs, IssuerSetupArgs, IssuerShowArgs, IssuerVerifyArgs, ReportOutput,
    SetupCloud,
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

/// The issuer of the cluster the kubeconfig (and context) names, read through its API.
async fn cluster_issuer(
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
) -> anyhow::Result<ClusterIssuer> {
    let connection = IdentityArgs {
        kubeconfig,
        context,
        ..IdentityArgs::default()
    };
    let kubernetes = crate::request::connect(&connection).await?;
    issuer::show(&kubernetes)
        .await
        .context("reading the cluster's issuer")
}

pub async fn show(args: IssuerShowArgs) -> anyhow::Result<()> {
    let shown = cluster_issuer(args.kubeconfig, args.context).await?;
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
    if args.format == GenerateFormat::GcpJwks {
        print!("{}", documents.gcp_jwks_json());
        eprintln!(
            "save as a file and give it to the pool provider: gcloud iam workload-identity-pools \
             providers create-oidc PROVIDER --workload-identity-pool=POOL --location=global \
             --issuer-uri={} --jwk-json-path=FILE (update it after each key rotation)",
            issuer.as_str()
        );
        return Ok(());
    }
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

pub async fn publish(args: IssuerPublishArgs) -> anyhow::Result<()> {
    let target = Target::parse(&args.target).map_err(|e| UsageError(e.to_string()))?;
    let documents = match &args.from {
        Some(dir) => read_documents(dir)?,
        None => {
            let issuer = args.issuer.as_deref().unwrap_or_default();
            let issuer = Issuer::parse(issuer).map_err(|e| UsageError(e.to_string()))?;
            if args.signing_keys.is_empty() {
                return Err(UsageError(
                    "give --signing-key FILE (each public key the API server verifies with), \
                     or --from DIR of `kubecred issuer generate -o DIR`"
                        .into(),
                )
                .into());
            }
            let keys = read_keys(&args.signing_keys).await?;
            issuer::generate(&issuer, args.jwks_uri.as_deref(), &keys)?
        }
    };
    let issuer = documents.discovery["issuer"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (engine, request) = crate::request::prepare(&args.identity, target.provider()).await?;
    let published = issuer::publish(&engine, &target, &documents, &request)
        .await
        .with_context(|| format!("publishing to {}", target.shown()))?;
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&published)?),
        ReportOutput::Text => {
            for object in &published.objects {
                println!("uploaded {object} ({})", published.content_type);
            }
            println!("next: kubecred issuer verify {issuer}");
        }
    }
    let default_jwks = format!("{}{}", issuer.trim_end_matches('/'), issuer::JWKS_PATH);
    if documents.discovery["jwks_uri"].as_str() != Some(default_jwks.as_str()) {
        eprintln!(
            "note: jwks_uri is not ISSUER/openid/v1/jwks: the JWKS must be served at the \
             jwks_uri the discovery document names"
        );
    }
    Ok(())
}

/// The two documents `generate -o DIR` wrote.
fn read_documents(dir: &Path) -> anyhow::Result<Documents> {
    let read = |path: PathBuf| -> anyhow::Result<serde_json::Value> {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
    };
    let discovery = read(dir.join(".well-known/openid-configuration"))?;
    let jwks = read(dir.join("openid/v1/jwks"))?;
    let issuer = discovery["issuer"].as_str().unwrap_or_default();
    Issuer::parse(issuer)
        .with_context(|| format!("{}: the discovery document's issuer", dir.display()))?;
    if jwks["keys"].as_array().is_none_or(|keys| keys.is_empty()) {
        anyhow::bail!("{}: the JWKS has no keys", dir.display());
    }
    Ok(Documents { discovery, jwks })
}

pub async fn rotate_plan(args: IssuerRotatePlanArgs) -> anyhow::Result<()> {
    let current = Issuer::parse(&args.issuer).map_err(|e| UsageError(e.to_string()))?;
    let new_issuer = match &args.new_issuer {
        Some(url) => Some(Issuer::parse(url).map_err(|e| UsageError(e.to_string()))?),
        None => None,
    };
    if new_issuer.is_none() && args.new_signing_keys.is_empty() {
        return Err(
            UsageError("give --new-issuer URL, --new-signing-key FILE or both".into()).into(),
        );
    }
    if let Some(target) = &args.target {
        Target::parse(target).map_err(|e| UsageError(e.to_string()))?;
    }
    let rotation = Rotation {
        new_issuer,
        new_keys: read_keys(&args.new_signing_keys).await?,
    };
    let cluster = cluster_issuer(args.kubeconfig, args.context).await?;
    let plan = issuer::rotate_plan(&cluster, &current, &rotation, args.target.as_deref())?;
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        ReportOutput::Text => print!("{}", issuer::plan_text(&plan)),
    }
    Ok(())
}

/// The Entra identity the flags name: a managed identity (name and resource group) or an app.
pub fn azure_identity(args: &AzureIdentityArgs) -> Result<AzureIdentity, UsageError> {
    match (&args.identity_name, &args.resource_group, &args.app_id) {
        (Some(identity_name), Some(resource_group), None) => Ok(AzureIdentity::Managed {
            identity_name: identity_name.clone(),
            resource_group: resource_group.clone(),
        }),
        (None, None, Some(app_id)) => Ok(AzureIdentity::App {
            app_id: app_id.clone(),
        }),
        _ => Err(UsageError(
            "azure: give --identity-name and --resource-group (a managed identity) or --app-id \
             (an app registration)"
                .into(),
        )),
    }
}

pub fn setup(args: IssuerSetupArgs) -> anyhow::Result<()> {
    let target = match args.target {
        SetupCloud::Aws => SetupTarget::Aws {
            account_id: args.account_id.unwrap_or_default(),
            role_name: args.role_name.unwrap_or_default(),
        },
        SetupCloud::Azure => {
            let identity = azure_identity(&args.azure)?;
            SetupTarget::Azure {
                identity,
                credential_name: args.credential_name,
                client_id: args.client_id,
                tenant_id: args.tenant_id,
            }
        }
        SetupCloud::Gcp => SetupTarget::Gcp {
            project_number: args.project_number.unwrap_or_default(),
            pool: args.pool.unwrap_or_default(),
            provider: args.provider.unwrap_or_default(),
        },
    };
    let setup = issuer::setup(&args.issuer, &args.service_account, &target)
        .map_err(|e| UsageError(e.to_string()))?;
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&setup.json())?),
        ReportOutput::Text => print!("{}", setup.text()),
    }
    Ok(())
}
