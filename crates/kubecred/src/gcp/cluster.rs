//! GKE clusters: the cluster id `projects/<project>/locations/<location>/clusters/<name>` of a
//! remote cluster, and the same three parts as the GKE metadata server reports them. Each part
//! is checked against Google's rules, and an error names the part that is wrong.
//!
//! The reference's `^projects/[^/]{1,200}/locations/[^/]{1,200}/clusters/[^/]{1,200}$` took any
//! character but `/` in each part (`..`, `?`, `#`, `%2F`, spaces, newlines), which went on into
//! the `container.googleapis.com` URL and the STS audience; these rules take Google's ids only.
//! Legacy domain-scoped project ids (`example.com:project`) are not accepted.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

use super::parse::compiled;

/// A project id: 6-30 lowercase letters, digits and hyphens, starting with a letter, not
/// ending with a hyphen.
const PROJECT_ID: &str = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$";
/// A project number, which the container API takes in place of the id.
const PROJECT_NUMBER: &str = r"^[0-9]{1,20}$";
/// A region (`us-central1`, `northamerica-northeast1`, `u-france-east1`) or zone (`us-central1-a`).
const LOCATION: &str = r"^[a-z]{1,20}(?:-[a-z]{1,20}){1,2}[0-9]{1,2}(?:-[a-z])?$";
/// A cluster name: a lowercase letter, then up to 39 lowercase letters, digits or hyphens, not
/// ending with a hyphen.
const CLUSTER_NAME: &str = r"^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$";

const EXPECTED: &str =
    "projects/<project id or number>/locations/<region or zone>/clusters/<cluster name>";
pub(crate) const PROJECT_ID_RULE: &str = "a project id is 6-30 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen";
const LOCATION_RULE: &str = "a location is a region or zone such as us-central1 or us-central1-a";
const NAME_RULE: &str = "a cluster name is 1-40 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen";

static PROJECT_ID_RE: LazyLock<Regex> = LazyLock::new(|| compiled(PROJECT_ID));
static PROJECT_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| compiled(PROJECT_NUMBER));
static LOCATION_RE: LazyLock<Regex> = LazyLock::new(|| compiled(LOCATION));
static CLUSTER_NAME_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CLUSTER_NAME));

/// The container API, which describes clusters and names them in GKE's STS audience.
pub const CONTAINER_API: &str = "https://container.googleapis.com/v1";

/// A GKE cluster: its project, location and name, each checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GkeCluster {
    project: String,
    location: String,
    name: String,
}

impl GkeCluster {
    /// The cluster as the GKE metadata server reports it (`project/project-id`,
    /// `instance/attributes/cluster-location`, `instance/attributes/cluster-name`); the project
    /// must be an id, as it names the workload pool.
    pub fn from_metadata(project_id: &str, location: &str, name: &str) -> Result<Self> {
        let cluster = GkeCluster {
            project: project_id.to_owned(),
            location: location.to_owned(),
            name: name.to_owned(),
        };
        match cluster.problem(false) {
            None => Ok(cluster),
            Some(why) => Err(Error::invalid(format!(
                "invalid GKE cluster from the metadata service: {why}"
            ))),
        }
    }

    /// The project (an id, or a number when a cluster id gave one).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The region or zone.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The cluster name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster id, `projects/<project>/locations/<location>/clusters/<name>`.
    pub fn id(&self) -> String {
        format!(
            "projects/{}/locations/{}/clusters/{}",
            self.project, self.location, self.name
        )
    }

    /// The container API URL of the cluster (`clusters.get`).
    pub fn url(&self) -> String {
        format!("{CONTAINER_API}/{}", self.id())
    }

    /// The GKE workload pool, `<project>.svc.id.goog`: the Kubernetes token's audience on GKE.
    pub fn workload_pool(&self) -> String {
        format!("{}.svc.id.goog", self.project)
    }

    /// The STS audience of a GKE token:
    /// `identitynamespace:<project>.svc.id.goog:https://container.googleapis.com/v1/projects/<project>/locations/<location>/clusters/<name>`.
    pub fn sts_audience(&self) -> String {
        format!("identitynamespace:{}:{}", self.workload_pool(), self.url())
    }

    /// What is wrong with the parts, if anything; `number` allows a project number.
    fn problem(&self, number: bool) -> Option<String> {
        let shown = |part: &str| part.escape_default().to_string();
        let project_ok = PROJECT_ID_RE.is_match(&self.project)
            || (number && PROJECT_NUMBER_RE.is_match(&self.project));
        if !project_ok {
            let number_too = if number { " (or a project number)" } else { "" };
            let project = shown(&self.project);
            return Some(format!(
                "bad project '{project}': {PROJECT_ID_RULE}{number_too}"
            ));
        }
        if !LOCATION_RE.is_match(&self.location) {
            let location = shown(&self.location);
            return Some(format!("bad location '{location}': {LOCATION_RULE}"));
        }
        (!CLUSTER_NAME_RE.is_match(&self.name))
            .then(|| format!("bad cluster name '{}': {NAME_RULE}", shown(&self.name)))
    }
}

/// The GKE workload pool of project `project_id` (`<project>.svc.id.goog`, the Kubernetes
/// token's audience on GKE), for when only the project is known.
pub fn gke_workload_pool(project_id: &str) -> Result<String> {
    match PROJECT_ID_RE.is_match(project_id) {
        true => Ok(format!("{project_id}.svc.id.goog")),
        false => Err(Error::invalid(format!(
            "invalid GCP project id '{}': {PROJECT_ID_RULE}",
            project_id.escape_default()
        ))),
    }
}

/// Whether `text` is a project id by Google's rules (6-30 lowercase letters, digits or
/// hyphens, starting with a letter and not ending with a hyphen).
pub fn is_project_id(text: &str) -> bool {
    PROJECT_ID_RE.is_match(text)
}

/// Parses a GKE cluster id, `projects/<project>/locations/<location>/clusters/<name>`.
pub fn gke_cluster_id(id: &str) -> Result<GkeCluster> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "invalid GKE cluster ID: '{}': {why}. expected {EXPECTED}",
            id.escape_default()
        ))
    };
    let cluster = match id.split('/').collect::<Vec<_>>()[..] {
        ["projects", project, "locations", location, "clusters", name] => GkeCluster {
            project: project.to_owned(),
            location: location.to_owned(),
            name: name.to_owned(),
        },
        _ => return Err(invalid("not of the form projects/P/locations/L/clusters/C")),
    };
    match cluster.problem(true) {
        None => Ok(cluster),
        Some(why) => Err(invalid(&why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    /// The reference's vector and Google's shapes of projects, regions and zones.
    #[test]
    fn cluster_ids() {
        for (id, project, location, name) in [
            (
                "projects/test-project/locations/us-central1/clusters/test-cluster",
                "test-project",
                "us-central1",
                "test-cluster",
            ),
            (
                "projects/123456789012/locations/europe-west12-b/clusters/c",
                "123456789012",
                "europe-west12-b",
                "c",
            ),
            (
                "projects/my-proj/locations/northamerica-northeast1/clusters/a-40-character-name-xxxxxxxxxxxxxxxxxxxx",
                "my-proj",
                "northamerica-northeast1",
                "a-40-character-name-xxxxxxxxxxxxxxxxxxxx",
            ),
            (
                "projects/sovereign/locations/u-france-east1/clusters/c1",
                "sovereign",
                "u-france-east1",
                "c1",
            ),
        ] {
            let cluster = gke_cluster_id(id);
            let parts = cluster
                .as_ref()
                .map(|c| (c.project(), c.location(), c.name()));
            assert_eq!(parts.ok(), Some((project, location, name)), "{id}");
            assert_eq!(cluster.map(|c| c.id()).ok().as_deref(), Some(id));
        }
    }

    #[test]
    fn invalid_cluster_ids_name_the_wrong_part() {
        assert_eq!(
            message(gke_cluster_id("invalid-cluster-id")),
            format!(
                "invalid GKE cluster ID: 'invalid-cluster-id': not of the form \
                 projects/P/locations/L/clusters/C. expected {EXPECTED}"
            )
        );
        let base = "projects/test-project/locations/us-central1/clusters/test-cluster";
        for (id, why) in [
            (format!("{base}/"), "not of the form"),
            (format!("/{base}"), "not of the form"),
            (format!("{base}/x"), "not of the form"),
            (
                base.replace("test-project", "Test-Project"),
                "bad project 'Test-Project'",
            ),
            (base.replace("test-project", "proj-"), "bad project 'proj-'"),
            (
                base.replace("test-project", "a.b:proj"),
                "bad project 'a.b:proj'",
            ),
            (base.replace("test-project", ".."), "bad project '..'"),
            (base.replace("test-project", "12a"), "bad project '12a'"),
            (
                base.replace("us-central1", "us central1"),
                "bad location 'us central1'",
            ),
            (
                base.replace("us-central1", "global"),
                "bad location 'global'",
            ),
            (base.replace("us-central1", "us-central1?x"), "bad location"),
            (
                base.replace("test-cluster", "test-cluster\n"),
                r"bad cluster name 'test-cluster\n'",
            ),
            (
                base.replace("test-cluster", "Test"),
                "bad cluster name 'Test'",
            ),
            (base.replace("test-cluster", "c-"), "bad cluster name 'c-'"),
            (base.replace("test-cluster", "1c"), "bad cluster name '1c'"),
            (
                base.replace("test-cluster", &"c".repeat(41)),
                "bad cluster name",
            ),
            (
                base.replace("test-cluster", "a%2Fb"),
                "bad cluster name 'a%2Fb'",
            ),
            (base.replace("locations", "zones"), "not of the form"),
        ] {
            let error = message(gke_cluster_id(&id));
            assert!(
                error.starts_with("invalid GKE cluster ID: '") && error.contains(why),
                "{id:?}: {error}"
            );
        }
    }

    /// The reference's vector (metadata project-id / cluster-location / cluster-name), with a
    /// real location: `cluster-location` is no region or zone, and metadata values are checked.
    #[test]
    fn gke_audiences() {
        let cluster = GkeCluster::from_metadata("project-id", "us-central1", "cluster-name");
        let cluster = cluster.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cluster.workload_pool(), "project-id.svc.id.goog");
        assert_eq!(
            cluster.sts_audience(),
            "identitynamespace:project-id.svc.id.goog:https://container.googleapis.com/v1/projects/project-id/locations/us-central1/clusters/cluster-name"
        );
        assert_eq!(
            cluster.url(),
            "https://container.googleapis.com/v1/projects/project-id/locations/us-central1/clusters/cluster-name"
        );
    }

    #[test]
    fn workload_pools_of_a_project() {
        assert_eq!(
            gke_workload_pool("project-id").ok().as_deref(),
            Some("project-id.svc.id.goog")
        );
        for invalid in [
            "",
            "123456",
            "project-id.evil.example",
            "project-id\n",
            "Project-Id",
        ] {
            let error = message(gke_workload_pool(invalid));
            assert!(
                error.starts_with("invalid GCP project id '"),
                "{invalid:?}: {error}"
            );
        }
    }

    #[test]
    fn metadata_values_are_checked() {
        for (project, location, name, why) in [
            (
                "123456789012",
                "us-central1",
                "c",
                "bad project '123456789012'",
            ),
            ("project-id", "", "c", "bad location ''"),
            (
                "project-id",
                "cluster-location",
                "c",
                "bad location 'cluster-location'",
            ),
            ("project-id", "us-central1", "", "bad cluster name ''"),
            ("project-id", "us-central1", "c/../x", "bad cluster name"),
        ] {
            let error = message(GkeCluster::from_metadata(project, location, name));
            assert!(
                error.starts_with("invalid GKE cluster from the metadata service: ")
                    && error.contains(why),
                "{error}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn cluster_id_parser_never_panics(input in "\\PC{0,300}") {
            let _ = gke_cluster_id(&input);
        }

        #[test]
        fn accepted_ids_round_trip(project in "[a-z0-9./-]{1,12}", location in "[a-z0-9-]{1,16}", name in "[a-z0-9/-]{1,12}") {
            let id = format!("projects/{project}/locations/{location}/clusters/{name}");
            if let Ok(cluster) = gke_cluster_id(&id) {
                proptest::prop_assert_eq!(cluster.id(), id);
                proptest::prop_assert!(!cluster.name().contains('/') && !cluster.project().contains('.'));
            }
        }
    }
}
