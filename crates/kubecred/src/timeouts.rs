//! [`Timeouts`]: the one deadline configuration of every call that leaves the process, and the
//! [`Deadline`] that bounds a whole operation.
//!
//! | timeout | default | bounds |
//! |---|---|---|
//! | `connect` | 10 s | opening a connection (TCP and TLS handshake) |
//! | `read` | 30 s | each wait for the peer to send (or accept) bytes |
//! | `overall` | 60 s | a whole library operation ([`crate::Engine::token`], registry login, cluster credentials), retries included |
//!
//! Where each applies: the AWS SDK clients (`TimeoutConfig`: connect, read, operation timeout
//! including the SDK's retries; see `aws/http.rs`), the Kubernetes client (`kube::Config`
//! connect, read and write timeouts), the calls made with reqwest (`http.rs`: the S3/KMS checks,
//! GCP's STS, IAM Credentials and metadata calls), the retry loop of the
//! Kubernetes calls (no retry starts past the deadline), and around each whole operation, so
//! that nothing exceeds `overall` even if a layer forgets its own timeouts. An elapsed deadline
//! is a transient error naming the step and the deadline.
//!
//! An operation's deadline holds for everything it runs: a deadline started inside it (a nested
//! operation, the Kubernetes retry loop, the cache's exchange) never ends later. So the cache's
//! exchange times out at the very instant the operation does, and the cache, polled first, still
//! serves a valid credential it holds, as it does for any transient failure of a refresh.
//!
//! Deadlines use tokio's monotonic clock, not the injected wall [`crate::clock::Clock`]: they
//! measure waiting, not the time credentials are valid, and must run even when a test injects
//! the wall clock. The operation's deadline travels in a tokio task-local (a tokio feature, not
//! hand-written): it reaches every layer the operation awaits without a parameter on each.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long calls that leave the process may take (see the module docs for the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection, TCP and TLS handshake included.
    pub connect: Duration,
    /// Each wait for the peer to send or accept bytes.
    pub read: Duration,
    /// A whole operation, every call and retry included.
    pub overall: Duration,
}

impl Timeouts {
    /// The default connect timeout.
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(10);
    /// The default read timeout.
    pub const DEFAULT_READ: Duration = Duration::from_secs(30);
    /// The default overall deadline.
    pub const DEFAULT_OVERALL: Duration = Duration::from_secs(60);

    /// The defaults with this overall deadline; connect and read are capped at it (what
    /// `--request-timeout` sets).
    pub fn with_overall(overall: Duration) -> Self {
        let defaults = Timeouts::default();
        Timeouts {
            connect: defaults.connect.min(overall),
            read: defaults.read.min(overall),
            overall,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Self::DEFAULT_CONNECT,
            read: Self::DEFAULT_READ,
            overall: Self::DEFAULT_OVERALL,
        }
    }
}

/// A point in time by which an operation must be done.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: tokio::time::Instant,
    budget: Duration,
}

tokio::task_local! {
    /// The deadline of the operation the current task is running, if any.
    static CURRENT: Deadline;
}

impl Deadline {
    /// `budget` from now, or the running operation's deadline if that comes first.
    pub(crate) fn after(budget: Duration) -> Self {
        let now = tokio::time::Instant::now();
        // A budget too large to add is as good as none: a far-off deadline (about 30 years).
        let far = Duration::from_secs(86_400 * 365 * 30);
        let at = now.checked_add(budget).unwrap_or_else(|| now + far);
        let own = Deadline { at, budget };
        match CURRENT.try_with(|outer| *outer) {
            Ok(outer) if outer.at <= own.at => outer,
            _ => own,
        }
    }

    /// Whether waiting `delay` still leaves time before the deadline.
    pub(crate) fn allows(&self, delay: Duration) -> bool {
        tokio::time::Instant::now()
            .checked_add(delay)
            .is_some_and(|then| then < self.at)
    }

    /// Runs `work`, failing with a transient error naming `step` when the deadline passes first.
    ///
    /// `work` is boxed (and its type erased) before anything else: the operations this wraps
    /// nest deeply (engine, cache, SDK), and without the box every caller's future type would
    /// grow past the compiler's default query depth.
    pub(crate) fn run<'a, T: 'a>(
        self,
        step: &'a str,
        work: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        let work: Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>> = Box::pin(work);
        let Deadline { at, budget } = self;
        let bounded = async move {
            match tokio::time::timeout_at(at, work).await {
                Ok(outcome) => outcome,
                Err(_) => Err(exceeded(step, budget)),
            }
        };
        CURRENT.scope(self, bounded)
    }
}

/// The error of a deadline that passed.
fn exceeded(step: &str, budget: Duration) -> Error {
    Error::transient(format!(
        "{step}: timed out: no answer within the deadline of {budget:?}"
    ))
}

/// Runs a whole operation within `timeouts.overall`.
pub(crate) fn within<'a, T: 'a>(
    timeouts: &Timeouts,
    step: &'a str,
    work: impl Future<Output = Result<T>> + Send + 'a,
) -> impl Future<Output = Result<T>> + Send + 'a {
    Deadline::after(timeouts.overall).run(step, work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let defaults = Timeouts::default();
        assert_eq!(defaults.connect, Duration::from_secs(10));
        assert_eq!(defaults.read, Duration::from_secs(30));
        assert_eq!(defaults.overall, Duration::from_secs(60));
    }

    #[test]
    fn an_overall_deadline_caps_connect_and_read() {
        let short = Timeouts::with_overall(Duration::from_secs(2));
        assert_eq!(short.connect, Duration::from_secs(2));
        assert_eq!(short.read, Duration::from_secs(2));
        assert_eq!(short.overall, Duration::from_secs(2));
        let long = Timeouts::with_overall(Duration::from_secs(300));
        assert_eq!(
            (long.connect, long.read),
            (Timeouts::DEFAULT_CONNECT, Timeouts::DEFAULT_READ)
        );
    }

    #[tokio::test]
    async fn the_overall_deadline_fires_on_work_that_never_ends() {
        let timeouts = Timeouts::with_overall(Duration::from_millis(200));
        let started = tokio::time::Instant::now();
        let result: Result<()> = within(&timeouts, "get credentials", std::future::pending()).await;
        let error = result.err().map(|e| (e.is_transient(), e.to_string()));
        assert_eq!(
            error,
            Some((
                true,
                "get credentials: timed out: no answer within the deadline of 200ms".into()
            ))
        );
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn work_done_in_time_keeps_its_outcome() {
        let timeouts = Timeouts::with_overall(Duration::from_secs(5));
        let done = within(&timeouts, "step", async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(7)
        });
        assert_eq!(done.await.ok(), Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_nested_deadline_never_ends_later_than_the_operation() {
        let outer = Timeouts::with_overall(Duration::from_millis(200));
        let started = tokio::time::Instant::now();
        let result: Result<()> = within(&outer, "operation", async {
            Deadline::after(Duration::from_secs(60))
                .run("inner step", std::future::pending())
                .await
        })
        .await;
        let message = result.err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("inner step: timed out: no answer within the deadline of 200ms")
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn the_inner_step_sees_its_timeout_first_and_may_fall_back() {
        // What the cache does: a transient failure of a refresh serves the credential it holds.
        let outer = Timeouts::with_overall(Duration::from_millis(200));
        let result = within(&outer, "operation", async {
            let refresh: Result<&str> = Deadline::after(Duration::from_secs(60))
                .run("exchange", std::future::pending())
                .await;
            match refresh {
                Err(error) if error.is_transient() => Ok("still valid"),
                other => other,
            }
        })
        .await;
        assert_eq!(result.ok(), Some("still valid"));
    }

    #[tokio::test]
    async fn huge_budgets_do_not_overflow() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.allows(Duration::from_secs(3600)));
        assert_eq!(deadline.run("step", async { Ok(1) }).await.ok(), Some(1));
    }
}
