mod aws_support;
use aws_support::*;
#[tokio::test]
async fn debug() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let imds = env.aws.imds_url();
    let node = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str())];
    let t = std::time::Instant::now();
    let out = aws_cli(&["sts", "get-caller-identity", "--endpoint-url", &sts, "--debug"], &node, home.path()).await;
    eprintln!("{:?}", t.elapsed());
    for l in out.stderr.lines().filter(|l| l.contains("169.254") || l.contains("127.0.0.1") || l.contains("credential") || l.contains("Making request") || l.contains("Response")) { eprintln!("{}", &l[..l.len().min(300)]); }
    let pod_url = env.aws.pod_identity_url();
    let pod = [("AWS_CONTAINER_CREDENTIALS_FULL_URI", pod_url.as_str()), ("AWS_CONTAINER_AUTHORIZATION_TOKEN", POD_TOKEN)];
    let t = std::time::Instant::now();
    let out = aws_cli(&["sts", "get-caller-identity", "--endpoint-url", &sts, "--debug"], &pod, home.path()).await;
    eprintln!("{:?}", t.elapsed());
    for l in out.stderr.lines().filter(|l| l.contains("169.254") || l.contains("credential") || l.contains("Making request")) { eprintln!("{}", &l[..l.len().min(300)]); }
}
