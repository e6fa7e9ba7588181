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
