use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A kubeconfig with contexts `a` and `b` on two servers; `current` is the current one.
fn kubeconfig(current: &str, token: &str) -> String {
    json!({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [
            {"name": "a", "cluster": {"server": "https://a.example:6443",
                "certificate-authority-data": "Q0EtQQ=="}},
            {"name": "b", "cluster": {"server": "https://b.example:6443",
                "certificate-authority-data": "Q0EtQg=="}},
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [
            {"name": "a", "context": {"cluster": "a", "user": "admin", "namespace": "team-a"}},
            {"name": "b", "context": {"cluster": "b", "user": "admin"}},
        ],
    })
    .to_string()
}

fn value<'a>(parts: &'a [(String, String)], name: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn the_current_context_decides_the_parts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config");
    std::fs::write(&path, kubeconfig("a", "t"))?;
    let on_a = cluster_key_parts(Some(&path), None);
    assert_eq!(value(&on_a, "kube:server"), Some("https://a.example:6443"));
    assert_eq!(value(&on_a, "kube:namespace"), Some("team-a"));
    assert_eq!(value(&on_a, "kube:ca"), Some("Q0EtQQ=="));
    std::fs::write(&path, kubeconfig("b", "t"))?;
    let on_b = cluster_key_parts(Some(&path), None);
    assert_eq!(value(&on_b, "kube:server"), Some("https://b.example:6443"));
    assert_ne!(on_a, on_b);
    // The context flag wins over the current context.
    assert_eq!(cluster_key_parts(Some(&path), Some("a")), on_a);
    Ok(())
}

#[test]
fn secrets_of_the_user_are_never_part_of_the_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config");
    std::fs::write(&path, kubeconfig("a", "s3cret-bearer-token"))?;
    let parts = cluster_key_parts(Some(&path), None);
    assert!(
        parts
            .iter()
            .all(|(_, v)| !v.contains("s3cret-bearer-token")),
        "{parts:?}"
    );
    assert_eq!(value(&parts, "kube:user"), Some("admin"));
    Ok(())
}

#[test]
fn a_ca_file_is_keyed_by_its_content() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config");
    let config = json!({
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://c", "certificate-authority": "ca.pem"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c"}}],
    });
    std::fs::write(&path, config.to_string())?;
    // Relative to the kubeconfig's folder, as kube reads it.
    std::fs::write(dir.path().join("ca.pem"), "first CA")?;
    let first = cluster_key_parts(Some(&path), None);
    std::fs::write(dir.path().join("ca.pem"), "second CA")?;
    assert_ne!(cluster_key_parts(Some(&path), None), first);
    Ok(())
}

#[test]
fn unusable_kubeconfigs_still_make_distinct_parts() {
    let parts = cluster_key_parts(Some(Path::new("/nonexistent/kubeconfig")), None);
    assert!(value(&parts, "kube:error").is_some(), "{parts:?}");
}

#[test]
fn only_cluster_dependent_identities_read_the_kubeconfig() {
    assert!(!depends_on_cluster(Provider::Aws, false));
    assert!(depends_on_cluster(Provider::Aws, true));
    assert!(depends_on_cluster(Provider::Generic, false));
}

#[test]
fn identity_variables_are_keyed_and_secrets_left_out() {
    let variables = [
        ("AZURE_CLIENT_ID", "client"),
        ("AZURE_CLIENT_SECRET", "hunter2"),
        ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "hunter3"),
        ("KUBECRED_AZURE_ACR_URL", "https://127.0.0.1:1"),
        ("AWS_SECRET_ACCESS_KEY", "hunter4"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/key.json"),
        ("HOME", "/root"),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    let kept = keyed_variables(variables.into_iter());
    let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "env:AZURE_CLIENT_ID",
            "env:GOOGLE_APPLICATION_CREDENTIALS",
            "env:KUBECRED_AZURE_ACR_URL"
        ]
    );
}
