//! Help texts that name what each provider supports, from the library (`kubecred::cloud`), so
//! they stay true as clouds land and in builds with fewer clouds.

use kubecred::Provider;
use kubecred::cloud::{self, Capabilities};

/// `aws, generic` (the providers this build serves).
pub fn providers() -> String {
    names(cloud::served())
}

/// The providers with `pick`'s capability, each with what it serves: `aws: ECR, ECR Public`.
fn per_provider(pick: fn(&Capabilities) -> Option<&'static str>) -> String {
    let parts: Vec<String> = cloud::served()
        .into_iter()
        .filter_map(|p| {
            let what = cloud::capabilities(p).as_ref().and_then(pick)?;
            Some(format!("{p}: {what}"))
        })
        .collect();
    match parts.is_empty() {
        true => "none in this build".to_owned(),
        false => parts.join("; "),
    }
}

fn names(providers: Vec<Provider>) -> String {
    let names: Vec<&str> = providers.iter().map(|p| p.name()).collect();
    names.join(", ")
}

/// `kubecred token --provider`.
pub fn token_provider() -> String {
    format!("Who issues the credential: {}", providers())
}

/// `kubecred registry`.
pub fn registry() -> String {
    format!("Registry credentials ({})", per_provider(|c| c.registries))
}

/// The registries of this build, for errors: `aws: ECR, ECR Public; gcp: GAR, GCR, S3NS`.
pub fn registries() -> String {
    per_provider(|c| c.registries)
}

/// `--provider` of registry commands.
pub fn registry_provider() -> String {
    format!(
        "The provider (default: the one the host belongs to; {})",
        per_provider(|c| c.registries)
    )
}

/// `kubecred cluster`.
pub fn cluster() -> String {
    format!(
        "Remote cluster credentials ({})",
        per_provider(|c| c.clusters)
    )
}

/// `--provider` of cluster commands.
pub fn cluster_provider() -> String {
    format!("The provider ({})", per_provider(|c| c.clusters))
}

/// `kubecred check`.
pub fn check() -> String {
    format!(
        "Check that the credentials reach a resource: {}",
        check_targets()
    )
}

/// The check targets of this build: `s3://BUCKET, kms://KEY-ARN, sqs://QUEUE-ARN`.
pub fn check_targets() -> String {
    let targets: Vec<&str> = cloud::served()
        .into_iter()
        .filter_map(|p| cloud::capabilities(p)?.checks)
        .collect();
    match targets.is_empty() {
        true => "no check in this build".to_owned(),
        false => targets.join(", "),
    }
}

/// `kubecred git-credential`.
pub fn git() -> String {
    format!(
        "Git credential helper (git's protocol on stdin/stdout; {}). Also runs as \
         `git-credential-kubecred`, for `git config credential.helper kubecred`",
        per_provider(|c| c.git)
    )
}

/// `kubecred docker-credential`.
pub fn docker() -> String {
    format!(
        "Docker credential helper (docker's protocol on stdin/stdout; {}). Also runs as \
         `docker-credential-kubecred`, for `\"credHelpers\": {{\"HOST\": \"kubecred\"}}`",
        per_provider(|c| c.registries)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_list_what_each_provider_of_this_build_serves() {
        assert!(providers().contains("generic"));
        assert!(cluster().contains("generic: any cluster"), "{}", cluster());
        #[cfg(feature = "aws")]
        {
            assert!(
                registry().contains("aws: ECR, ECR Public"),
                "{}",
                registry()
            );
            assert!(git().contains("aws: AWS CodeCommit"), "{}", git());
            assert!(check_targets().starts_with("s3://BUCKET, kms://KEY-ARN"));
        }
        #[cfg(feature = "gcp")]
        assert!(
            check_targets().contains(
                "gs://BUCKET, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, pubsub://projects/P/topics/T, gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"
            ),
            "{}",
            check_targets()
        );
    }
}
