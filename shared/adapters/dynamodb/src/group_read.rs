//! Group reads: an event's reads (`read_event`, one `BatchGetItem`) that arrive while another
//! is in flight go to DynamoDB together, in the next `BatchGetItem` (up to its 100 keys).
//!
//! The worker applies a stream batch's lanes side by side, and their first step is the same read:
//! ten lanes made ten requests that DynamoDB Local answered one after another. As with
//! `group_commit`, the first read lingers while others keep arriving (`group_commit::linger`: the
//! lanes of a batch start in one scheduler pass, so a batch's reads are one request, not the
//! first alone and the rest after it), and a lone read waits one pass; reads are strongly
//! consistent either way, so sharing a request changes what nobody sees. A failed shared request
//! is not shared out: each read then asks again alone and gets its own answer.

use super::group_commit::linger;
use super::items::{Item, Key};
use super::{DynamoStore, MAX_BATCH_GET};
use scantix_core::ports::store::StoreError;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

/// The reads waiting for a request, and the turn to send one.
#[derive(Debug, Default)]
pub(super) struct GroupRead {
    queue: std::sync::Mutex<VecDeque<QueuedRead>>,
    turn: tokio::sync::Mutex<()>,
    /// Reads queued so far, ever: what `linger` watches.
    arrivals: AtomicU64,
}

#[derive(Debug)]
struct QueuedRead {
    keys: Vec<Key>,
    /// The items found (absent keys are absent), or `None`: ask again alone.
    answer: oneshot::Sender<Option<HashMap<Key, Item>>>,
}

impl GroupRead {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<QueuedRead>> {
        // Each use is one push or one drain: a poisoned lock still holds a good queue.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// From the head, the reads whose keys together fit one request (the first always goes).
    fn take(&self) -> Vec<QueuedRead> {
        let mut queue = self.lock();
        let mut keys: HashSet<&Key> = HashSet::new();
        let mut count = 0;
        for queued in queue.iter() {
            let more = queued.keys.iter().filter(|k| !keys.contains(k)).count();
            if count > 0 && keys.len() + more > MAX_BATCH_GET {
                break;
            }
            keys.extend(queued.keys.iter());
            count += 1;
        }
        queue.drain(..count).collect()
    }
}

impl DynamoStore {
    /// `batch_get(keys)`, sharing the request with reads that arrive meanwhile.
    pub(super) async fn batch_get_grouped(
        &self,
        keys: Vec<Key>,
    ) -> Result<HashMap<Key, Item>, StoreError> {
        if keys.len() >= MAX_BATCH_GET {
            return self.batch_get(keys).await;
        }
        let (answer, mut answered) = oneshot::channel();
        self.reads.lock().push_back(QueuedRead {
            keys: keys.clone(),
            answer,
        });
        self.reads.arrivals.fetch_add(1, Ordering::Relaxed);
        linger(&self.reads.arrivals).await;
        loop {
            let _turn = self.reads.turn.lock().await;
            match answered.try_recv() {
                Ok(Some(found)) => return Ok(found),
                // The shared request failed (or its sender went away): ask alone.
                Ok(None) | Err(oneshot::error::TryRecvError::Closed) => {
                    return self.batch_get(keys).await;
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let reads = self.reads.take();
            let all: Vec<Key> = reads.iter().flat_map(|r| r.keys.iter().cloned()).collect();
            match self.batch_get(all).await {
                Ok(found) => {
                    for read in reads {
                        let own = read
                            .keys
                            .iter()
                            .filter_map(|k| found.get(k).map(|item| (k.clone(), item.clone())))
                            .collect();
                        // The caller gave up waiting: nobody to tell.
                        let _ = read.answer.send(Some(own));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a shared read failed; each asks again alone");
                    for read in reads {
                        let _ = read.answer.send(None);
                    }
                }
            }
        }
    }
}
