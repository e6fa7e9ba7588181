#![recursion_limit = "256"]
//! The `kubecred` command. Thin: parse arguments, call the library, print the answer.

mod args;
mod argv0;
mod check;
mod cluster;
mod demo;
mod demo_azure;
mod disk_cache;
mod docker;
mod explain;
mod git;
mod google_executable;
mod help;
mod issuer;
mod kubeconfig;
mod kubelet;
mod policy;
mod registry;
mod request;
mod sandbox;
mod sandbox_aws;
mod sandbox_azure;
mod sandbox_gcp;
mod token;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};

/// A mistake in the command line (exit status 2), as opposed to a failure to get credentials.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The deadlines every command's calls take (`--request-timeout`, `KUBECRED_REQUEST_TIMEOUT`).
static TIMEOUTS: OnceLock<kubecred::Timeouts> = OnceLock::new();

/// The timeouts of this run: the defaults unless `--request-timeout` set the overall deadline.
pub fn timeouts() -> kubecred::Timeouts {
    TIMEOUTS.get().copied().unwrap_or_default()
}

fn main() -> ExitCode {
    let args = docker::argv(git::argv(std::env::args_os()));
    // docker runs the helper for every pull: a cached answer goes out before the parser, the
    // logger and the runtime are set up (a miss carries its lookup on to the full path).
    let mut looked_up = None;
    if docker::is_plain_get(&args) {
        match docker::answer_warm_get() {
            docker::WarmGet::Done(status) => return status,
            docker::WarmGet::Fetch(lookup) => looked_up = Some(lookup),
        }
    }
    let cli = Cli::parse_from(args);
    // A one-shot command whose reader went away (`kubecred policy ... | head`) ends quietly as
    // Unix tools do, instead of panicking in `println!` (Rust ignores SIGPIPE). The servers
    // (`sandbox`, `demo`) keep ignoring it.
    if !matches!(cli.command, Command::Sandbox(_) | Command::Demo) {
        sigpipe::reset();
    }
    init_logging(cli.verbose);
    if let Some(overall) = cli.request_timeout {
        let _ = TIMEOUTS.set(kubecred::Timeouts::with_overall(overall));
    }
    // One rustls crypto backend for every client (kube, reqwest): aws-lc-rs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match runtime_for(&cli.command) {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli, looked_up));
    // Don't wait on stray blocking work (e.g. a DNS lookup) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<docker::Reported>() => ExitCode::from(1),
        Err(error) if error.is::<explain::Failed>() => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            let usage = error.downcast_ref::<UsageError>().is_some();
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

async fn run(cli: Cli, looked_up: Option<Box<docker::Lookup>>) -> anyhow::Result<()> {
    match cli.command {
        Command::Token(args) => token::run(*args).await,
        Command::Registry(args::RegistryCommand::Login(args)) => registry::login(*args).await,
        Command::Cluster(args::ClusterCommand::Credentials(args)) => {
            cluster::credentials(*args).await
        }
        Command::Cluster(args::ClusterCommand::Kubeconfig(args)) => kubeconfig::write(*args).await,
        Command::Check(args) => check::run(*args).await,
        Command::KubeletCredentialProvider(args) => kubelet::run(args).await,
        Command::GitCredential(args) => git::run(*args).await,
        Command::DockerCredential(args) => docker::run(args, looked_up).await,
        Command::Issuer(args::IssuerCommand::Show(args)) => issuer::show(args).await,
        Command::Issuer(args::IssuerCommand::Generate(args)) => issuer::generate(args).await,
        Command::Issuer(args::IssuerCommand::Verify(args)) => issuer::verify(args).await,
        Command::Issuer(args::IssuerCommand::Publish(args)) => issuer::publish(*args).await,
        Command::Issuer(args::IssuerCommand::RotatePlan(args)) => issuer::rotate_plan(args).await,
        Command::Issuer(args::IssuerCommand::Setup(args)) => issuer::setup(*args),
        Command::Explain(args) => explain::run(*args).await,
        Command::Policy(args) => policy::run(*args),
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Demo => demo::run().await,
    }
}

/// Long-running commands (the sandbox, the demo serving it) get worker threads; the one-shot
/// front doors, which docker, kubectl, git and the kubelet start per use, a single thread: no
/// threads to spawn and join on the warm path.
fn runtime_for(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    match command {
        Command::Sandbox(_) | Command::Demo => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,kubecred=info,kubecred_sandbox=info",
        2 => "info,kubecred=debug,kubecred_sandbox=debug",
        _ => "debug,kubecred=trace,kubecred_sandbox=trace",
    };
    let filter =
        EnvFilter::try_from_env("KUBECRED_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
