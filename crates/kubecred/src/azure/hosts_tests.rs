use super::*;
use crate::lookalike::{self, Pattern};

fn accept(host: &str) -> Option<String> {
    registry(host).ok().map(|r| format!("{r:?}"))
}

/// ACR hosts: the first label is the registry's own name (gluing letters before it names
/// another registry of Azure's), the suffix is closed.
const ACR: Pattern = Pattern {
    name: "ACR hosts",
    valid: &[
        "myregistry.azurecr.io",
        "contoso2024.azurecr.cn",
        "fabrikam.azurecr.us",
    ],
    accept,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: true,
};

#[test]
fn registries_name_their_cloud() {
    for (host, name, cloud) in [
        ("myregistry.azurecr.io", "myregistry", AzureCloud::Public),
        ("MyRegistry.AzureCR.io", "myregistry", AzureCloud::Public),
        (
            "myregistry.azurecr.io:443",
            "myregistry",
            AzureCloud::Public,
        ),
        ("contoso.azurecr.cn", "contoso", AzureCloud::China),
        ("fabrikam.azurecr.us", "fabrikam", AzureCloud::Government),
    ] {
        let parsed = registry(host).ok();
        assert_eq!(
            parsed.as_ref().map(|r| (r.name.as_str(), r.cloud)),
            Some((name, cloud)),
            "{host}"
        );
        assert_eq!(
            parsed.map(|r| r.host()),
            Some(
                host.to_ascii_lowercase()
                    .trim_end_matches(":443")
                    .to_owned()
            )
        );
    }
}

/// The reference's `^.+\.(azurecr\.io|...)$` accepted each of these; a token must reach none.
#[test]
fn look_alikes_of_the_reference_pattern_are_refused() {
    for host in [
        "evil.example/myregistry.azurecr.io",
        "a@myregistry.azurecr.io",
        "x.evil.azurecr.io",
        "my-registry.azurecr.io",
        "abcd.azurecr.io",
        "myregistry.azurecr.de",
        "myregistry.azurecr.io.evil.example",
        "myregistry.azurecr.iox",
        "myregistry.privatelink.azurecr.io",
        "myregistry.westeurope.data.azurecr.io",
        &format!("{}.azurecr.io", "a".repeat(51)),
    ] {
        assert_eq!(accept(host), None, "{host}");
    }
    let message = registry("gcr.io")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.starts_with("invalid Azure registry: \"gcr.io\". expected <registry>.azurecr.io"),
        "{message}"
    );
}

/// §4.3 `ParseArtifactRepository`'s vectors (the registry part; the path is split off before).
/// The reference's `foo` is not an ACR name (5 to 50 letters and digits), so its accepted rows
/// are written with `fooregistry`; `azurecr.de` (Azure Germany) was retired.
#[test]
fn registries_of_the_reference_vectors() {
    let fifty = format!("{}.azurecr.io", "a".repeat(50));
    for (host, cloud) in [
        ("fooregistry.azurecr.io", AzureCloud::Public),
        ("fooregistry.azurecr.cn", AzureCloud::China),
        ("fooregistry.azurecr.us", AzureCloud::Government),
        ("FOOREGISTRY.AZURECR.IO", AzureCloud::Public),
        ("fooregistry.azurecr.io:443", AzureCloud::Public),
        (fifty.as_str(), AzureCloud::Public),
        ("abcde.azurecr.io", AzureCloud::Public),
    ] {
        assert_eq!(registry(host).map(|r| r.cloud).ok(), Some(cloud), "{host}");
    }
    for host in [
        "foo.azurecr.io",
        "fooregistry.azurecr.de",
        "foo.azurecr.com",
        "fooregistry.azurecr.com",
        ".azurecr.io",
        "azurecr.io",
        "012345678901.dkr.ecr.us-east-1.amazonaws.com",
        "fooregistry.azurecr.io/repo",
        "fooregistry.azurecr.io:5000",
        "fooregistry.azurecr.io:443x",
        "https://fooregistry.azurecr.io",
        "fooregistry.azurecr.private",
        "foo_registry.azurecr.io",
        "fooregistry .azurecr.io",
        "fooregistry.azurecr.io\n",
        "",
    ] {
        let error = registry(host)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(&format!("invalid Azure registry: {host:?}. expected ")),
            "{host:?}: {error}"
        );
    }
}

#[test]
fn acr_hosts_refuse_every_trick() {
    lookalike::assert_tricks_refused(&ACR);
}

proptest::proptest! {
    #[test]
    fn no_label_added_to_an_acr_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&ACR, index, &label)
            .map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn registry_parser_never_panics(input in "\\PC{0,300}") {
        let _ = registry(&input);
    }
}

fn devops(host: &str) -> Option<String> {
    let name = dns_name(host)?;
    git_host(&name).then_some(name)
}

/// A private cloud's registries under the suffix of the reference's vector (`azurecr.private`).
fn private(host: &str) -> Option<String> {
    let name = dns_name(host)?;
    private_registry(&name, "azurecr.private").map(|r| format!("{r:?}"))
}

const DEV_AZURE: Pattern = Pattern {
    name: "Azure DevOps",
    valid: &["dev.azure.com"],
    accept: devops,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: false,
};

const VISUAL_STUDIO: Pattern = Pattern {
    name: "Azure DevOps organisations",
    valid: &["contoso.visualstudio.com", "a-1.visualstudio.com"],
    accept: devops,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: true,
};

const PRIVATE_ACR: Pattern = Pattern {
    name: "private-cloud ACR hosts",
    valid: &["myregistry.azurecr.private"],
    accept: private,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: true,
};

#[test]
fn devops_hosts_are_exact() {
    for (host, ok) in [
        ("dev.azure.com", true),
        ("DEV.Azure.com", true),
        ("contoso.visualstudio.com", true),
        ("a-1.visualstudio.com", true),
        ("visualstudio.com", false),
        ("a.contoso.visualstudio.com", false),
        ("-a.visualstudio.com", false),
        ("a-.visualstudio.com", false),
        ("ssh.dev.azure.com", false),
        ("dev.azure.com.evil.example", false),
        ("evil.example/dev.azure.com", false),
        ("u@dev.azure.com", false),
    ] {
        assert_eq!(devops(host).is_some(), ok, "{host}");
    }
}

/// The reference's `HasSuffix(registry, suffix)` took `evilazurecr.private` and
/// `x.y.azurecr.private`; here the name is one ACR label before `.<suffix>`.
#[test]
fn private_registries_are_one_label_before_the_suffix() {
    assert_eq!(
        dns_name("foo12.azurecr.private").and_then(|n| private_registry(&n, "azurecr.private")),
        Some(AcrRegistry {
            name: "foo12".into(),
            cloud: AzureCloud::Private,
            suffix: "azurecr.private".into()
        })
    );
    for host in [
        "evilazurecr.private",
        "x.myregistry.azurecr.private",
        "abcd.azurecr.private",
        "my-registry.azurecr.private",
        "myregistry.azurecr.pr",
        "myregistry.azurecr.private.evil.example",
        "azurecr.private",
        ".azurecr.private",
    ] {
        assert_eq!(private(host), None, "{host}");
    }
}

#[test]
fn devops_and_private_hosts_refuse_every_trick() {
    for pattern in [&DEV_AZURE, &VISUAL_STUDIO, &PRIVATE_ACR] {
        lookalike::assert_tricks_refused(pattern);
    }
}

proptest::proptest! {
    #[test]
    fn no_label_added_to_a_devops_or_private_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        for pattern in [&DEV_AZURE, &VISUAL_STUDIO, &PRIVATE_ACR] {
            lookalike::extra_label_refused(pattern, index, &label)
                .map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }

    #[test]
    fn private_registry_never_panics(input in "\\PC{0,300}", suffix in "[a-z.]{0,20}") {
        let _ = private_registry(&input, &suffix);
    }
}
