//! Retrying transient failures: the errors classified transient at the HTTP edge (connection
//! failures, timeouts, 429, 5xx) are retried with exponential backoff, inside a bounded number of
//! attempts and the operation's deadline (no attempt outlives it, no retry starts that could not
//! finish its wait before it); everything else is returned at once.

use std::future::Future;
use std::time::Duration;

use crate::error::Result;
use crate::timeouts::Deadline;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// Attempts in all, the first included.
    pub(crate) attempts: u32,
    /// The wait before the second attempt; doubled for each later one.
    pub(crate) first_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 3,
            first_delay: Duration::from_millis(100),
        }
    }
}

/// Runs `call` until it succeeds, fails permanently, the attempts run out or the deadline
/// passes (a transient error naming `what` and the deadline).
pub(crate) async fn transient<T, F, Fut>(
    backoff: Backoff,
    deadline: Deadline,
    what: &str,
    mut call: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>> + Send,
{
    let mut delay = backoff.first_delay;
    let mut attempt = 1;
    loop {
        match deadline.run(what, call()).await {
            Err(error)
                if error.is_transient() && attempt < backoff.attempts && deadline.allows(delay) =>
            {
                tracing::debug!(%error, attempt, what, "transient failure; retrying");
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::Error;

    const FAST: Backoff = Backoff {
        attempts: 3,
        first_delay: Duration::from_millis(1),
    };

    fn minute() -> Deadline {
        Deadline::after(Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn no_retry_starts_that_would_end_past_the_deadline() {
        let patient = Backoff {
            attempts: 10,
            first_delay: Duration::from_millis(150),
        };
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let deadline = Deadline::after(Duration::from_millis(400));
        let result: Result<()> = transient(patient, deadline, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::transient("503"))
        })
        .await;
        // Attempts at 0 and 150 ms; the next wait (300 ms) would end past the deadline.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(result.is_err_and(|e| e.is_transient() && e.to_string() == "503"));
        assert!(started.elapsed() < Duration::from_millis(400));
    }

    #[tokio::test]
    async fn an_attempt_that_never_answers_is_cut_at_the_deadline() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let deadline = Deadline::after(Duration::from_millis(200));
        let result: Result<()> = transient(FAST, deadline, "get secrets team-a/s", || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending()
        })
        .await;
        let message = result
            .err()
            .filter(Error::is_transient)
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("get secrets team-a/s: timed out: no answer within the deadline of 200ms")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = transient(FAST, minute(), "test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(Error::transient("503")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let result: Result<()> = transient(FAST, minute(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::transient("connection refused"))
        })
        .await;
        assert!(result.is_err_and(|e| e.is_transient()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<()> = transient(FAST, minute(), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::denied("forbidden"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
