use super::*;
use crate::lookalike::{self, Pattern};

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

const ECR_HOSTS: &[&str] = &[
    "012345678901.dkr.ecr.us-east-1.amazonaws.com",
    "012345678901.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
    "012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn",
    "012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu",
    "012345678901.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
    "012345678901.dkr.ecr-fips.us-iso-east-1.c2s.ic.gov",
    "012345678901.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
    "012345678901.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
    "557238627320.dkr-ecr.us-west-2.on.aws",
    "557238627320.dkr-ecr-fips.us-east-1.on.aws",
    "public.ecr.aws",
];

const ECR: Pattern = Pattern {
    name: "ECR registry hosts",
    valid: ECR_HOSTS,
    accept: |host| ecr_registry(host).ok().map(|r| format!("{r:?}")),
    url: false,
    any_port: false,
    extensions: &["cn"],
    open_first_label: false,
};

const STS_HOSTS: &[&str] = &[
    "sts.amazonaws.com",
    "sts.us-east-2.amazonaws.com",
    "sts-fips.us-gov-west-1.amazonaws.com",
    "sts.ap-southeast-7.amazonaws.com",
    "vpce-002b7cc8966426bc6-njisq19r.sts.us-east-1.vpce.amazonaws.com",
    "vpce-002b7cc8966426bc6-njisq19r-us-east-1a.sts.us-east-1.vpce.amazonaws.com",
    "vpce-0123abcd-abcdefgh.sts-fips.us-west-2.vpce.amazonaws.com",
];

const STS: Pattern = Pattern {
    name: "STS endpoints",
    valid: STS_HOSTS,
    accept: |host| sts_endpoint(&format!("https://{host}")).ok(),
    url: true,
    any_port: false,
    extensions: &[],
    open_first_label: false,
};

const CODECOMMIT: Pattern = Pattern {
    name: "CodeCommit git hosts",
    valid: &[
        "git-codecommit.us-east-1.amazonaws.com",
        "git-codecommit-fips.us-west-2.amazonaws.com",
        "git-codecommit.cn-north-1.amazonaws.com.cn",
    ],
    accept: codecommit_host_region,
    url: false,
    any_port: false,
    extensions: &["cn"],
    open_first_label: false,
};

#[test]
fn ecr_registries() {
    for (host, region) in [
        ("012345678901.dkr.ecr.us-east-1.amazonaws.com", "us-east-1"),
        (
            "012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn",
            "cn-north-1",
        ),
        (
            "012345678901.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
        ),
        (
            "012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu",
            "eusc-de-east-1",
        ),
        ("557238627320.dkr-ecr.eu-central-1.on.aws", "eu-central-1"),
        (
            "012345678901.DKR.ECR.US-EAST-1.AMAZONAWS.COM:443",
            "us-east-1",
        ),
    ] {
        assert_eq!(
            ecr_registry(host).ok(),
            Some(EcrRegistry::Private {
                region: region.into()
            }),
            "{host}"
        );
    }
    assert_eq!(
        ecr_registry("public.ecr.aws").ok(),
        Some(EcrRegistry::Public)
    );
    assert_eq!(EcrRegistry::Public.region(), "us-east-1");
    assert_eq!(
        message(ecr_registry("gcr.io")),
        format!("invalid AWS registry: 'gcr.io'. expected {ECR_EXPECTED}")
    );
}

/// The look-alikes of the issue: each was treated as ECR (the `[.cn]*` class, the `[0-9+]*`
/// account, the `[^/.]*` region, `dkr.ecr` on `on.aws`).
#[test]
fn ecr_look_alikes_of_the_old_pattern_are_refused() {
    for lookalike in [
        "123456789012.dkr.ecr.us-east-1.amazonaws.comnc.cc",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.c",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn.cc",
        ".dkr.ecr.us-east-1.amazonaws.com",
        "1+2.dkr.ecr.us-east-1.amazonaws.com",
        "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr..amazonaws.com",
        "123456789012.dkr.ecr.us-east-1:443@evil.amazonaws.com",
        "123456789012.dkr.ecr.us_east_1.amazonaws.com",
        "123456789012.dkr-ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.on.aws",
        "012345678901.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "evil.example/012345678901.dkr.ecr.us-east-1.amazonaws.com",
        "012345678901xdkr.ecr.us-east-1.amazonaws.com",
    ] {
        assert!(ecr_registry(lookalike).is_err(), "{lookalike}");
    }
}

#[test]
fn ecr_hosts_refuse_every_trick() {
    lookalike::assert_tricks_refused(&ECR);
}

#[test]
fn sts_endpoints() {
    for (endpoint, checked) in [
        ("https://sts.amazonaws.com", "https://sts.amazonaws.com"),
        (
            "https://sts.us-gov-east-1.amazonaws.com/",
            "https://sts.us-gov-east-1.amazonaws.com",
        ),
        (
            "HTTPS://STS.IL-CENTRAL-1.AMAZONAWS.COM:443",
            "https://sts.il-central-1.amazonaws.com",
        ),
    ] {
        assert_eq!(sts_endpoint(endpoint).ok().as_deref(), Some(checked));
    }
    for invalid in [
        "https://stss.amazonaws.com",
        "https://sts.amazonaws.example.com",
        "http://sts.amazonaws.com",
        "sts.amazonaws.com",
        "https://invalid.amazonaws.com",
        "https://x.sts.us-east-1.amazonaws.com",
        "https://sts.us-east-1.vpce.amazonaws.com",
        "https://sts.us-east-1.amazonaws.com.cn",
    ] {
        assert!(sts_endpoint(invalid).is_err(), "{invalid}");
    }
    assert_eq!(
        message(sts_endpoint("https://something.amazonaws.com")),
        format!(
            "invalid STS endpoint: 'https://something.amazonaws.com': the host is not an STS host. \
             expected {STS_EXPECTED}"
        )
    );
}

/// The bypasses of the issue: the old `(.+\.)?` let a path, user info or fragment carry the
/// `sts.amazonaws.com` suffix while the host was a loopback listener.
#[test]
fn sts_endpoints_with_the_suffix_outside_the_host_are_refused() {
    for (endpoint, why) in [
        (
            "https://127.0.0.1:18701/x.sts.amazonaws.com",
            "it names a port other than 443",
        ),
        ("https://127.0.0.1/x.sts.amazonaws.com", "it has a path"),
        ("https://a@x.sts.amazonaws.com", "it has user info"),
        (
            "https://127.0.0.1:18701@x.sts.amazonaws.com",
            "it has user info",
        ),
        (
            "https://127.0.0.1:18701\\@x.sts.amazonaws.com",
            "it names a port other than 443",
        ),
        ("https://127.0.0.1#.sts.amazonaws.com", "it has a fragment"),
        ("https://127.0.0.1?.sts.amazonaws.com", "it has a query"),
    ] {
        let error = message(sts_endpoint(endpoint));
        assert!(
            error.starts_with(&format!(
                "invalid STS endpoint: '{}': {why}.",
                endpoint.escape_default()
            )),
            "{endpoint}: {error}"
        );
    }
}

#[test]
fn sts_endpoints_refuse_every_trick() {
    lookalike::assert_tricks_refused(&STS);
}

#[test]
fn codecommit_urls() {
    for (url, region) in [
        (
            "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/test-repo",
            "us-east-1",
        ),
        (
            "https://git-codecommit-fips.us-west-2.amazonaws.com/v1/repos/test-repo",
            "us-west-2",
        ),
        (
            "https://git-codecommit.cn-north-1.amazonaws.com.cn/v1/repos/test-repo",
            "cn-north-1",
        ),
        (
            "https://user@git-codecommit.us-east-1.amazonaws.com:8443/v1/repos/r",
            "us-east-1",
        ),
    ] {
        assert_eq!(codecommit_region(url).ok().as_deref(), Some(region));
    }
    assert_eq!(
        message(codecommit_region(
            "http://git-codecommit.us-east-1.amazonaws.com/v1/repos/test-repo"
        )),
        "AWS CodeCommit authentication requires an HTTPS Git URL"
    );
    assert!(
        message(codecommit_region("https://github.com/org/repo"))
            .starts_with("invalid AWS CodeCommit Git URL: github.com. expected https://")
    );
    for invalid in [
        "https://git-codecommit.us-east-1.evil.amazonaws.com/v1/repos/r",
        "https://git-codecommit.us-east-1.amazonaws.comnc.cc/v1/repos/r",
        "https://git-codecommit..amazonaws.com/v1/repos/r",
    ] {
        assert!(codecommit_region(invalid).is_err(), "{invalid}");
    }
    assert!(message(codecommit_region("not a url")).contains("invalid AWS CodeCommit Git URL"));
}

#[test]
fn codecommit_hosts_refuse_every_trick() {
    lookalike::assert_tricks_refused(&CODECOMMIT);
}

#[test]
fn dns_names() {
    assert_eq!(dns_name("Example.COM:443").as_deref(), Some("example.com"));
    for refused in [
        "example.com:8443",
        "a@example.com",
        "example.com/x",
        "",
        ":443",
    ] {
        assert_eq!(dns_name(refused), None, "{refused}");
    }
}

proptest::proptest! {
    #[test]
    fn no_label_added_to_an_ecr_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&ECR, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn no_label_added_to_an_sts_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&STS, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn no_label_added_to_a_codecommit_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&CODECOMMIT, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn host_parsers_never_panic(input in "\\PC{0,300}") {
        let _ = dns_name(&input);
        let _ = ecr_registry(&input);
        let _ = sts_endpoint(&input);
        let _ = codecommit_host_region(&input);
        let _ = codecommit_region(&input);
    }
}
