//! Who scantix is in its tracker, asked once per process: the accounts its own writes come back
//! under in the tracker's webhooks (`Tracker::own_accounts`), so that `decide_ticket` can tell
//! those echoes from people's changes.
//!
//! Asked lazily, at the first tracker event about a scantix ticket that names its actor, and kept
//! for the life of the process (a Lambda instance): the credential does not change under it. A
//! failed or slow answer never holds an event up for long and never stops it: the event is decided
//! with the configured accounts alone (`Config::service_accounts`), the failure is logged, and the
//! tracker is asked again at an event after `retry_after`.

use scantix_core::ports::tracker::Tracker;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The longest an event waits for the tracker to say who scantix is.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The accounts once learned, and when asking last failed.
#[derive(Debug, Default)]
pub struct OwnAccounts {
    learned: tokio::sync::OnceCell<Vec<String>>,
    failed_at: Mutex<Option<Instant>>,
}

impl OwnAccounts {
    pub fn new() -> OwnAccounts {
        OwnAccounts::default()
    }

    /// scantix's accounts in `tracker`: remembered, or asked now unless the last ask failed less
    /// than `retry_after` ago. `None` while they are unknown.
    pub async fn get(&self, tracker: &dyn Tracker, retry_after: Duration) -> Option<&[String]> {
        if let Some(known) = self.learned.get() {
            return Some(known.as_slice());
        }
        let asked = self
            .learned
            .get_or_try_init(|| async {
                // Checked inside the cell's lock too: events that queued behind a failed ask do
                // not each ask again.
                if self.failed_recently(retry_after) {
                    return Err(None);
                }
                let why = match tokio::time::timeout(ASK_TIMEOUT, tracker.own_accounts()).await {
                    Ok(Ok(accounts)) => return Ok(accounts),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer within {} s", ASK_TIMEOUT.as_secs()),
                };
                // Before the cell lets the next event in, so that it finds the failure.
                *self.lock_failed_at() = Some(Instant::now());
                Err(Some(why))
            })
            .await;
        match asked {
            Ok(accounts) => {
                tracing::info!(
                    tracker = tracker.name(),
                    ?accounts,
                    "scantix's own tracker accounts: their changes are echoes"
                );
                Some(accounts.as_slice())
            }
            Err(None) => None,
            Err(Some(why)) => {
                tracing::warn!(
                    tracker = tracker.name(),
                    error = %why,
                    retry_in_secs = retry_after.as_secs(),
                    "could not learn scantix's own tracker account; events are decided without it meanwhile"
                );
                None
            }
        }
    }

    fn failed_recently(&self, retry_after: Duration) -> bool {
        self.lock_failed_at()
            .is_some_and(|at| at.elapsed() < retry_after)
    }

    fn lock_failed_at(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.failed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use scantix_core::identity::GroupKey;
    use scantix_core::ports::tracker::TrackerError;
    use scantix_core::records::{TicketRef, TicketState};
    use scantix_core::ticket::TicketContent;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A tracker that cannot say who it is `failures` times, then says `scantix-bot`; it knows no
    /// tickets.
    struct Forgetful {
        failures: u32,
        asked: AtomicU32,
    }

    #[async_trait]
    impl Tracker for Forgetful {
        fn name(&self) -> &str {
            "forgetful"
        }
        async fn find_by_group_key(&self, _: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
            Ok(None)
        }
        async fn create(
            &self,
            _: &TicketContent,
        ) -> Result<(TicketRef, TicketState), TrackerError> {
            Err(TrackerError::Failed("no tickets here".into()))
        }
        async fn update(&self, _: &TicketRef, _: &TicketContent) -> Result<(), TrackerError> {
            Ok(())
        }
        async fn comment(&self, _: &TicketRef, _: &str, _: &str) -> Result<(), TrackerError> {
            Ok(())
        }
        async fn transition(&self, _: &TicketRef, _: TicketState) -> Result<(), TrackerError> {
            Ok(())
        }
        async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
            let asked = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
            // An answer takes a while, as over the network: other events arrive meanwhile.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if asked <= self.failures {
                return Err(TrackerError::Retryable("503".into()));
            }
            Ok(vec!["scantix-bot".into()])
        }
    }

    fn forgetful(failures: u32) -> Forgetful {
        Forgetful {
            failures,
            asked: AtomicU32::new(0),
        }
    }

    #[tokio::test]
    async fn the_tracker_is_asked_once_and_the_answer_kept() {
        let tracker = forgetful(0);
        let own = OwnAccounts::new();
        for _ in 0..3 {
            let accounts = own.get(&tracker, Duration::from_secs(60)).await;
            assert_eq!(accounts, Some(&["scantix-bot".to_owned()][..]));
        }
        assert_eq!(tracker.asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failure_is_asked_again_only_after_the_pause() {
        let tracker = forgetful(1);
        let own = OwnAccounts::new();
        assert_eq!(own.get(&tracker, Duration::from_secs(60)).await, None);
        // Within the pause: not asked again, still unknown.
        assert_eq!(own.get(&tracker, Duration::from_secs(60)).await, None);
        assert_eq!(tracker.asked.load(Ordering::SeqCst), 1);
        // After it (a zero pause has passed): asked again, and learned.
        let accounts = own.get(&tracker, Duration::ZERO).await;
        assert_eq!(accounts, Some(&["scantix-bot".to_owned()][..]));
        assert_eq!(tracker.asked.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn events_waiting_on_a_failed_ask_do_not_each_ask_again() {
        let tracker = Arc::new(forgetful(u32::MAX));
        let own = Arc::new(OwnAccounts::new());
        let mut events = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (tracker, own) = (tracker.clone(), own.clone());
            events.spawn(async move {
                own.get(tracker.as_ref(), Duration::from_secs(60))
                    .await
                    .map(<[String]>::to_vec)
            });
        }
        while let Some(answer) = events.join_next().await {
            assert_eq!(answer.ok(), Some(None));
        }
        assert_eq!(tracker.asked.load(Ordering::SeqCst), 1);
    }
}
