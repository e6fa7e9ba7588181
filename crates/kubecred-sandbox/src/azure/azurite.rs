//! Azurite (npm `azurite`) as the Blob service behind [`super::blob`]: `azurite-blob` over HTTPS
//! with a certificate from the stand-ins' CA, `--oauth basic` (it then takes bearer tokens whose
//! `iss`, `aud` and lifetime look like Entra's), in memory, on a loopback port; killed when
//! dropped. Its one account is [`AZURITE_ACCOUNT`].

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::error::AzureStartError;
use super::tls::{Leaf, client};

/// The variable naming the `azurite-blob` executable (else the one installed under
/// `conformance/azure`, else `azurite-blob` on `PATH`).
pub const AZURITE_BLOB_VAR: &str = "AZURITE_BLOB";
/// Azurite's storage account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The Storage API version sent by the helpers.
const STORAGE_VERSION: &str = "2023-11-03";
/// How long Azurite gets to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A running Azurite; killed (and its certificate files removed) when dropped.
#[derive(Debug)]
pub struct Azurite {
    child: Child,
    url: String,
    directory: PathBuf,
    ca_pem: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn failed(message: String, source: Option<std::io::Error>) -> AzureStartError {
    AzureStartError::new(message, source)
}

/// The `azurite-blob` executable.
fn executable() -> PathBuf {
    if let Some(path) = std::env::var_os(AZURITE_BLOB_VAR) {
        return PathBuf::from(path);
    }
    let installed = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../conformance/azure/node_modules/.bin/azurite-blob");
    match installed.is_file() {
        true => installed,
        false => PathBuf::from("azurite-blob"),
    }
}

impl Azurite {
    /// Starts Azurite serving `leaf`; `ca_pem` is the CA that signed it.
    pub(crate) async fn start(leaf: &Leaf, ca_pem: &str) -> Result<Azurite, AzureStartError> {
        let directory =
            std::env::temp_dir().join(format!("kubecred-azurite-{}", crate::random::uuid()));
        std::fs::create_dir_all(&directory).map_err(|e| {
            failed(
                format!("cannot create {}: {e}", directory.display()),
                Some(e),
            )
        })?;
        let certificate = directory.join("cert.pem");
        let key = directory.join("key.pem");
        for (path, contents) in [(&certificate, &leaf.certificate_pem), (&key, &leaf.key_pem)] {
            std::fs::write(path, contents)
                .map_err(|e| failed(format!("cannot write {}: {e}", path.display()), Some(e)))?;
        }
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| failed(format!("cannot find a free port: {e}"), Some(e)))?;
        let binary = executable();
        let child = Command::new(&binary)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--oauth", "basic", "--inMemoryPersistence", "--disableTelemetry"])
            .args(["--skipApiVersionCheck", "--silent"])
            .arg("--cert")
            .arg(&certificate)
            .arg("--key")
            .arg(&key)
            .current_dir(&directory)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                failed(
                    format!("cannot start {} (npm ci --prefix conformance/azure, or set {AZURITE_BLOB_VAR}): {e}", binary.display()),
                    Some(e),
                )
            })?;
        let azurite = Azurite {
            child,
            url: format!("https://127.0.0.1:{port}"),
            directory,
            ca_pem: ca_pem.to_owned(),
        };
        azurite.ready().await?;
        Ok(azurite)
    }

    /// Its base URL, `https://127.0.0.1:PORT` (accounts path-style: `/devstoreaccount1/...`).
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn ready(&self) -> Result<(), AzureStartError> {
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let probe = format!("{}/{AZURITE_ACCOUNT}?comp=list", self.url);
        let client = client(&self.ca_pem);
        while tokio::time::Instant::now() < deadline {
            if client.get(&probe).send().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(failed(
            format!(
                "Azurite did not answer at {} within {READY_WITHIN:?}",
                self.url
            ),
            None,
        ))
    }

    /// Sends `method` to `/<account>/<path>` with bearer `token`; returns the status and body.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        token: &str,
        body: Vec<u8>,
    ) -> Result<(u16, String), reqwest::Error> {
        let answer = client(&self.ca_pem)
            .request(
                method,
                format!("{}/{AZURITE_ACCOUNT}/{path_and_query}", self.url),
            )
            .bearer_auth(token)
            .header("x-ms-version", STORAGE_VERSION)
            .header("x-ms-blob-type", "BlockBlob")
            .body(body)
            .send()
            .await?;
        let status = answer.status().as_u16();
        Ok((status, answer.text().await.unwrap_or_default()))
    }

    /// Creates `container` with bearer `token` (a Storage token); returns the status (201).
    pub async fn create_container(
        &self,
        token: &str,
        container: &str,
    ) -> Result<u16, reqwest::Error> {
        let path = format!("{container}?restype=container");
        Ok(self
            .request(reqwest::Method::PUT, &path, token, Vec::new())
            .await?
            .0)
    }

    /// Uploads `contents` as block blob `container/name`; returns the status (201).
    pub async fn put_blob(
        &self,
        token: &str,
        container: &str,
        name: &str,
        contents: &[u8],
    ) -> Result<u16, reqwest::Error> {
        let path = format!("{container}/{name}");
        Ok(self
            .request(reqwest::Method::PUT, &path, token, contents.to_vec())
            .await?
            .0)
    }
}
