//! `kubecred cluster kubeconfig`: a kubeconfig for a remote cluster (EKS or any cluster that
//! trusts this cluster's issuer) whose user is an exec credential plugin running
//! `kubecred cluster credentials` with the same identity, as aws-iam-authenticator and
//! kubelogin users know it. `--from-configmap` takes the remote-cluster ConfigMap format.

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::ValueEnum;
use kubecred::Provider;
use kubecred::cluster::{self, AddressOrigin, ClusterRef, ConfigMapCluster};
use serde_json::{Value, json};

use crate::UsageError;
use crate::args::{ClusterKubeconfigArgs, IdentityArgs, PurposeArg};
use crate::request::{connect, prepare};

pub async fn write(mut args: ClusterKubeconfigArgs) -> anyhow::Result<()> {
    let from_map = match &args.from_configmap {
        Some(reference) => {
            Some(config_map(&args.identity, reference, args.trust_configmap_address).await?)
        }
        None => None,
    };
    let (provider, cluster) = target(&args, from_map.as_ref().map(|(_, map)| map))?;
    if let Some((namespace, map)) = &from_map {
        // The ConfigMap's namespace is the object's: its ServiceAccount is read there.
        args.identity.namespace = Some(namespace.clone());
        apply_config_map(&mut args.identity, map);
    }
    let (engine, request) = prepare(&args.identity, provider).await?;
    let access = cluster::credentials(&engine, &cluster, &request)
        .await
        .context("getting cluster credentials")?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(&cluster, &access.server));
    let exec_args = exec_args(
        provider,
        &cluster,
        &access.server,
        &args.identity,
        request.namespace.as_deref(),
    );
    let command = match &args.exec_command {
        Some(command) => command.clone(),
        None => std::env::current_exe()
            .context("finding this binary's path")?
            .display()
            .to_string(),
    };
    let kubeconfig = document(
        &name,
        &access.server,
        access.ca_data.as_deref(),
        &command,
        exec_args,
    );
    let text = serde_json::to_string_pretty(&kubeconfig)?;
    match &args.output {
        // 0600 (it names credentials sources), atomically, never through a planted file.
        Some(path) => {
            kubecred::fs::write_private(path, text.as_bytes()).context("writing the kubeconfig")
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// The ConfigMap named `[NS/]NAME`, read in the object's namespace; its address is the
/// tenant's unless `trust_address`.
async fn config_map(
    identity: &IdentityArgs,
    reference: &str,
    trust_address: bool,
) -> anyhow::Result<(String, ConfigMapCluster)> {
    let kubernetes = connect(identity).await?;
    let (namespace, name) = match reference.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (
            identity
                .namespace
                .clone()
                .unwrap_or_else(|| kubernetes.default_namespace().to_owned()),
            reference.to_owned(),
        ),
    };
    if identity
        .namespace
        .as_deref()
        .is_some_and(|flag| flag != namespace)
    {
        return Err(UsageError(format!(
            "--from-configmap names namespace '{namespace}' but --namespace differs"
        ))
        .into());
    }
    let data = kubernetes
        .config_map_data(&namespace, &name)
        .await
        .with_context(|| format!("reading ConfigMap {namespace}/{name}"))?;
    let map = cluster::from_config_map(&data)?;
    Ok((
        namespace,
        if trust_address {
            map.trust_address()
        } else {
            map
        },
    ))
}

/// ConfigMap values override the flags for the same field, as in the reference.
fn apply_config_map(identity: &mut IdentityArgs, map: &ConfigMapCluster) {
    if let Some(audiences) = &map.audiences {
        identity.audiences = audiences.clone();
    }
    if let Some(name) = &map.service_account_name {
        identity.service_account = Some(name.clone());
    }
}

fn target(
    args: &ClusterKubeconfigArgs,
    map: Option<&ConfigMapCluster>,
) -> anyhow::Result<(Provider, ClusterRef)> {
    let flag_provider = args
        .provider
        .as_deref()
        .map(str::parse::<Provider>)
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    let ca_data = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading the CA file {}", path.display()))?,
        ),
        None => None,
    };
    let flags = ClusterRef {
        cluster: args.cluster.clone(),
        address: args.address.clone(),
        ca_data,
        address_origin: AddressOrigin::Caller,
    };
    match (map, flag_provider) {
        (Some(map), _) => Ok((
            map.provider,
            ClusterRef {
                cluster: map.cluster.cluster.clone().or(flags.cluster),
                // --address fills in for a ConfigMap without one: then it is the caller's.
                address_origin: match map.cluster.address {
                    Some(_) => map.cluster.address_origin,
                    None => AddressOrigin::Caller,
                },
                address: map.cluster.address.clone().or(flags.address),
                ca_data: map.cluster.ca_data.clone().or(flags.ca_data),
            },
        )),
        (None, Some(provider)) => Ok((provider, flags)),
        (None, None) => bail!(UsageError(
            "name the provider with --provider, or use --from-configmap".into()
        )),
    }
}

/// The `cluster credentials` arguments that reproduce this identity.
fn exec_args(
    provider: Provider,
    cluster: &ClusterRef,
    server: &str,
    identity: &IdentityArgs,
    namespace: Option<&str>,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "cluster".into(),
        "credentials".into(),
        "--provider".into(),
        provider.to_string(),
    ];
    let mut flag = |name: &str, value: &str| args.extend([format!("--{name}"), value.to_owned()]);
    if let Some(arn) = &cluster.cluster {
        flag("cluster", arn);
    }
    flag("address", server);
    let (account, secret) = (&identity.service_account, &identity.secret);
    let lockdown = lockdown_flags(identity);
    let named = account.is_some() || secret.is_some() || !lockdown.is_empty();
    if let (Some(ns), true) = (namespace, named) {
        flag("namespace", ns);
    }
    for (name, value) in lockdown {
        flag(name, &value);
    }
    for (name, value) in [
        ("service-account", account),
        ("secret", secret),
        ("region", &identity.region),
        ("sts-endpoint", &identity.sts_endpoint),
        ("external-id", &identity.external_id),
        ("context", &identity.context),
    ] {
        if let Some(value) = value {
            flag(name, value);
        }
    }
    if let Some(path) = &identity.kubeconfig {
        flag("kubeconfig", &path.display().to_string());
    }
    // The exec plugin's cloud calls go through the same proxy (the file is written 0600: a
    // password in the URL stays as private as the kubeconfig's other credentials).
    if let Some(proxy) = &identity.proxy {
        flag("proxy", proxy.as_str());
    }
    for role in &identity.assume_roles {
        flag("assume-role", role);
    }
    for audience in &identity.audiences {
        flag("audience", audience);
    }
    if identity.node {
        args.push("--node".into());
    }
    args
}

/// The policy flags (gates, lockdown defaults, purpose) the exec plugin needs to resolve the
/// same identity: under lockdown, an object naming no ServiceAccount is forced onto the default
/// one, never the caller's own identity.
fn lockdown_flags(identity: &IdentityArgs) -> Vec<(&'static str, String)> {
    let mut flags: Vec<(&'static str, String)> = [
        ("feature-gates", &identity.feature_gates),
        ("default-service-account", &identity.default_service_account),
        (
            "default-kubeconfig-service-account",
            &identity.default_kubeconfig_service_account,
        ),
        (
            "default-decryption-service-account",
            &identity.default_decryption_service_account,
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
    .collect();
    if identity.purpose != PurposeArg::General {
        let purpose = identity.purpose.to_possible_value();
        flags.extend(purpose.map(|p| ("purpose", p.get_name().to_owned())));
    }
    flags
}

fn default_name(cluster: &ClusterRef, server: &str) -> String {
    let from_arn = cluster
        .cluster
        .as_deref()
        .and_then(|arn| arn.rsplit('/').next());
    let from_server = || {
        server
            .trim_start_matches("https://")
            .split([':', '/'])
            .next()
            .unwrap_or("cluster")
    };
    from_arn.unwrap_or_else(from_server).to_owned()
}

/// The kubeconfig document (JSON, which kubectl and every client read as YAML).
fn document(
    name: &str,
    server: &str,
    ca: Option<&[u8]>,
    command: &str,
    args: Vec<String>,
) -> Value {
    let mut cluster = json!({ "server": server });
    if let Some(ca) = ca {
        cluster["certificate-authority-data"] = STANDARD.encode(ca).into();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": name, "cluster": cluster }],
        "users": [{ "name": name, "user": { "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "args": args,
            "interactiveMode": "Never",
            "provideClusterInfo": false,
        } } }],
        "contexts": [{ "name": name, "context": { "cluster": name, "user": name } }],
        "current-context": name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_arn_or_the_server() {
        let eks = ClusterRef {
            cluster: Some("arn:aws:eks:us-east-1:1:cluster/prod".into()),
            ..ClusterRef::default()
        };
        assert_eq!(default_name(&eks, "https://x"), "prod");
        assert_eq!(
            default_name(&ClusterRef::default(), "https://remote.example:6443"),
            "remote.example"
        );
    }

    #[test]
    fn exec_args_reproduce_the_identity_and_the_proxy() -> Result<(), clap::Error> {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            identity: IdentityArgs,
        }
        let flags = <Flags as clap::Parser>::try_parse_from([
            "kubecred",
            "--region",
            "us-east-1",
            "--assume-role",
            "arn:aws:iam::1:role/a",
            "--proxy",
            "http://team-a:p%40ss@proxy.example:3128",
        ])?;
        let eks = ClusterRef {
            cluster: Some("arn:aws:eks:us-east-1:1:cluster/prod".into()),
            ..ClusterRef::default()
        };
        let args = exec_args(Provider::Aws, &eks, "https://s", &flags.identity, None);
        let pairs: Vec<(&str, &str)> = args[4..]
            .chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some((name.as_str(), value.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("--cluster", "arn:aws:eks:us-east-1:1:cluster/prod"),
                ("--address", "https://s"),
                ("--region", "us-east-1"),
                ("--proxy", "http://team-a:p%40ss@proxy.example:3128/"),
                ("--assume-role", "arn:aws:iam::1:role/a"),
            ]
        );
        Ok(())
    }

    #[test]
    fn exec_args_carry_the_lockdown_so_the_plugin_resolves_the_same_identity()
    -> Result<(), clap::Error> {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            identity: IdentityArgs,
        }
        let flags = <Flags as clap::Parser>::try_parse_from([
            "kubecred",
            "--default-kubeconfig-service-account",
            "tenant-default",
            "--purpose",
            "kubeconfig",
        ])?;
        let args = exec_args(
            Provider::Aws,
            &ClusterRef::default(),
            "https://s",
            &flags.identity,
            Some("team-a"),
        );
        let joined = args.join(" ");
        for part in [
            "--namespace team-a",
            "--default-kubeconfig-service-account tenant-default",
            "--purpose kubeconfig",
        ] {
            assert!(joined.contains(part), "{part}: {joined}");
        }
        Ok(())
    }

    #[test]
    fn the_document_has_an_exec_user_and_the_ca() {
        let doc = document(
            "c",
            "https://s",
            Some(b"PEM"),
            "/bin/kubecred",
            vec!["cluster".into()],
        );
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(doc["users"][0]["user"]["exec"]["command"], "/bin/kubecred");
        assert_eq!(doc["users"][0]["user"]["exec"]["interactiveMode"], "Never");
        assert_eq!(doc["current-context"], "c");
    }
}
