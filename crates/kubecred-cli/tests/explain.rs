//! `kubecred explain` against `kubecred sandbox`: a working identity is `ok` step by step; a
//! ServiceAccount without the role annotation fails at the annotations step with its cause (exit
//! status 1), in text and in JSON; `--dry-run` exchanges nothing.

mod support;

use support::{SandboxProcess, TestResult, kubecred, stdout};

const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/team-a-app'}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: plain, namespace: team-a}
";

#[test]
fn explain_walks_the_steps_and_names_the_cause() -> TestResult {
    let home = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(home.path(), MANIFESTS, 0)?;
    let env = [
        ("KUBECONFIG", sandbox.kubeconfig.display().to_string()),
        (
            "AWS_ENDPOINT_URL_STS",
            sandbox.exported("AWS_ENDPOINT_URL_STS").ok_or("no STS")?,
        ),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let args = |account: &'static str, extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec![
            "explain",
            "--provider",
            "aws",
            "-n",
            "team-a",
            "--service-account",
            account,
            "--region",
            "us-east-1",
        ];
        args.extend_from_slice(extra);
        args
    };

    let ok = kubecred(home.path(), &env, &args("app", &["-o", "json"]))?;
    assert!(ok.status.success(), "{}", support::stderr(&ok));
    let json: serde_json::Value = serde_json::from_str(&stdout(&ok))?;
    assert_eq!(json["verdict"], "ok", "{json}");
    let steps: Vec<&str> = json["steps"]
        .as_array()
        .ok_or("no steps")?
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "identity-level",
            "service-account",
            "annotations",
            "cloud-identity",
            "cache-key",
            "exchange"
        ]
    );

    let dry = kubecred(home.path(), &env, &args("app", &["--dry-run"]))?;
    assert!(dry.status.success());
    assert!(
        stdout(&dry).contains("[skip] exchange: dry run"),
        "{}",
        stdout(&dry)
    );
    assert!(stdout(&dry).contains("verdict: dry-run"));

    let failed = kubecred(home.path(), &env, &args("plain", &[]))?;
    assert_eq!(failed.status.code(), Some(1), "{}", stdout(&failed));
    let text = stdout(&failed);
    assert!(text.contains("[FAIL] annotations"), "{text}");
    assert!(
        text.contains(
            "likely cause: ServiceAccount team-a/plain lacks annotation eks.amazonaws.com/role-arn"
        ),
        "{text}"
    );
    assert!(text.contains("[skip] exchange: not run"), "{text}");

    // -f: each Flux object as its controller would ask (region from the ECR URL).
    let manifest = home.path().join("flux.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: ok, namespace: team-a}\n\
         spec: {provider: aws, url: 'oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/app', serviceAccountName: app}\n---\n\
         apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {name: bad, namespace: team-a}\n\
         spec: {provider: aws, url: 'oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/app', serviceAccountName: plain}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team-a}\n",
    )?;
    let manifest = manifest.display().to_string();
    let objects = kubecred(
        home.path(),
        &env,
        &["explain", "-f", &manifest, "-o", "json"],
    )?;
    assert_eq!(
        objects.status.code(),
        Some(1),
        "{}",
        support::stderr(&objects)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&objects))?;
    let verdicts: Vec<&str> = json
        .as_array()
        .ok_or("not a list")?
        .iter()
        .filter_map(|e| e["verdict"].as_str())
        .collect();
    assert_eq!(verdicts, ["ok", "failed", "not-applicable"], "{json}");
    assert!(
        json[0]["identity"]
            .as_str()
            .unwrap_or_default()
            .starts_with("OCIRepository team-a/ok")
    );
    Ok(())
}

/// `--check`: after the exchange, whether the credential reaches the resource; a denial names the
/// missing grant and the `kubecred policy` command that writes it (GCP and Azure stand-ins of
/// `kubecred sandbox`, granted by the annotations of `examples/explain.yaml`, README's worked
/// examples: `owner` holds the grants on the `other` topic and hub, which `app` lacks).
#[test]
fn explain_check_names_the_missing_grant() -> TestResult {
    // README's worked examples run on these objects.
    let manifests = include_str!("../../../examples/explain.yaml");
    let home = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(home.path(), manifests, 0)?;
    let env: Vec<(String, String)> = sandbox
        .banner
        .iter()
        .filter_map(|line| line.strip_prefix("  export "))
        .filter_map(|rest| rest.split_once('='))
        .filter(|(k, _)| *k != "AZURE_TENANT_ID")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let explain_as = |provider: &str, account: &str, flag: &str, target: &str| {
        let mut args = vec![
            "explain",
            "--provider",
            provider,
            "-n",
            "team-a",
            "--service-account",
            account,
            flag,
            target,
            "-o",
            "json",
        ];
        if provider == "aws" {
            args.extend(["--region", "us-east-1"]);
        }
        kubecred(home.path(), &env, &args)
    };
    let explain = |provider: &str, target: &str| explain_as(provider, "app", "--check", target);
    let json = |output: &std::process::Output| -> Result<serde_json::Value, support::BoxError> {
        Ok(serde_json::from_str(&stdout(output))?)
    };

    for (provider, target) in [
        ("gcp", "pubsub://projects/example-project/topics/granted"),
        ("azure", "eventhub://kubecred-sandbox/granted"),
        ("aws", "s3://granted"),
    ] {
        let granted = explain(provider, target)?;
        let value = json(&granted)?;
        assert!(granted.status.success(), "{value}");
        assert_eq!(value["steps"][6]["step"], "access", "{value}");
        assert_eq!(value["steps"][6]["status"], "ok", "{value}");
    }
    // AWS: the sandbox is also an EKS cluster, which app may describe and owner may not.
    let cluster = "arn:aws:eks:us-east-1:123456789012:cluster/kubecred-sandbox";
    let described = explain_as("aws", "app", "--cluster", cluster)?;
    assert!(described.status.success(), "{}", stdout(&described));
    let refused = explain_as("aws", "owner", "--cluster", cluster)?;
    let value = json(&refused)?;
    let cause = value["steps"][6]["cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains(&format!(
            "the role lacks eks:DescribeCluster on cluster {cluster}: kubecred policy --provider aws --for cluster"
        )),
        "{cause}"
    );

    for (provider, target, command) in [
        (
            "gcp",
            "pubsub://projects/example-project/topics/other",
            "kubecred policy --provider gcp --for pubsub --resource pubsub://projects/example-project/topics/other",
        ),
        (
            "azure",
            "eventhub://kubecred-sandbox/other",
            "kubecred policy --provider azure --for eventhub",
        ),
        (
            "aws",
            "s3://other",
            "the role lacks s3:ListBucket on s3://other: kubecred policy --provider aws --for bucket --resource s3://other",
        ),
    ] {
        let denied = explain(provider, target)?;
        assert_eq!(denied.status.code(), Some(1), "{}", stdout(&denied));
        let value = json(&denied)?;
        assert_eq!(value["steps"][5]["status"], "ok", "{provider}: {value}");
        assert_eq!(value["steps"][6]["status"], "failed", "{provider}: {value}");
        let cause = value["steps"][6]["cause"].as_str().unwrap_or_default();
        assert!(cause.contains(command), "{provider}: {cause}");
    }
    Ok(())
}

/// `explain -f` follows a Kustomization's `kubeConfig.configMapRef` into the cluster: the
/// ConfigMap's provider, cluster and ServiceAccount (`examples/explain.yaml`: the sandbox as EKS
/// cluster, reached as `app`, which may describe it, or as `owner`, which may not), the region
/// from the cluster's ARN, and the cluster's credentials as the access step; a ConfigMap that
/// does not exist fails its own step.
#[test]
fn explain_f_follows_a_kustomizations_kubeconfig_config_map() -> TestResult {
    let home = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(
        home.path(),
        include_str!("../../../examples/explain.yaml"),
        0,
    )?;
    let env: Vec<(String, String)> = sandbox
        .banner
        .iter()
        .filter_map(|line| line.strip_prefix("  export "))
        .filter_map(|rest| rest.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let manifest = home.path().join("kustomizations.yaml");
    let kustomization = |name: &str, map: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: team-a}}\n\
             spec:\n  kubeConfig: {{configMapRef: {{name: {map}}}}}\n"
        )
    };
    std::fs::write(
        &manifest,
        [
            kustomization("as-app", "eks-as-app"),
            kustomization("as-owner", "eks-as-owner"),
            kustomization("missing", "absent"),
        ]
        .join("---\n"),
    )?;
    let path = manifest.display().to_string();
    let output = kubecred(home.path(), &env, &["explain", "-f", &path, "-o", "json"])?;
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output))?;
    let step = |index: usize, name: &str| -> serde_json::Value {
        value[index]["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|s| s["step"] == name).cloned())
            .unwrap_or_default()
    };
    assert_eq!(value[0]["verdict"], "ok", "{value}");
    assert_eq!(value[0]["steps"][0]["step"], "config-map", "{value}");
    assert_eq!(step(0, "access")["status"], "ok", "{value}");
    assert_eq!(value[1]["verdict"], "failed", "{value}");
    let cause = step(1, "access")["cause"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        cause.contains("the role lacks eks:DescribeCluster on cluster arn:aws:eks:us-east-1:123456789012:cluster/kubecred-sandbox"),
        "{cause}"
    );
    let missing = step(2, "config-map");
    assert_eq!(missing["status"], "failed", "{value}");
    assert!(
        missing["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("ConfigMap team-a/absent does not exist"),
        "{value}"
    );
    Ok(())
}
