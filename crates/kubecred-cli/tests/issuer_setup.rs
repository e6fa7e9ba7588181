//! `kubecred issuer setup` through the binary: the AWS trust policy as JSON, the same policy in
//! the pasteable `create-role` command, and a hostile value refused as a usage error.

mod support;
use support::{assert_exit, kubecred, stdout, success_json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ISSUER: &str = "https://oidc.example.com/cluster-a";

#[test]
fn aws_setup_prints_the_trust_policy_and_commands() -> TestResult {
    let home = tempfile::tempdir()?;
    let args = [
        "issuer",
        "setup",
        "--issuer",
        ISSUER,
        "--target",
        "aws",
        "--service-account",
        "flux-system/source-controller",
        "--account-id",
        "123456789012",
        "--role-name",
        "flux-source",
        "-o",
        "json",
    ];
    let setup = success_json(&kubecred(home.path(), &[], &args)?)?;
    let provider = "oidc.example.com/cluster-a";
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": format!("arn:aws:iam::123456789012:oidc-provider/{provider}") },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                format!("{provider}:aud"): "sts.amazonaws.com",
                format!("{provider}:sub"): "system:serviceaccount:flux-system:source-controller",
            } }
        }]
    });
    assert_eq!(setup["target"], "aws");
    assert_eq!(setup["documents"]["trust_policy"], policy);
    assert_eq!(
        setup["service_account_annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/flux-source"
    );
    let create_role = setup["commands"][1].as_str().unwrap_or_default();
    let words = shlex::split(create_role).unwrap_or_default();
    assert_eq!(
        words
            .get(6)
            .map(String::as_str)
            .map(serde_json::from_str::<serde_json::Value>)
            .and_then(Result::ok),
        Some(policy)
    );

    let text = kubecred(home.path(), &[], &args[..12])?;
    assert!(text.status.success());
    assert!(stdout(&text).contains("aws iam create-open-id-connect-provider --url"));
    Ok(())
}

#[test]
fn setup_refuses_a_bad_account_id_as_usage() -> TestResult {
    let home = tempfile::tempdir()?;
    let args = [
        "issuer",
        "setup",
        "--issuer",
        ISSUER,
        "--target",
        "aws",
        "--service-account",
        "flux-system/source-controller",
        "--account-id",
        "1234$(id)",
        "--role-name",
        "r",
    ];
    assert_exit(
        &kubecred(home.path(), &[], &args)?,
        2,
        &["AWS account ID", "12 digits"],
    );
    Ok(())
}
