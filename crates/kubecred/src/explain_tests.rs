use super::*;

fn request(provider: Provider) -> Request {
    Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        ..Request::new(provider)
    }
}

/// Each cloud's refusal (as the stand-ins and the clouds word them) gets its own cause.
#[test]
fn each_refusal_has_a_distinct_cause() {
    let cases = [
        (
            Provider::Aws,
            "InvalidIdentityToken: No OpenIDConnect provider found in your account for https://x",
            "not registered as an IAM OIDC provider",
        ),
        (
            Provider::Aws,
            "InvalidIdentityToken: Incorrect token audience",
            "not a client ID of the IAM OIDC provider",
        ),
        (
            Provider::Aws,
            "AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
            "does not allow subject system:serviceaccount:team-a:app",
        ),
        (
            Provider::Aws,
            "InvalidIdentityToken: The web identity token could not be validated: no key with kid 'k'",
            "lacks the key",
        ),
        (
            Provider::Aws,
            "AccessDenied: User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: s3:ListBucket on resource",
            "lacks a permission: s3:ListBucket",
        ),
        (
            // CodeCommit's refusal of git's first request, as `explain --git` reads it.
            Provider::Aws,
            "read the refs of https://git-codecommit.us-east-1.amazonaws.com/v1/repos/app: HTTP 403: User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: codecommit:GitPull on resource: arn:aws:codecommit:us-east-1:1:app",
            "lacks a permission: codecommit:GitPull",
        ),
        (
            Provider::Azure,
            "invalid_request: 50166 - AADSTS50166: Request to External OIDC endpoint failed.",
            "could not fetch the issuer's discovery document or JWKS",
        ),
        (
            Provider::Azure,
            "HTTP 401: AADSTS700211: No matching federated identity record found for presented assertion issuer 'x'",
            "no federated credential for the cluster's issuer",
        ),
        (
            Provider::Azure,
            "HTTP 401: AADSTS700213: No matching federated identity record found for presented assertion subject 'x'",
            "does not match subject system:serviceaccount:team-a:app",
        ),
        (
            Provider::Azure,
            "HTTP 401: AADSTS700212: No matching federated identity record found for presented assertion audience 'x'",
            "audience is not the token's",
        ),
        (
            Provider::Azure,
            "HTTP 400: AADSTS700016: Application with identifier 'x' was not found",
            "names no app in the tenant",
        ),
        (
            Provider::Azure,
            "HTTP 403: AuthorizationPermissionMismatch",
            "lacks a role assignment",
        ),
        (
            Provider::Azure,
            "read the refs of https://dev.azure.com/o/p/_git/r: HTTP 401: TF400813: The user 'aaaaaaaa-0000-4000-8000-000000000001' is not authorized to access this resource.",
            "not a user of the Azure DevOps organization: kubecred policy --provider azure --for git writes its entitlement",
        ),
        (
            Provider::Azure,
            "read the refs of https://dev.azure.com/o/p/_git/r: HTTP 404: TF401019: The Git repository with name or identifier r does not exist or you do not have permissions for the operation you are attempting.",
            "in no group that reads the repository (Readers)",
        ),
        (
            Provider::Gcp,
            "HTTP 400: invalid_grant: The issuer in ID Token https://a does not match the expected ones: https://b.",
            "does not trust the cluster's issuer",
        ),
        (
            Provider::Gcp,
            "HTTP 400: invalid_grant: The audience in ID Token [x] does not match the expected audience.",
            "audience is not one the pool provider allows",
        ),
        (
            Provider::Gcp,
            "HTTP 403: Permission 'iam.serviceAccounts.getAccessToken' denied on resource",
            "roles/iam.workloadIdentityUser",
        ),
        (
            Provider::Gcp,
            "HTTP 400: invalid_target: The target service indicated by the audience is invalid",
            "pool or provider does not exist",
        ),
    ];
    let mut causes = Vec::new();
    for (provider, text, expected) in cases {
        let got = cause(&request(provider), &Error::denied(text));
        assert!(got.contains(expected), "{text}: {got}");
        causes.push(got);
    }
    let distinct: std::collections::BTreeSet<&String> = causes.iter().collect();
    assert_eq!(distinct.len(), causes.len(), "{causes:#?}");
}

/// Off GKE, a ServiceAccount without the provider annotation is named as lacking it, whether
/// the metadata server answers (naming no cluster) or not.
#[test]
fn a_gcp_service_account_without_the_provider_annotation_is_named() {
    let learn = "learn the GKE cluster (the service account has no \
                 gcp.auth.fluxcd.io/workload-identity-provider annotation): failed to get GKE \
                 cluster location from the metadata service";
    let answered = audience_cause(
        Provider::Gcp,
        "team-a",
        "plain",
        &Error::invalid(format!("{learn}: HTTP 404")),
    );
    let silent = audience_cause(
        Provider::Gcp,
        "team-a",
        "plain",
        &Error::transient(format!("{learn}: timed out")),
    );
    for got in [&answered, &silent] {
        assert!(
            got.contains(
                "ServiceAccount team-a/plain lacks annotation \
                 gcp.auth.fluxcd.io/workload-identity-provider"
            ),
            "{got}"
        );
    }
    assert!(answered.contains("names no GKE cluster"), "{answered}");
    assert!(silent.contains("which did not answer"), "{silent}");
    let other = audience_cause(
        Provider::Aws,
        "team-a",
        "plain",
        &Error::transient("connection refused"),
    );
    assert!(other.starts_with("an endpoint did not answer"), "{other}");
}

#[test]
fn an_unreachable_endpoint_says_so() {
    let got = cause(
        &request(Provider::Aws),
        &Error::transient("connection refused"),
    );
    assert!(got.contains("did not answer"), "{got}");
}

#[test]
fn the_verdict_follows_the_steps() {
    let mut steps = Steps { steps: Vec::new() };
    steps.ok(StepName::IdentityLevel, "x");
    steps.skip_rest(&ALL, "dry run");
    let e = Explanation {
        provider: "aws".into(),
        identity: "i".into(),
        steps: steps.steps,
    };
    assert_eq!(e.verdict(), "dry-run");
    assert_eq!(e.json()["steps"][5]["step"], "exchange");
    assert_eq!(e.json()["steps"][5]["status"], "skipped");
    assert!(
        e.text().contains("[skip] exchange: dry run"),
        "{}",
        e.text()
    );
}

#[test]
fn the_cache_key_never_shows_a_proxy_password() {
    let parts = vec![
        "provider=aws".to_owned(),
        "proxyURL=http://user:s3cret@proxy.example:3128".to_owned(),
        "caData=-----BEGIN CERTIFICATE-----".to_owned(),
    ];
    let shown = shown_key(&parts);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("proxyURL=http://user:REDACTED@proxy.example:3128"),
        "{shown}"
    );
    assert!(shown.contains("caData=<27 bytes>"), "{shown}");
}

#[test]
fn arn_regions_are_read_from_the_fourth_field() {
    assert_eq!(
        super::arn_region("arn:aws:eks:eu-west-1:123456789012:cluster/c").as_deref(),
        Some("eu-west-1")
    );
    for no_region in [
        "",
        "arn:aws:iam::1:role/r",
        "projects/p/locations/l/clusters/c",
        "arn",
    ] {
        assert_eq!(super::arn_region(no_region), None, "{no_region}");
    }
}
