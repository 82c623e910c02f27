//! Group commit: commits that arrive while another is in flight go to DynamoDB together, in the
//! next `TransactWriteItems`.
//!
//! Why: a transaction has a fixed price per request. Measured on DynamoDB Local on the 2-core
//! dev machine: 6.0 ms for a 1-item transaction, 9.7 ms for 10 items, 11.6 ms for 25, against
//! 4.1 ms for a lone conditional put; and it runs transactions one at a time. The worker applies
//! a stream batch's lanes side by side, so a batch of ten deliveries made ten transactions that
//! queued one behind another. Now every commit that arrives while a request is in flight goes in
//! the next one; and the first one lingers while others keep arriving ([`linger`]): the lanes of
//! a batch read together and so reach their commits together, one scheduler pass apart, and the
//! first of them sent alone made a batch two requests, the second waiting for the first. A lone
//! caller waits for nothing but one pass of the scheduler.
//!
//! Merging is sound because each commit is atomic on its own and the merged request is atomic as
//! a whole: nothing is ever half written. What changes is failure. One commit's failed condition
//! cancels the whole request, and DynamoDB's per-action cancellation reasons say whose it was:
//! that commit gets the error it would have got alone (`Conflict`, `DuplicateDelivery`), and the
//! others, whose actions all read `None`, go again in the next request. Any other failure
//! (throttling, a timeout) sends each commit of the request alone, so each gets its own answer.
//! Two commits that write one item never share a request (DynamoDB refuses that): the later one
//! waits for the next.
//!
//! A commit that settles an inbox item (`Commit::settles`) carries the index of that update. When
//! its condition (the item exists) is the only one that failed, the item is absent (expired, or
//! never stored): the commit goes again without it, since an absent item must neither be
//! created nor keep the delivery's own writes out forever.

use super::errors::{Failure, cancellation_error, failure_of, transaction_error};
use super::items::{Key, Write};
use super::{DynamoStore, MAX_TRANSACTION_ITEMS};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use scantix_core::ports::store::StoreError;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// DynamoDB's cap on a transaction's total size is 4 MB; stay clear of it.
const MAX_REQUEST_BYTES: usize = 3_500_000;

/// The commits waiting for a request, and the turn to send one.
#[derive(Debug, Default)]
pub(super) struct GroupCommit {
    queue: std::sync::Mutex<VecDeque<Queued>>,
    /// Held by the caller sending a request; the others queue behind it (tokio's mutex is fair:
    /// first come, first served).
    turn: tokio::sync::Mutex<()>,
    /// Commits queued so far, ever: what [`linger`] watches.
    arrivals: AtomicU64,
}

/// How many scheduler passes [`linger`] waits at most, however busy the store is: a steady
/// stream of arrivals must not hold a request back for long.
const MAX_LINGER_PASSES: usize = 8;

/// Yields to the scheduler as long as the last pass brought more arrivals (of commits, or of
/// reads in `group_read`), at most [`MAX_LINGER_PASSES`] times.
///
/// Why passes and not a timer: the worker's lanes run side by side in one task (`join_all`), so
/// the lanes that got their reads in one answer reach their commits within a pass or two of each
/// other, microseconds apart, and a pass with no arrival means the rest are waiting on something
/// else (a request, a tracker) that no fixed delay would wait out. A lone caller pays one pass.
pub(super) async fn linger(arrivals: &AtomicU64) {
    for _ in 0..MAX_LINGER_PASSES {
        let seen = arrivals.load(Ordering::Relaxed);
        tokio::task::yield_now().await;
        if arrivals.load(Ordering::Relaxed) == seen {
            return;
        }
    }
}

/// One commit's writes, waiting, with where its answer goes.
#[derive(Debug)]
struct Queued {
    writes: Vec<Write>,
    /// The delivery written as the commit's first action, if any (see `cancellation_error`).
    delivery: Option<String>,
    /// The index in `writes` of the update settling an inbox item, if any (see the module docs).
    settle: Option<usize>,
    answer: oneshot::Sender<Result<(), StoreError>>,
}

impl Queued {
    fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.writes.iter().filter_map(Write::key)
    }

    fn bytes(&self) -> usize {
        self.writes.iter().map(Write::size).sum()
    }

    fn answer(self, result: Result<(), StoreError>) {
        // The caller gave up waiting (its task was cancelled): nobody to tell.
        let _ = self.answer.send(result);
    }
}

impl GroupCommit {
    fn push(&self, queued: Queued) {
        self.lock().push_back(queued);
        self.arrivals.fetch_add(1, Ordering::Relaxed);
    }

    /// Puts commits back at the head of the queue, in their order: they go in the next request.
    fn requeue(&self, commits: Vec<Queued>) {
        let mut queue = self.lock();
        for queued in commits.into_iter().rev() {
            queue.push_front(queued);
        }
    }

    /// The next request's commits: from the head, as many as fit DynamoDB's limits, skipping
    /// (and leaving queued, in order) any that write an item already in the request.
    fn take(&self) -> Vec<Queued> {
        let mut queue = self.lock();
        let mut taken: Vec<Queued> = Vec::new();
        let mut left = VecDeque::new();
        let (mut actions, mut bytes) = (0, 0);
        let mut keys: HashSet<Key> = HashSet::new();
        while let Some(next) = queue.pop_front() {
            let fits = taken.is_empty()
                || (actions + next.writes.len() <= MAX_TRANSACTION_ITEMS
                    && bytes + next.bytes() <= MAX_REQUEST_BYTES
                    && next.keys().all(|key| !keys.contains(&key)));
            if !fits {
                left.push_back(next);
                continue;
            }
            actions += next.writes.len();
            bytes += next.bytes();
            keys.extend(next.keys());
            taken.push(next);
        }
        *queue = left;
        taken
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A panic while holding this lock cannot leave the queue half changed (each use is one
        // push, pop or swap), so a poisoned lock is still a good queue.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DynamoStore {
    /// Writes `writes` atomically, sharing the request with commits that arrive meanwhile (see
    /// the module docs). Answers as `transact` would for these writes alone. `settle` is the index
    /// of a write settling an inbox item: dropped, and the rest written, if that item is absent.
    pub(super) async fn transact_grouped(
        &self,
        writes: Vec<Write>,
        delivery: Option<&str>,
        settle: Option<usize>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (answer, mut answered) = oneshot::channel();
        self.group.push(Queued {
            writes,
            delivery: delivery.map(str::to_owned),
            settle,
            answer,
        });
        linger(&self.group.arrivals).await;
        loop {
            let _turn = self.group.turn.lock().await;
            // A request sent while we waited for the turn may have carried ours.
            match answered.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::Unavailable(
                        "a group commit lost its answer".into(),
                    ));
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let request = self.group.take();
            self.send_group(request).await;
            // Ours was in it, or left for the next request (limits, a shared item, or sent
            // again after another commit's condition cancelled the request).
        }
    }

    /// Sends one request for `commits` and answers each of them (or queues it again).
    async fn send_group(&self, mut commits: Vec<Queued>) {
        if commits.len() <= 1 {
            if let Some(only) = commits.pop() {
                self.send_alone(only).await;
            }
            return;
        }
        let mut actions = Vec::new();
        let mut bytes = 0;
        for queued in &commits {
            bytes += queued.bytes();
            for write in &queued.writes {
                match write.clone().into_transact_item(&self.table) {
                    Ok(action) => actions.push(action),
                    // Cannot happen for writes `transact` accepts; answer each alone.
                    Err(_) => return self.send_each(commits).await,
                }
            }
        }
        // The SDK fills in a ClientRequestToken, so its own retries are idempotent.
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let error = match sent {
            Ok(_) => {
                self.written.fetch_add(bytes as u64, Ordering::Relaxed);
                for queued in commits {
                    queued.answer(Ok(()));
                }
                return;
            }
            Err(error) => error,
        };
        let reasons = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                cancelled.cancellation_reasons().to_vec()
            }
            _ => Vec::new(),
        };
        let total: usize = commits.iter().map(|q| q.writes.len()).sum();
        if reasons.len() != total {
            tracing::debug!(error = %transaction_error(error, None), "group commit failed; sending each commit alone");
            return self.send_each(commits).await;
        }
        let fine = |r: &CancellationReason| r.code().is_none_or(|code| code == "None");
        if reasons.iter().all(fine) {
            // Cancelled, yet no action says why: no way to tell whose it was.
            return self.send_each(commits).await;
        }
        let mut innocent = Vec::new();
        let mut start = 0;
        for mut queued in commits {
            let own = &reasons[start..start + queued.writes.len()];
            start += queued.writes.len();
            if own.iter().all(fine) {
                innocent.push(queued);
            } else if let Some(at) = queued.settle
                && only_settle_failed(own, at)
            {
                tracing::info!("the inbox item to settle is absent; committing without it");
                queued.writes.remove(at);
                queued.settle = None;
                innocent.push(queued);
            } else {
                let result = Err(cancellation_error(own, queued.delivery.as_deref()));
                queued.answer(result);
            }
        }
        self.group.requeue(innocent);
    }

    /// Sends each commit in its own request, one after another.
    async fn send_each(&self, commits: Vec<Queued>) {
        for queued in commits {
            self.send_alone(queued).await;
        }
    }

    async fn send_alone(&self, queued: Queued) {
        let Queued {
            writes,
            delivery,
            settle,
            answer,
        } = queued;
        let result = match settle {
            Some(at) => {
                self.transact_settling(writes, delivery.as_deref(), at)
                    .await
            }
            None => self.transact(writes, delivery.as_deref()).await,
        };
        // The caller gave up waiting (its task was cancelled): nobody to tell.
        let _ = answer.send(result);
    }

    /// `transact` for a commit whose write at `settle` settles an inbox item: if that item is
    /// absent, the rest is written without it.
    async fn transact_settling(
        &self,
        mut writes: Vec<Write>,
        delivery: Option<&str>,
        settle: usize,
    ) -> Result<(), StoreError> {
        if writes.len() < 2 {
            // Nothing but the settle: an absent item is nothing to write, as in `settle_inbox`.
            return match self.transact(writes, delivery).await {
                Err(StoreError::Conflict) => Ok(()),
                other => other,
            };
        }
        let bytes: usize = writes.iter().map(Write::size).sum();
        let actions = writes
            .iter()
            .cloned()
            .map(|write| write.into_transact_item(&self.table))
            .collect::<Result<Vec<_>, _>>()?;
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let error = match sent {
            Ok(_) => {
                self.written.fetch_add(bytes as u64, Ordering::Relaxed);
                return Ok(());
            }
            Err(error) => error,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            error.as_service_error()
            && only_settle_failed(cancelled.cancellation_reasons(), settle)
        {
            tracing::info!("the inbox item to settle is absent; committing without it");
            writes.remove(settle);
            return self.transact(writes, delivery).await;
        }
        Err(transaction_error(error, delivery))
    }
}

/// Whether a commit's cancellation reasons (its own actions', in order) blame its inbox settle
/// (at index `settle`) alone, for a failed condition: the item is absent, the rest was fine.
fn only_settle_failed(reasons: &[CancellationReason], settle: usize) -> bool {
    settle < reasons.len()
        && reasons.iter().enumerate().all(|(index, reason)| {
            let code = reason.code().unwrap_or("None");
            match index == settle {
                true => matches!(failure_of(code), Failure::ConditionFailed),
                false => code == "None",
            }
        })
}
