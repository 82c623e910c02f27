//! `MemorySink`: the `Sink` and `Archive` ports in memory. It keeps what arrived, in order, and
//! can be told to refuse events (by uid) or to fail as a whole, so tests see what a caller does
//! with a partial failure.

use crate::ports::sink::{Archive, ArchiveError, Sink, SinkError};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

#[derive(Default)]
pub struct MemorySink {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    events: Vec<Value>,
    refused: HashSet<String>,
    files: BTreeMap<String, (Vec<u8>, String)>,
    calls: usize,
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// Every event delivered so far, in the order they arrived (repeats included).
    pub fn events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    /// How many times `publish` was called.
    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    /// Events with this `metadata.uid` are refused (retryable) until `accept_all`.
    pub fn refuse(&self, uid: &str) {
        self.lock().refused.insert(uid.to_owned());
    }

    pub fn accept_all(&self) {
        self.lock().refused.clear();
    }

    /// The files kept, by key: body and content type.
    pub fn files(&self) -> BTreeMap<String, (Vec<u8>, String)> {
        self.lock().files.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock (in a test) leaves plain data behind: still readable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Sink for MemorySink {
    fn name(&self) -> &str {
        "memory"
    }

    async fn publish(&self, events: &[Value]) -> Result<(), SinkError> {
        let mut state = self.lock();
        state.calls += 1;
        let mut failed = Vec::new();
        for (position, event) in events.iter().enumerate() {
            let uid = event["metadata"]["uid"].as_str().unwrap_or_default();
            if state.refused.contains(uid) {
                failed.push(position);
            } else {
                state.events.push(event.clone());
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(SinkError {
                failed,
                rejected: Vec::new(),
                reason: "refused by the test".into(),
            })
        }
    }
}

#[async_trait]
impl Archive for MemorySink {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ArchiveError> {
        self.lock()
            .files
            .insert(key.to_owned(), (body, content_type.to_owned()));
        Ok(())
    }
}
