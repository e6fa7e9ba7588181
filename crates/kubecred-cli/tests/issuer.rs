//! `kubecred issuer generate|verify` through the binary: the documents for the sandbox's key, and
//! a verify against the sandbox's issuer (trusting its CA through `SSL_CERT_FILE`, as a user
//! with a private CA would) and against a site serving a stale JWKS.

use std::path::Path;
use std::process::Output;

use kubecred_sandbox::site::{Page, StaticSite};
use kubecred_sandbox::{Sandbox, SandboxConfig};

mod support;
use support::{BIN, assert_exit, isolated, stdout, success_json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs `kubecred ARGS` in `home` with `SSL_CERT_FILE=ca`, off the runtime's thread so that the
/// in-process servers keep answering.
async fn kubecred(home: &Path, ca: &Path, args: Vec<String>) -> std::io::Result<Output> {
    let mut command = isolated(BIN, home);
    command.env("SSL_CERT_FILE", ca).args(args);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(std::io::Error::other)?
}

#[test]
fn generate_writes_what_the_api_server_serves_and_verify_passes() -> TestResult {
    runtime()?.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        let dir = tempfile::tempdir()?;
        let key = dir.path().join("sa.pub");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&key, sandbox.signing_key_pem())?;
        std::fs::write(&ca, sandbox.ca_pem())?;
        let out = dir.path().join("site");
        let key_arg = key.display().to_string();
        let args = [
            "issuer",
            "generate",
            "--issuer",
            &sandbox.issuer(),
            "--signing-key",
            &key_arg,
            "-o",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(out.display().to_string());
        let generated = kubecred(dir.path(), &ca, args.clone()).await?;
        assert!(
            generated.status.success(),
            "{}",
            support::stderr(&generated)
        );
        let jwks: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("openid/v1/jwks"))?)?;
        let discovery: serde_json::Value = serde_json::from_slice(&std::fs::read(
            out.join(".well-known/openid-configuration"),
        )?)?;
        assert_eq!(discovery["issuer"], sandbox.issuer());
        let served = sandbox.verifier().await?; // the sandbox's own JWKS, fetched over HTTPS
        assert!(format!("{served:?}").contains(jwks["keys"][0]["kid"].as_str().unwrap_or("?")));

        // Printed instead of written: both documents in one object.
        args.truncate(args.len() - 2);
        let printed = success_json(&kubecred(dir.path(), &ca, args).await?)?;
        assert_eq!(printed["jwks"], jwks);
        assert_eq!(printed["openid-configuration"], discovery);

        let verify = [
            "issuer",
            "verify",
            &sandbox.issuer(),
            "--signing-key",
            &key_arg,
            "--output",
            "json",
        ];
        let report = success_json(
            &kubecred(
                dir.path(),
                &ca,
                verify.iter().map(|a| a.to_string()).collect(),
            )
            .await?,
        )?;
        assert_eq!(report["passed"], true);
        sandbox.shutdown().await;
        Ok(())
    })
}

#[test]
fn verify_names_the_unpublished_key_and_exits_1() -> TestResult {
    runtime()?.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        let old = Sandbox::start(SandboxConfig::default()).await?;
        let site = StaticSite::start().await?;
        let dir = tempfile::tempdir()?;
        let key = dir.path().join("new.pub");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&key, sandbox.signing_key_pem())?;
        std::fs::write(&ca, site.ca_pem())?;
        let issuer = kubecred::issuer::Issuer::parse(&site.url())?;
        let stale = kubecred::issuer::generate(
            &issuer,
            None,
            &[kubecred::issuer::PublicKeyPem::new(
                "old",
                old.signing_key_pem(),
            )],
        )?;
        site.put(
            "/.well-known/openid-configuration",
            Page::json(&stale.discovery),
        );
        site.put("/openid/v1/jwks", Page::json(&stale.jwks));
        let key_arg = key.display().to_string();
        let args = ["issuer", "verify", &site.url(), "--signing-key", &key_arg];
        let output = kubecred(
            dir.path(),
            &ca,
            args.iter().map(|a| a.to_string()).collect(),
        )
        .await?;
        assert_exit(&output, 1, &["1 check(s) failed"]);
        let text = stdout(&output);
        assert!(
            text.contains("signing-keys  FAIL (missing-key): not published:"),
            "{text}"
        );
        assert!(text.contains(&key_arg), "{text}");
        assert!(text.contains("  discovery     ok:"), "{text}");

        // A private key given by mistake: refused, not shown.
        let private = dir.path().join("sa.key");
        std::fs::write(
            &private,
            "-----BEGIN PRIVATE KEY-----\nTOPSECRETBODY\n-----END PRIVATE KEY-----\n",
        )?;
        let private_arg = private.display().to_string();
        let args = [
            "issuer",
            "generate",
            "--issuer",
            "https://oidc.example.com",
            "--signing-key",
            &private_arg,
        ];
        let output = kubecred(
            dir.path(),
            &ca,
            args.iter().map(|a| a.to_string()).collect(),
        )
        .await?;
        assert_exit(&output, 1, &["holds a private key (not shown)"]);
        assert!(!support::stderr(&output).contains("TOPSECRETBODY"));

        // An http issuer is a usage error for generate.
        let args = [
            "issuer",
            "generate",
            "--issuer",
            "http://oidc.example.com",
            "--signing-key",
            &key_arg,
        ];
        let output = kubecred(
            dir.path(),
            &ca,
            args.iter().map(|a| a.to_string()).collect(),
        )
        .await?;
        assert_exit(&output, 2, &["only over https"]);
        Ok(())
    })
}
