//! Retrying transient failures: the errors classified transient at the HTTP edge (connection
//! failures, timeouts, 429, 5xx) are retried with exponential backoff, inside a bounded number of
//! attempts; everything else is returned at once.

use std::future::Future;
use std::time::Duration;

use crate::error::Result;

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

/// Runs `call` until it succeeds, fails permanently, or the attempts run out.
pub(crate) async fn transient<T, F, Fut>(backoff: Backoff, what: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = backoff.first_delay;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(error) if error.is_transient() && attempt < backoff.attempts => {
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

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = transient(FAST, "test", || async {
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
        let result: Result<()> = transient(FAST, "test", || async {
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
        let result: Result<()> = transient(FAST, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::denied("forbidden"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
