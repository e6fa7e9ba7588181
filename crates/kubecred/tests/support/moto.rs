//! A moto server (the AWS emulator) on a free loopback port, one per test: started with
//! `moto_server -H 127.0.0.1 -p <port>`, ready once `GET /moto-api/` answers, killed on drop.
//!
//! Setup calls (IAM users, buckets, objects, KMS keys) are sent while moto's authentication is
//! off, with a placeholder `Authorization` header whose credential scope only tells moto which
//! service is meant. [`Moto::verify_signatures`] then turns on SigV4 verification and IAM policy
//! evaluation for every later request (`POST /moto-api/reset-auth`, body `0`).

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kubecred::Env;
use kubecred::{AwsKeys, Secret};

/// A boxed error for tests.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto; `None` (with a notice) when `moto_server` is not installed.
    pub async fn start() -> Result<Option<Moto>, BoxError> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let spawned = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let hint = "pip install 'moto[server]'";
                kubecred_sandbox::peers::missing("moto_server", hint, &e);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        moto.wait_ready().await?;
        Ok(Some(moto))
    }

    async fn wait_ready(&self) -> Result<(), BoxError> {
        for _ in 0..400 {
            if self
                .http
                .get(format!("{}/moto-api/", self.endpoint))
                .send()
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("moto_server did not answer within 20 s".into())
    }

    /// The AWS environment pointing every service at this moto.
    pub fn env(&self) -> Env {
        Env::from_pairs(&[("AWS_ENDPOINT_URL", &self.endpoint)])
    }

    /// From now on moto verifies every request's SigV4 signature and evaluates IAM policies.
    pub async fn verify_signatures(&self) -> Result<(), BoxError> {
        let url = format!("{}/moto-api/reset-auth", self.endpoint);
        let response = self
            .http
            .post(url)
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .await?;
        match response.status().is_success() {
            true => Ok(()),
            false => Err(format!("reset-auth answered {}", response.status()).into()),
        }
    }

    fn unsigned(
        &self,
        method: reqwest::Method,
        path: &str,
        service: &str,
    ) -> reqwest::RequestBuilder {
        let scope = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        self.http
            .request(method, format!("{}{path}", self.endpoint))
            .header("authorization", scope)
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<String, BoxError> {
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        match status.is_success() {
            true => Ok(body),
            false => Err(format!("moto setup call failed: {status}: {body}").into()),
        }
    }

    async fn iam(&self, form: &[(&str, &str)]) -> Result<String, BoxError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("Version", "2010-05-08")].iter().chain(form))
            .finish();
        let request = self.unsigned(reqwest::Method::POST, "/", "iam");
        self.call(
            request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Creates an IAM user with one inline policy allowing `action` on `resource`; its keys.
    pub async fn user(
        &self,
        name: &str,
        action: &str,
        resource: &str,
    ) -> Result<AwsKeys, BoxError> {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        });
        self.user_with_policy(name, &policy).await
    }

    /// Creates an IAM user with `policy` as its one inline policy; its keys.
    pub async fn user_with_policy(
        &self,
        name: &str,
        policy: &serde_json::Value,
    ) -> Result<AwsKeys, BoxError> {
        let policy = policy.to_string();
        self.iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await?;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "p"),
            ("PolicyDocument", &policy),
        ])
        .await?;
        let answer = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await?;
        Ok(AwsKeys {
            access_key_id: element(&answer, "AccessKeyId")?,
            secret_access_key: Secret::new(element(&answer, "SecretAccessKey")?),
            session_token: None,
            expires_at: None,
        })
    }

    /// Creates an S3 bucket.
    pub async fn bucket(&self, name: &str) -> Result<(), BoxError> {
        self.call(self.unsigned(reqwest::Method::PUT, &format!("/{name}"), "s3"))
            .await
            .map(drop)
    }

    /// Lets anyone read the objects of `bucket` (a bucket policy allowing `s3:GetObject` to
    /// `*`, the owner's step for a bucket website); without it moto refuses anonymous reads.
    pub async fn public_read(&self, bucket: &str) -> Result<(), BoxError> {
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::{bucket}/*"),
            }],
        })
        .to_string();
        let request = self.unsigned(reqwest::Method::PUT, &format!("/{bucket}?policy"), "s3");
        let request = request.header("content-type", "application/json");
        self.call(request.body(policy)).await.map(drop)
    }

    /// Deletes an object.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), BoxError> {
        let request = self.unsigned(reqwest::Method::DELETE, &format!("/{bucket}/{key}"), "s3");
        self.call(request).await.map(drop)
    }

    /// Puts an object.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<(), BoxError> {
        let request = self.unsigned(reqwest::Method::PUT, &format!("/{bucket}/{key}"), "s3");
        self.call(request.body("hello")).await.map(drop)
    }

    /// Creates a KMS key; its ARN.
    pub async fn kms_key(&self) -> Result<String, BoxError> {
        let request = self
            .unsigned(reqwest::Method::POST, "/", "kms")
            .header("x-amz-target", "TrentService.CreateKey")
            .header("content-type", "application/x-amz-json-1.1")
            .body("{}");
        let answer: serde_json::Value = serde_json::from_str(&self.call(request).await?)?;
        answer["KeyMetadata"]["Arn"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "CreateKey answer has no ARN".into())
    }

    /// Creates the SQS queue `name` (JSON protocol); returns its URL.
    pub async fn queue(&self, name: &str) -> Result<String, BoxError> {
        let request = self
            .unsigned(reqwest::Method::POST, "/", "sqs")
            .header("x-amz-target", "AmazonSQS.CreateQueue")
            .header("content-type", "application/x-amz-json-1.0")
            .body(serde_json::json!({ "QueueName": name }).to_string());
        let answer: serde_json::Value = serde_json::from_str(&self.call(request).await?)?;
        answer["QueueUrl"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "CreateQueue answer has no QueueUrl".into())
    }
}

/// Keys moto has never issued (accepted while authentication is off).
pub fn any_keys() -> AwsKeys {
    AwsKeys {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: Secret::new("not-checked-while-auth-is-off"),
        session_token: None,
        expires_at: None,
    }
}

fn element(xml: &str, tag: &str) -> Result<String, BoxError> {
    let start = xml
        .find(&format!("<{tag}>"))
        .ok_or_else(|| format!("no <{tag}> in {xml}"))?
        + tag.len()
        + 2;
    let end = xml[start..].find('<').ok_or("unterminated element")?;
    Ok(xml[start..start + end].to_owned())
}
