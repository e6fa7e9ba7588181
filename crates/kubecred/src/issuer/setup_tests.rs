use super::*;

const ISSUER: &str = "https://my-bucket.s3.eu-west-1.amazonaws.com/cluster-a";
const SA: &str = "flux-system/source-controller";
const SUB: &str = "system:serviceaccount:flux-system:source-controller";
const APP: &str = "00000000-0000-0000-0000-00000000000a";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn aws_target(account_id: &str, role_name: &str) -> SetupTarget {
    SetupTarget::Aws {
        account_id: account_id.into(),
        role_name: role_name.into(),
    }
}

fn managed(identity_name: &str, resource_group: &str) -> SetupTarget {
    SetupTarget::Azure {
        identity: AzureIdentity::Managed {
            identity_name: identity_name.into(),
            resource_group: resource_group.into(),
        },
        credential_name: None,
        client_id: None,
        tenant_id: None,
    }
}

fn gcp_target(project_number: &str, pool: &str, provider: &str) -> SetupTarget {
    SetupTarget::Gcp {
        project_number: project_number.into(),
        pool: pool.into(),
        provider: provider.into(),
    }
}

fn built(issuer: &str, sa: &str, target: &SetupTarget) -> Setup {
    setup(issuer, sa, target).unwrap_or_else(|e| panic!("{e}"))
}

fn refusal(issuer: &str, sa: &str, target: &SetupTarget) -> String {
    match setup(issuer, sa, target) {
        Ok(setup) => panic!("accepted: {setup:?}"),
        Err(e) => e.to_string(),
    }
}

/// Undoes the shell quoting of one command line.
fn words(line: &str) -> Vec<String> {
    shlex::split(line).unwrap_or_else(|| panic!("not a shell line: {line}"))
}

#[test]
fn aws_provider_trust_policy_annotation_and_commands() {
    let setup = built(ISSUER, SA, &aws_target("123456789012", "flux-source"));
    let provider = "my-bucket.s3.eu-west-1.amazonaws.com/cluster-a";
    let provider_arn = format!("arn:aws:iam::123456789012:oidc-provider/{provider}");
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider_arn },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                "my-bucket.s3.eu-west-1.amazonaws.com/cluster-a:aud": "sts.amazonaws.com",
                "my-bucket.s3.eu-west-1.amazonaws.com/cluster-a:sub": SUB,
            } }
        }]
    });
    assert_eq!(setup.documents["trust_policy"], policy);
    assert_eq!(
        setup.documents["oidc_provider"],
        json!({ "Url": ISSUER, "ClientIDList": ["sts.amazonaws.com"], "Arn": provider_arn })
    );
    assert_eq!(
        setup.service_account_annotations[AWS_ROLE_ARN_ANNOTATION],
        "arn:aws:iam::123456789012:role/flux-source"
    );
    assert_eq!(setup.subject, SUB);
    assert_eq!(
        setup.commands[0],
        format!(
            "aws iam create-open-id-connect-provider --url {ISSUER} --client-id-list sts.amazonaws.com"
        )
    );
    let create_role = words(&setup.commands[1]);
    assert_eq!(
        create_role[..5],
        ["aws", "iam", "create-role", "--role-name", "flux-source"]
    );
    assert_eq!(create_role[5], "--assume-role-policy-document");
    let pasted: Value = serde_json::from_str(&create_role[6]).unwrap_or_default();
    assert_eq!(pasted, policy);
    assert!(setup.notes.iter().any(|n| n.contains("thumbprint")));
    let json = setup.json();
    assert_eq!(json["target"], "aws");
    assert_eq!(json["documents"]["trust_policy"], policy);
}

#[test]
fn aws_names_the_provider_without_the_trailing_slash() {
    let aks = "https://eastus.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/abc/";
    let setup = built(aks, SA, &aws_target("123456789012", "r"));
    let provider = "eastus.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/abc";
    assert_eq!(
        setup.documents["trust_policy"]["Statement"][0]["Principal"]["Federated"],
        format!("arn:aws:iam::123456789012:oidc-provider/{provider}")
    );
    assert_eq!(setup.documents["oidc_provider"]["Url"], aks);
}

#[test]
fn azure_managed_identity_credential_command_and_annotations() {
    let setup = built(ISSUER, SA, &managed("flux-identity", "rg-flux"));
    let credential = json!({
        "name": "kubecred-flux-system-source-controller",
        "issuer": ISSUER,
        "subject": SUB,
        "audiences": ["api://AzureADTokenExchange"],
    });
    assert_eq!(setup.documents["federated_credential"], credential);
    assert_eq!(
        setup.commands,
        [format!(
            "az identity federated-credential create --name kubecred-flux-system-source-controller \
             --identity-name flux-identity --resource-group rg-flux --issuer {ISSUER} \
             --subject {SUB} --audiences api://AzureADTokenExchange"
        )]
    );
    assert_eq!(
        setup.service_account_annotations,
        BTreeMap::from([
            (AZURE_CLIENT_ID_ANNOTATION, "CLIENT_ID".to_owned()),
            (AZURE_TENANT_ID_ANNOTATION, "TENANT_ID".to_owned()),
        ])
    );
    assert!(setup.notes[0].starts_with(
        "CLIENT_ID: az identity show --name flux-identity --resource-group rg-flux --query clientId"
    ));
}

#[test]
fn azure_app_credential_parameters_are_json_and_the_app_id_is_the_client_id() {
    let target = SetupTarget::Azure {
        identity: AzureIdentity::App { app_id: APP.into() },
        credential_name: Some("flux_source-1".into()),
        client_id: None,
        tenant_id: Some(TENANT.into()),
    };
    let setup = built(ISSUER, "ns/a.b", &target);
    let credential = json!({
        "name": "flux_source-1",
        "issuer": ISSUER,
        "subject": "system:serviceaccount:ns:a.b",
        "audiences": ["api://AzureADTokenExchange"],
    });
    assert_eq!(setup.documents["federated_credential"], credential);
    let line = words(&setup.commands[0]);
    assert_eq!(
        line[..8],
        [
            "az",
            "ad",
            "app",
            "federated-credential",
            "create",
            "--id",
            APP,
            "--parameters"
        ]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&line[8]).unwrap_or_default(),
        credential
    );
    assert_eq!(
        setup.service_account_annotations,
        BTreeMap::from([
            (AZURE_CLIENT_ID_ANNOTATION, APP.to_owned()),
            (AZURE_TENANT_ID_ANNOTATION, TENANT.to_owned()),
        ])
    );
    // The default name has no dot (Entra refuses them).
    let default = built(ISSUER, "ns/a.b", &managed("idn", "rg"));
    assert_eq!(
        default.documents["federated_credential"]["name"],
        "kubecred-ns-a-b"
    );
}

#[test]
fn gcp_provider_principal_annotation_and_commands() {
    let setup = built(
        ISSUER,
        SA,
        &gcp_target("123456789", "flux-pool", "cluster-a"),
    );
    let name =
        "projects/123456789/locations/global/workloadIdentityPools/flux-pool/providers/cluster-a";
    assert_eq!(
        setup.documents["workload_identity_pool_provider"],
        json!({
            "name": name,
            "attributeMapping": { "google.subject": "assertion.sub" },
            "oidc": {
                "issuerUri": ISSUER,
                "allowedAudiences": [format!("//iam.googleapis.com/{name}")],
            },
        })
    );
    assert_eq!(
        setup.documents["principal"],
        format!(
            "principal://iam.googleapis.com/projects/123456789/locations/global/\
             workloadIdentityPools/flux-pool/subject/{SUB}"
        )
    );
    assert_eq!(
        setup.service_account_annotations[GCP_PROVIDER_ANNOTATION],
        name
    );
    assert_eq!(
        setup.commands,
        [
            "gcloud iam workload-identity-pools create flux-pool --project 123456789 --location global"
                .to_owned(),
            format!(
                "gcloud iam workload-identity-pools providers create-oidc cluster-a \
                 --project 123456789 --location global --workload-identity-pool flux-pool \
                 --issuer-uri {ISSUER} --attribute-mapping 'google.subject=assertion.sub' \
                 --allowed-audiences //iam.googleapis.com/{name}"
            ),
        ]
    );
}

/// The audience in the provider is the one kubecred's GCP client asks its token for.
#[cfg(feature = "gcp")]
#[test]
fn gcp_allowed_audience_is_kubecreds_token_audience() {
    let setup = built(
        ISSUER,
        SA,
        &gcp_target("123456789", "flux-pool", "cluster-a"),
    );
    let annotation = &setup.service_account_annotations[GCP_PROVIDER_ANNOTATION];
    let provider =
        crate::gcp::parse::workload_identity_provider(annotation).unwrap_or_else(|e| panic!("{e}"));
    let document = &setup.documents["workload_identity_pool_provider"];
    assert_eq!(document["oidc"]["allowedAudiences"][0], provider.audience());
    assert_eq!(
        GCP_PROVIDER_ANNOTATION,
        crate::gcp::annotations::WORKLOAD_IDENTITY_PROVIDER
    );
}

/// Hostile values are quoted: one argument each, nothing a shell would expand.
#[test]
fn shell_metacharacters_in_the_issuer_stay_one_quoted_argument() {
    let issuer = "https://example.com/$(id)';&x";
    let setup = built(issuer, SA, &gcp_target("1", "pool", "prov"));
    let line = words(&setup.commands[1]);
    assert_eq!(line[12..14], ["--issuer-uri", issuer]);
    assert!(setup.commands[1].contains('\''));
    let setup = built(issuer, SA, &aws_target("123456789012", "r"));
    assert_eq!(words(&setup.commands[0])[4], issuer);
}

#[test]
fn refusals() {
    let aws = aws_target("123456789012", "role");
    let azure = managed("identity", "rg");
    let gcp = gcp_target("123", "pool", "prov");
    let long_name = "n".repeat(110);
    let long_sa = format!("ns/{long_name}");
    let cases: Vec<(&str, &str, SetupTarget, &str)> = vec![
        ("http://x.example", SA, aws.clone(), "not an https:// URL"),
        ("https://x.example?q=1", SA, aws.clone(), "issuer"),
        ("https://x.example:8443", SA, aws.clone(), "has a port"),
        (
            ISSUER,
            "source-controller",
            aws.clone(),
            "not NAMESPACE/NAME",
        ),
        (ISSUER, "Flux/sa", aws.clone(), "namespace"),
        (ISSUER, "ns/sa b", aws.clone(), "service account name"),
        (ISSUER, "ns/a/b", aws.clone(), "service account name"),
        (ISSUER, "ns/", azure.clone(), "service account name"),
        (ISSUER, SA, aws_target("12345678901", "r"), "AWS account ID"),
        (
            ISSUER,
            SA,
            aws_target("12345678901a", "r"),
            "AWS account ID",
        ),
        (ISSUER, SA, aws_target("123456789012", ""), "IAM role name"),
        (
            ISSUER,
            SA,
            aws_target("123456789012", "r'; rm"),
            "IAM role name",
        ),
        (
            ISSUER,
            SA,
            aws_target("123456789012", &"r".repeat(65)),
            "IAM role name",
        ),
        (ISSUER, SA, managed("id", "rg"), "managed identity name"),
        (
            ISSUER,
            SA,
            managed("-identity", "rg"),
            "managed identity name",
        ),
        (ISSUER, SA, managed("identity", "rg."), "resource group"),
        (ISSUER, SA, managed("identity", "rg$(x)"), "resource group"),
        (ISSUER, SA, managed("identity", ""), "resource group"),
        (
            ISSUER,
            SA,
            SetupTarget::Azure {
                identity: AzureIdentity::App {
                    app_id: "not-a-guid".into(),
                },
                credential_name: None,
                client_id: None,
                tenant_id: None,
            },
            "application ID",
        ),
        (
            ISSUER,
            SA,
            SetupTarget::Azure {
                identity: AzureIdentity::App { app_id: APP.into() },
                credential_name: Some("a.b".into()),
                client_id: None,
                tenant_id: None,
            },
            "federated credential name",
        ),
        (
            ISSUER,
            SA,
            SetupTarget::Azure {
                identity: AzureIdentity::App { app_id: APP.into() },
                credential_name: None,
                client_id: None,
                tenant_id: Some("tenant".into()),
            },
            "tenant ID",
        ),
        (
            ISSUER,
            SA,
            gcp_target("my-project", "pool", "prov"),
            "project number",
        ),
        (ISSUER, SA, gcp_target("", "pool", "prov"), "project number"),
        (ISSUER, SA, gcp_target("1", "poo", "prov"), "pool ID"),
        (ISSUER, SA, gcp_target("1", "Pool", "prov"), "pool ID"),
        (ISSUER, SA, gcp_target("1", "pool", "p/x/y"), "provider ID"),
        (
            ISSUER,
            SA,
            gcp_target("1", "pool", &"p".repeat(33)),
            "provider ID",
        ),
        (ISSUER, &long_sa, gcp.clone(), "127 bytes"),
    ];
    for (issuer, sa, target, expected) in cases {
        let message = refusal(issuer, sa, &target);
        assert!(
            message.contains(expected),
            "{issuer} {sa} {target:?}: {message}"
        );
    }
    // The long ServiceAccount is fine where the subject has no such limit.
    built(ISSUER, &long_sa, &aws);
    built(ISSUER, &long_sa, &azure);
}

#[test]
fn text_has_every_section() {
    let setup = built(
        ISSUER,
        SA,
        &gcp_target("123456789", "flux-pool", "cluster-a"),
    );
    let text = setup.text();
    for part in [
        "# gcp: trust issuer",
        "## workload_identity_pool_provider",
        "## principal",
        "## ServiceAccount annotations",
        "gcp.auth.fluxcd.io/workload-identity-provider: \"projects/123456789/",
        "## commands\ngcloud iam workload-identity-pools create",
        "## notes\n- ",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}
