use super::*;
use crate::lookalike::{self, Pattern};
use proptest::prelude::*;

const NUMBER: &str = "123456789000";
const PROJECT: &str = "example-project";
const EMAIL: &str = "flux@example-project.iam.gserviceaccount.com";
const ISSUER: &str = "https://oidc.example.com/cluster-a";
const POOL: &str = "kubecred-pool";
const PROVIDER: &str = "cluster-a";
const KEY: &str = "projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux";
const TOPIC: &str = "projects/example-project/topics/flux-events";
const REPOSITORY: &str = "europe-west1-docker.pkg.dev/example-project/flux-images";
const CLUSTER: &str = "projects/example-project/locations/europe-west1/clusters/fleet";
const GKE_PRINCIPAL: &str = "principal://iam.googleapis.com/projects/123456789000/locations/global/workloadIdentityPools/example-project.svc.id.goog/subject/ns/flux-system/sa/source-controller";
const POOL_PRINCIPAL: &str = "principal://iam.googleapis.com/projects/123456789000/locations/global/workloadIdentityPools/kubecred-pool/subject/system:serviceaccount:flux-system:source-controller";

fn gke() -> GcpFederation {
    GcpFederation::Gke {
        project_id: PROJECT.into(),
    }
}

fn pool() -> GcpFederation {
    GcpFederation::Pool {
        pool: POOL.into(),
        provider: PROVIDER.into(),
    }
}

fn request(
    purpose: Purpose,
    resource: &str,
    federation: GcpFederation,
    email: Option<&str>,
) -> PolicyRequest {
    PolicyRequest {
        purpose,
        resource: resource.into(),
        service_account: "flux-system/source-controller".into(),
        issuer: Some(ISSUER.into()),
        cloud: CloudOptions::Gcp {
            project_number: NUMBER.into(),
            federation,
            service_account: email.map(str::to_owned),
        },
    }
}

fn written(request: &PolicyRequest) -> Policy {
    policy(request).unwrap_or_else(|e| panic!("{request:?}: {e}"))
}

fn message(request: &PolicyRequest) -> String {
    policy(request)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "accepted".into())
}

/// The permission document of each purpose: the resource name and the role.
#[test]
fn each_purpose_binds_its_role_on_exactly_its_resource() {
    for (purpose, given, resource, role) in [
        (
            Purpose::Registry,
            REPOSITORY,
            "projects/example-project/locations/europe-west1/repositories/flux-images",
            "roles/artifactregistry.reader",
        ),
        (
            Purpose::Registry,
            "US-docker.pkg.dev:443/example-project/images",
            "projects/example-project/locations/us/repositories/images",
            "roles/artifactregistry.reader",
        ),
        (
            Purpose::Bucket,
            "gs://flux-artifacts",
            "projects/_/buckets/flux-artifacts",
            "roles/storage.objectViewer",
        ),
        (
            Purpose::Bucket,
            "gs://a.b_c-d/",
            "projects/_/buckets/a.b_c-d",
            "roles/storage.objectViewer",
        ),
        (
            Purpose::Kms,
            &format!("gcpkms://{KEY}"),
            KEY,
            "roles/cloudkms.cryptoKeyDecrypter",
        ),
        (Purpose::Kms, KEY, KEY, "roles/cloudkms.cryptoKeyDecrypter"),
        (
            Purpose::Cluster,
            CLUSTER,
            "projects/example-project",
            "roles/container.clusterViewer",
        ),
        (
            Purpose::Cluster,
            "projects/123456789012/locations/us-central1-a/clusters/c",
            "projects/123456789012",
            "roles/container.clusterViewer",
        ),
        (
            Purpose::Pubsub,
            &format!("pubsub://{TOPIC}"),
            TOPIC,
            "roles/pubsub.publisher",
        ),
        (Purpose::Pubsub, TOPIC, TOPIC, "roles/pubsub.publisher"),
    ] {
        for (federation, email, member) in [
            (gke(), None, GKE_PRINCIPAL.to_owned()),
            (pool(), None, POOL_PRINCIPAL.to_owned()),
            (gke(), Some(EMAIL), format!("serviceAccount:{EMAIL}")),
            (pool(), Some(EMAIL), format!("serviceAccount:{EMAIL}")),
        ] {
            let p = written(&request(purpose, given, federation, email));
            assert_eq!(p.provider, "gcp");
            assert_eq!(p.resource, given);
            assert_eq!(p.permissions.len(), 1);
            let d = &p.permissions[0];
            assert_eq!(d["kind"], "gcp_iam_member");
            assert_eq!(d["resource"], resource, "{given}");
            assert_eq!(d["role"], role);
            assert_eq!(d["member"], member.as_str());
            assert_eq!(d.len(), 4, "{d:?}");
            assert!(
                p.commands
                    .iter()
                    .any(|c| c.contains("add-iam-policy-binding"))
            );
            assert!(!p.notes.is_empty());
        }
    }
}

/// Pool federation with impersonation: the whole JSON, the commands and the Terraform.
#[test]
fn a_pool_policy_with_impersonation_is_complete() {
    let p = written(&request(
        Purpose::Bucket,
        "gs://flux-artifacts",
        pool(),
        Some(EMAIL),
    ));
    let json = p.json();
    let provider_name = "projects/123456789000/locations/global/workloadIdentityPools/kubecred-pool/providers/cluster-a";
    assert_eq!(
        json["identity"],
        json!({"principal": POOL_PRINCIPAL, "serviceAccount": EMAIL})
    );
    assert_eq!(
        json["trust"],
        json!([
            {
                "kind": "gcp_workload_identity_pool_provider",
                "projectNumber": NUMBER,
                "pool": POOL,
                "provider": PROVIDER,
                "issuerUri": ISSUER,
                "attributeMapping": {"google.subject": "assertion.sub"},
                "allowedAudiences": [format!("//iam.googleapis.com/{provider_name}")],
            },
            {
                "kind": "gcp_iam_member",
                "resource": format!("projects/-/serviceAccounts/{EMAIL}"),
                "role": "roles/iam.workloadIdentityUser",
                "member": POOL_PRINCIPAL,
            }
        ])
    );
    assert_eq!(
        json["annotations"],
        json!({
            "gcp.auth.fluxcd.io/workload-identity-provider": provider_name,
            "iam.gke.io/gcp-service-account": EMAIL,
        })
    );
    assert_eq!(json["for"], "bucket");
    assert_eq!(json["serviceAccount"], "flux-system/source-controller");
    assert!(json.get("terraform").is_none());
    assert_eq!(p.commands.len(), 4, "{:?}", p.commands);
    assert!(p.commands[0].starts_with("gcloud iam workload-identity-pools create kubecred-pool"));
    assert!(p.commands[1].contains("providers create-oidc cluster-a"));
    assert_eq!(
        p.commands[2],
        format!(
            "gcloud iam service-accounts add-iam-policy-binding {EMAIL} --member \
             {POOL_PRINCIPAL} --role roles/iam.workloadIdentityUser"
        )
    );
    assert_eq!(
        p.commands[3],
        format!(
            "gcloud storage buckets add-iam-policy-binding gs://flux-artifacts --member \
             serviceAccount:{EMAIL} --role roles/storage.objectViewer"
        )
    );
    let tf = &p.terraform["resource"];
    assert_eq!(
        tf["google_iam_workload_identity_pool_provider"]["kubecred"],
        json!({
            "project": NUMBER,
            "workload_identity_pool_id": POOL,
            "workload_identity_pool_provider_id": PROVIDER,
            "attribute_mapping": {"google.subject": "assertion.sub"},
            "oidc": {
                "issuer_uri": ISSUER,
                "allowed_audiences": [format!("//iam.googleapis.com/{provider_name}")],
            },
            "depends_on": ["google_iam_workload_identity_pool.kubecred"],
        })
    );
    assert_eq!(
        tf["google_service_account_iam_member"]["kubecred"],
        json!({
            "service_account_id": format!("projects/example-project/serviceAccounts/{EMAIL}"),
            "role": "roles/iam.workloadIdentityUser",
            "member": POOL_PRINCIPAL,
        })
    );
    assert_eq!(
        tf["google_storage_bucket_iam_member"]["kubecred"],
        json!({"bucket": "flux-artifacts", "role": "roles/storage.objectViewer", "member": format!("serviceAccount:{EMAIL}")})
    );
    assert!(p.terraform_text().starts_with("{\n  \"resource\""));
    assert!(p.commands_text().contains("# skip the pool's creation"));
}

/// GKE without impersonation: no trust document, no annotation, the principal is the member.
#[test]
fn gke_direct_needs_no_trust_document_and_no_annotation() {
    let mut r = request(Purpose::Pubsub, TOPIC, gke(), None);
    r.issuer = None;
    let p = written(&r);
    assert!(p.trust.is_empty());
    assert!(p.annotations.is_empty());
    assert_eq!(p.identity, json!({ "principal": GKE_PRINCIPAL }));
    assert_eq!(
        p.commands,
        [format!(
            "gcloud pubsub topics add-iam-policy-binding flux-events --project example-project \
             --member {GKE_PRINCIPAL} --role roles/pubsub.publisher"
        )]
    );
    assert_eq!(
        p.terraform,
        json!({"resource": {"google_pubsub_topic_iam_member": {"kubecred": {
            "project": PROJECT, "topic": "flux-events", "role": "roles/pubsub.publisher", "member": GKE_PRINCIPAL,
        }}}})
    );
    let with_sa = written(&request(Purpose::Pubsub, TOPIC, gke(), Some(EMAIL)));
    assert_eq!(with_sa.trust.len(), 1);
    assert_eq!(
        with_sa.annotations,
        BTreeMap::from([(
            "iam.gke.io/gcp-service-account".to_owned(),
            EMAIL.to_owned()
        )])
    );
}

#[test]
fn each_resource_has_its_terraform_type_and_gcloud_command() {
    for (purpose, given, kind, body, gcloud) in [
        (
            Purpose::Registry,
            REPOSITORY,
            "google_artifact_registry_repository_iam_member",
            json!({"project": PROJECT, "location": "europe-west1", "repository": "flux-images"}),
            "gcloud artifacts repositories add-iam-policy-binding flux-images --project example-project --location europe-west1",
        ),
        (
            Purpose::Kms,
            KEY,
            "google_kms_crypto_key_iam_member",
            json!({"crypto_key_id": KEY}),
            "gcloud kms keys add-iam-policy-binding flux --keyring sops --location europe-west1 --project example-project",
        ),
        (
            Purpose::Cluster,
            CLUSTER,
            "google_project_iam_member",
            json!({"project": PROJECT}),
            "gcloud projects add-iam-policy-binding example-project",
        ),
    ] {
        let p = written(&request(purpose, given, gke(), Some(EMAIL)));
        let tf = &p.terraform["resource"][kind]["kubecred"];
        for (key, value) in body.as_object().into_iter().flatten() {
            assert_eq!(&tf[key], value, "{kind}.{key}");
        }
        assert_eq!(tf["member"], format!("serviceAccount:{EMAIL}"));
        assert!(
            p.commands.iter().any(|c| c.starts_with(gcloud)),
            "{:?}",
            p.commands
        );
    }
}

#[test]
fn other_clouds_purposes_are_refused_naming_the_cloud() {
    for (purpose, names) in [
        (Purpose::Git, "CodeCommit"),
        (Purpose::Eventhub, "azure"),
        (Purpose::Sqs, "aws"),
    ] {
        let text = message(&request(purpose, "anything", gke(), None));
        assert!(
            text.starts_with(&format!("gcp has no '{}' integration", purpose.name())),
            "{text}"
        );
        assert!(text.contains(names), "{text}");
    }
}

#[test]
fn a_pool_needs_the_issuer_and_checks_it() {
    let mut r = request(Purpose::Bucket, "gs://b-1", pool(), None);
    r.issuer = None;
    assert!(
        message(&r).contains("issuer is required"),
        "{}",
        message(&r)
    );
    r.issuer = Some("http://oidc.example.com".into());
    assert!(
        message(&r).contains("not an https:// URL"),
        "{}",
        message(&r)
    );
    r.issuer = Some(format!("{ISSUER}\n"));
    assert!(
        message(&r).contains("control characters"),
        "{}",
        message(&r)
    );
}

/// Terraform's JSON syntax reads `${` and `%{` in strings as templates: every value is escaped.
#[test]
fn terraform_strings_are_literals() {
    assert_eq!(
        literal(json!({"a": ["${x}", "%{if}"], "b": 1, "c": "$x %x"})),
        json!({"a": ["$${x}", "%%{if}"], "b": 1, "c": "$x %x"})
    );
    let mut r = request(Purpose::Bucket, "gs://b-1", pool(), None);
    // An issuer URL may hold `${` (kubecred takes it exactly as the tokens carry it).
    r.issuer = Some("https://oidc.example.com/a${x}%{y}".into());
    let p = written(&r);
    let provider = &p.terraform["resource"]["google_iam_workload_identity_pool_provider"];
    assert_eq!(
        provider["kubecred"]["oidc"]["issuer_uri"],
        "https://oidc.example.com/a$${x}%%{y}"
    );
    assert_eq!(
        p.trust[0]["issuerUri"],
        "https://oidc.example.com/a${x}%{y}"
    );
}

/// The identity inputs: project number, GKE project id, pool and provider ids, email,
/// ServiceAccount; each refusal names its field.
#[test]
fn invalid_identity_inputs_are_refused_naming_the_field() {
    let cloud = |number: &str, federation: GcpFederation, email: Option<&str>| PolicyRequest {
        cloud: CloudOptions::Gcp {
            project_number: number.into(),
            federation,
            service_account: email.map(str::to_owned),
        },
        ..request(Purpose::Bucket, "gs://b-1", gke(), None)
    };
    let pool_of = |pool: &str, provider: &str| GcpFederation::Pool {
        pool: pool.into(),
        provider: provider.into(),
    };
    let project = |id: &str| GcpFederation::Gke {
        project_id: id.into(),
    };
    for number in [
        "",
        "12a",
        "1 2",
        "123\n",
        "١٢٣",
        "-1",
        "1234567890123456789012345678901",
    ] {
        let text = message(&cloud(number, gke(), None));
        assert!(text.contains("GCP project number"), "{number:?}: {text}");
    }
    for id in [
        "",
        "Example-project",
        "example-project-",
        "1example",
        "short",
        "example.project",
        "example-project\0",
        "exаmple-project",
        "example-project ",
        "example-project.",
    ] {
        let text = message(&cloud(NUMBER, project(id), None));
        assert!(text.contains("invalid GCP project id"), "{id:?}: {text}");
    }
    for (pool, provider, field) in [
        ("Pool-a", PROVIDER, "pool ID"),
        ("abc", PROVIDER, "pool ID"),
        ("pool/a", PROVIDER, "pool ID"),
        ("pool a", PROVIDER, "pool ID"),
        ("poöl", PROVIDER, "pool ID"),
        (POOL, "cluster-a\n", "provider ID"),
        (POOL, "../x", "provider ID"),
        (POOL, &"p".repeat(33), "provider ID"),
    ] {
        let text = message(&cloud(NUMBER, pool_of(pool, provider), None));
        assert!(text.contains(field), "{pool:?} {provider:?}: {text}");
    }
    for email in [
        "",
        "flux",
        "flux@example-project.iam.gserviceaccount.com.evil.example",
        "flux@example-project.iam.gserviceaccount.com.",
        "flux@example-project.iam.gserviceaccount.com\n",
        "fl ux@example-project.iam.gserviceaccount.com",
        "flüx@example-project.iam.gserviceaccount.com",
        "flux@example-project.iam.gserviceaccount.com\0",
        "123-compute@developer.gserviceaccount.com",
    ] {
        let text = message(&cloud(NUMBER, gke(), Some(email)));
        assert!(
            text.contains("iam.gke.io/gcp-service-account"),
            "{email:?}: {text}"
        );
    }
    for account in [
        "flux-system",
        "Flux/app",
        "flux-system/app\n",
        "ns/a/b",
        "/app",
    ] {
        let mut r = request(Purpose::Bucket, "gs://b-1", gke(), None);
        r.service_account = account.into();
        assert!(policy(&r).is_err(), "{account:?}");
    }
}

/// Look-alikes of each resource form: refused, and the error names the resource's field.
#[test]
fn lookalike_resources_are_refused() {
    let key = |k: &str| format!("gcpkms://{k}");
    for (purpose, given, field) in [
        (Purpose::Bucket, "gs://b/../x".to_owned(), "bucket"),
        (Purpose::Bucket, "gs://flux-artifacts/x".into(), "bucket"),
        (Purpose::Bucket, "gs://Flux-Artifacts".into(), "bucket"),
        (Purpose::Bucket, "gs://flux-artifacts.".into(), "bucket"),
        (Purpose::Bucket, "gs://flux-artifacts\n".into(), "bucket"),
        (Purpose::Bucket, "gs://flux-artifacts\0".into(), "bucket"),
        (Purpose::Bucket, " gs://flux-artifacts".into(), "bucket"),
        (Purpose::Bucket, "gs://flux artifacts".into(), "bucket"),
        (Purpose::Bucket, "gs://flüx-artifacts".into(), "bucket"),
        (Purpose::Bucket, "gs://flux-artifacts?x=1".into(), "bucket"),
        (Purpose::Bucket, "GS://flux-artifacts".into(), "bucket"),
        (Purpose::Bucket, "flux-artifacts".into(), "bucket"),
        (Purpose::Bucket, "gs://goog-x".into(), "bucket"),
        (Purpose::Bucket, "gs://10.0.0.1".into(), "bucket"),
        (Purpose::Bucket, format!("pubsub://{TOPIC}"), "bucket"),
        (
            Purpose::Kms,
            key(&format!("{KEY}/cryptoKeyVersions/1")),
            "KMS key",
        ),
        (Purpose::Kms, key(&format!("{KEY}/")), "KMS key"),
        (Purpose::Kms, key(&format!("{KEY}\n")), "KMS key"),
        (
            Purpose::Kms,
            key(&KEY.replace("projects/example-project", "projects/..")),
            "KMS key",
        ),
        (Purpose::Kms, key(&KEY.replace("sops", "so ps")), "KMS key"),
        (Purpose::Kms, key(&KEY.replace("sops", "sоps")), "KMS key"),
        (
            Purpose::Kms,
            KEY.replace("europe-west1", "Europe-west1"),
            "KMS key",
        ),
        (Purpose::Kms, format!("kms://{KEY}"), "KMS key"),
        (Purpose::Kms, format!("GCPKMS://{KEY}"), "KMS key"),
        (Purpose::Kms, format!("/{KEY}"), "KMS key"),
        (Purpose::Kms, "gs://flux-artifacts".into(), "KMS key"),
        (
            Purpose::Pubsub,
            format!("pubsub://{TOPIC}/x"),
            "Pub/Sub topic",
        ),
        (
            Purpose::Pubsub,
            format!("pubsub://{TOPIC}\0"),
            "Pub/Sub topic",
        ),
        (Purpose::Pubsub, format!("{TOPIC} "), "Pub/Sub topic"),
        (
            Purpose::Pubsub,
            TOPIC.replace("flux-events", "goog-events"),
            "Pub/Sub topic",
        ),
        (
            Purpose::Pubsub,
            TOPIC.replace("flux-events", "a%2Fb"),
            "Pub/Sub topic",
        ),
        (
            Purpose::Pubsub,
            TOPIC.replace("flux-events", "flüx"),
            "Pub/Sub topic",
        ),
        (
            Purpose::Pubsub,
            TOPIC.replace("topics", "subscriptions"),
            "Pub/Sub topic",
        ),
        (
            Purpose::Pubsub,
            TOPIC.replace("example-project", "Example-project"),
            "Pub/Sub topic",
        ),
        (Purpose::Cluster, format!("{CLUSTER}/"), "GKE cluster ID"),
        (
            Purpose::Cluster,
            CLUSTER.replace("fleet", "Fleet"),
            "GKE cluster ID",
        ),
        (
            Purpose::Cluster,
            CLUSTER.replace("fleet", "../x"),
            "GKE cluster ID",
        ),
        (Purpose::Cluster, format!("{CLUSTER}\n"), "GKE cluster ID"),
        (
            Purpose::Cluster,
            format!("//container.googleapis.com/{CLUSTER}"),
            "GKE cluster ID",
        ),
        (
            Purpose::Cluster,
            CLUSTER.replace("fleet", "fleеt"),
            "GKE cluster ID",
        ),
        (
            Purpose::Registry,
            "europe-west1-docker.pkg.dev.evil.com/p-roject/r".into(),
            "registry",
        ),
        (
            Purpose::Registry,
            "europe-west1-docker.pkg.dev.evil.com/example-project/r".into(),
            "registry",
        ),
        (
            Purpose::Registry,
            "evil.com/europe-west1-docker.pkg.dev/example-project/r".into(),
            "registry",
        ),
        (Purpose::Registry, format!("{REPOSITORY}/image"), "registry"),
        (Purpose::Registry, format!("{REPOSITORY}/"), "registry"),
        (
            Purpose::Registry,
            format!("https://{REPOSITORY}"),
            "registry",
        ),
        (Purpose::Registry, format!("{REPOSITORY}\n"), "registry"),
        (
            Purpose::Registry,
            REPOSITORY.replace("flux-images", "Flux-Images"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("flux-images", "flux-images-"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("flux-images", "flux_images"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("example-project", "Example-project"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("example-project", "example.com:p"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("docker.pkg.dev", "docker.pkg.dev."),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace("docker.pkg.dev", "docker.pkg.dev:8443"),
            "registry",
        ),
        (
            Purpose::Registry,
            REPOSITORY.replace(".pkg.", "\u{3002}pkg."),
            "registry",
        ),
        (
            Purpose::Registry,
            "gcr.io/example-project/flux-images".into(),
            "Container Registry",
        ),
        (
            Purpose::Registry,
            "a@europe-west1-docker.pkg.dev/example-project/r".into(),
            "registry",
        ),
        (Purpose::Registry, "".into(), "registry"),
    ] {
        let text = message(&request(purpose, &given, gke(), None));
        assert!(text.contains(field), "{given:?}: {text}");
        assert!(!text.contains('\n') && !text.contains('\0'), "{text:?}");
    }
}

fn registry_location(host: &str) -> Option<String> {
    match Resource::parse(Purpose::Registry, &format!("{host}/example-project/images")) {
        Ok(Resource::Repository { location, .. }) => Some(location),
        _ => None,
    }
}

const GAR_REGIONAL: Pattern = Pattern {
    name: "policy registry repositories, regional hosts",
    valid: &[
        "europe-west1-docker.pkg.dev",
        "northamerica-northeast1-docker.pkg.dev",
    ],
    accept: registry_location,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: true,
};

const GAR_MULTI_REGION: Pattern = Pattern {
    name: "policy registry repositories, multi-region hosts",
    valid: &[
        "us-docker.pkg.dev",
        "europe-docker.pkg.dev",
        "asia-docker.pkg.dev",
    ],
    accept: registry_location,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: false,
};

#[test]
fn registry_hosts_resist_the_lookalike_table() {
    lookalike::assert_tricks_refused(&GAR_REGIONAL);
    lookalike::assert_tricks_refused(&GAR_MULTI_REGION);
}

/// The argument lists of the commands, as a shell would split them.
fn argv(p: &Policy) -> Vec<Vec<String>> {
    p.commands
        .iter()
        .map(|c| shlex::split(c).unwrap_or_default())
        .collect()
}

/// What an accepted resource must show: the permission document's resource name, and that the
/// last command (the grant) splits back into arguments holding the member.
fn round_trips(p: &Policy, name: &str) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(&p.permissions[0]["resource"], name);
    let member = p.permissions[0]["member"].as_str().unwrap_or_default();
    let args = argv(p);
    prop_assert!(args.last().is_some_and(|a| a.iter().any(|x| x == member)));
    let quoted = format!("\"{member}\"");
    prop_assert!(p.terraform_text().contains(&quoted));
    Ok(())
}

fn any_federation() -> impl Strategy<Value = (GcpFederation, Option<&'static str>)> {
    (any::<bool>(), any::<bool>()).prop_map(|(on_gke, impersonate)| {
        let federation = if on_gke { gke() } else { pool() };
        (federation, impersonate.then_some(EMAIL))
    })
}

proptest! {
    /// No input panics any parser; whatever is accepted is plain printable ASCII in the
    /// documents.
    #[test]
    fn no_resource_panics(purpose in 0usize..5, text in "\\PC{0,120}|[ -~]{0,120}") {
        let purpose = [Purpose::Registry, Purpose::Bucket, Purpose::Kms, Purpose::Cluster, Purpose::Pubsub][purpose];
        if let Ok(p) = policy(&request(purpose, &text, gke(), None)) {
            let name = p.permissions[0]["resource"].as_str().unwrap_or_default().to_owned();
            prop_assert!(name.bytes().all(|b| b.is_ascii_graphic()), "{name:?}");
            prop_assert!(!name.contains(".."), "{name:?}");
        }
    }

    #[test]
    fn buckets_round_trip(bucket in "[a-z0-9][a-z0-9_.-]{1,40}[a-z0-9]", slash in any::<bool>(), (f, e) in any_federation()) {
        let given = format!("gs://{bucket}{}", if slash { "/" } else { "" });
        if let Ok(p) = policy(&request(Purpose::Bucket, &given, f, e)) {
            round_trips(&p, &format!("projects/_/buckets/{bucket}"))?;
            let url = format!("gs://{bucket}");
            prop_assert!(argv(&p).last().is_some_and(|a| a.contains(&url)));
        } else {
            prop_assert!(bucket.contains("..") || bucket.contains(".-") || bucket.contains("-.")
                || bucket.contains("._") || bucket.contains("_.") || bucket.starts_with("goog")
                || bucket.len() > 63 && !bucket.contains('.')
                || bucket.parse::<std::net::Ipv4Addr>().is_ok()
                || bucket.split('.').any(|c| c.len() > 63), "{bucket} refused");
        }
    }

    #[test]
    fn keys_round_trip(
        project in "[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}",
        location in "[a-z][a-z0-9-]{0,20}",
        ring in "[A-Za-z0-9_-]{1,63}",
        key in "[A-Za-z0-9_-]{1,63}",
        scheme in any::<bool>(),
        (f, e) in any_federation(),
    ) {
        let name = format!("projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{key}");
        let given = if scheme { format!("gcpkms://{name}") } else { name.clone() };
        let p = policy(&request(Purpose::Kms, &given, f, e));
        prop_assert!(p.is_ok(), "{given}: {:?}", p.err());
        let p = p.unwrap_or_else(|_| unreachable!());
        round_trips(&p, &name)?;
        let grant = argv(&p).pop().unwrap_or_default();
        prop_assert_eq!(&grant[4..11], &[key, "--keyring".into(), ring, "--location".into(), location, "--project".into(), project][..]);
    }

    #[test]
    fn topics_round_trip(
        project in "[a-z][a-z0-9-]{4,28}[a-z0-9]",
        topic in "[A-Za-z][A-Za-z0-9._~+-]{2,60}",
        scheme in any::<bool>(),
        (f, e) in any_federation(),
    ) {
        let name = format!("projects/{project}/topics/{topic}");
        let given = if scheme { format!("pubsub://{name}") } else { name.clone() };
        match policy(&request(Purpose::Pubsub, &given, f, e)) {
            Ok(p) => {
                round_trips(&p, &name)?;
                prop_assert_eq!(&p.terraform["resource"]["google_pubsub_topic_iam_member"]["kubecred"]["topic"], topic.as_str());
            }
            Err(_) => prop_assert!(topic.starts_with("goog"), "{given} refused"),
        }
    }

    #[test]
    fn clusters_round_trip(
        project in "[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20}",
        location in "[a-z]{2,10}-[a-z]{2,10}[0-9](-[a-z])?",
        cluster in "[a-z]([a-z0-9-]{0,38}[a-z0-9])?",
        (f, e) in any_federation(),
    ) {
        let given = format!("projects/{project}/locations/{location}/clusters/{cluster}");
        let p = policy(&request(Purpose::Cluster, &given, f, e));
        prop_assert!(p.is_ok(), "{given}: {:?}", p.err());
        let p = p.unwrap_or_else(|_| unreachable!());
        round_trips(&p, &format!("projects/{project}"))?;
    }

    #[test]
    fn repositories_round_trip(
        location in "us|europe|asia|[a-z]{2,12}-[a-z]{2,12}[0-9]{1,2}",
        project in "[a-z][a-z0-9-]{4,28}[a-z0-9]",
        repository in "[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
        (f, e) in any_federation(),
    ) {
        let given = format!("{location}-docker.pkg.dev/{project}/{repository}");
        let p = policy(&request(Purpose::Registry, &given, f, e));
        prop_assert!(p.is_ok(), "{given}: {:?}", p.err());
        let p = p.unwrap_or_else(|_| unreachable!());
        round_trips(&p, &format!("projects/{project}/locations/{location}/repositories/{repository}"))?;
    }

    /// A valid registry host with any label added before or after names no repository.
    #[test]
    fn registry_hosts_take_no_extra_label(index in 0usize..8, label in lookalike::LABEL) {
        let result = lookalike::extra_label_refused(&GAR_REGIONAL, index, &label)
            .and_then(|()| lookalike::extra_label_refused(&GAR_MULTI_REGION, index, &label));
        prop_assert!(result.is_ok(), "{:?}", result);
    }

    /// Any identity inputs: no panic; accepted ones appear verbatim in the documents.
    #[test]
    fn identity_inputs_round_trip(
        number in "[0-9]{1,30}|\\PC{0,12}",
        pool in "[a-z0-9-]{4,32}|\\PC{0,12}",
        provider in "[a-z0-9-]{4,32}",
        email in "[a-zA-Z0-9-]{1,30}@[a-z][a-z0-9-]{4,28}[a-z0-9]\\.iam\\.gserviceaccount\\.com|\\PC{0,40}",
        namespace in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        name in "[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?",
    ) {
        let mut r = request(Purpose::Kms, KEY, GcpFederation::Pool { pool: pool.clone(), provider: provider.clone() }, Some(&email));
        r.service_account = format!("{namespace}/{name}");
        if let CloudOptions::Gcp { project_number, .. } = &mut r.cloud {
            *project_number = number.clone();
        }
        if let Ok(p) = policy(&r) {
            let principal = format!("principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}/subject/system:serviceaccount:{namespace}:{name}");
            prop_assert_eq!(&p.identity["principal"], principal.as_str());
            prop_assert_eq!(&p.trust[0]["projectNumber"], number.as_str());
            prop_assert_eq!(&p.trust[0]["pool"], pool.as_str());
            prop_assert_eq!(&p.trust[0]["provider"], provider.as_str());
            let resource = format!("projects/-/serviceAccounts/{email}");
            prop_assert_eq!(&p.trust[1]["resource"], resource.as_str());
            prop_assert_eq!(&p.trust[1]["member"], principal.as_str());
            let member = format!("serviceAccount:{email}");
            prop_assert_eq!(&p.permissions[0]["member"], member.as_str());
            let args = argv(&p);
            prop_assert!(args[2].contains(&email) && args[2].contains(&principal), "{:?}", args[2]);
        }
    }
}
