//! Turns on a group, within one executor: events on one group that this process applies side by
//! side (the worker's lanes of one stream batch, a backfill) take turns from decision to commit,
//! and each hands the next the group as it committed it.
//!
//! Why: lanes about different alerts of one group (a first scan, a burst of one rule) read the
//! group in one shared request, at one version; all but one then lost the race on it (a cancelled
//! transaction), slept 10–40 ms and read again. In turns, each lane decides on the state the lane
//! before it wrote, and its commit goes through the first time, without a read in between.
//!
//! Safety does not depend on the turns: every commit is still guarded by the version it was
//! decided on. A handed-over group is used only when it is newer than the one read (versions are
//! written once each, so the newer of the two is the stored one as far as this process knows); if
//! another process wrote the group since, the commit gets `Conflict` and the lane reads again, as
//! before. A slot lives while someone holds or awaits its turn, so nothing handed over outlives
//! the burst it was made in.

use scantix_core::identity::GroupKey;
use scantix_core::records::{GroupRecord, Versioned};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::OwnedMutexGuard;

/// The group as the last turn's holder committed it, if it committed one.
type Slot = Arc<tokio::sync::Mutex<Option<Versioned<GroupRecord>>>>;

/// The turns of the groups that events are being applied to now.
#[derive(Debug, Default)]
pub(super) struct GroupTurns {
    slots: Mutex<HashMap<GroupKey, Slot>>,
}

/// A place in the queue for a group's turn, taken before the event's read so that what the
/// holder commits meanwhile is kept for it ([`Queued::wait`] takes the turn).
#[derive(Debug)]
pub(super) struct Queued<'a> {
    turns: &'a GroupTurns,
    key: GroupKey,
    slot: Option<Slot>,
}

/// The turn on a group: held from the decision to the commit.
#[derive(Debug)]
pub(super) struct Turn<'a> {
    turns: &'a GroupTurns,
    key: GroupKey,
    guard: Option<OwnedMutexGuard<Option<Versioned<GroupRecord>>>>,
}

impl GroupTurns {
    fn lock(&self) -> MutexGuard<'_, HashMap<GroupKey, Slot>> {
        // Each use is one lookup, insert or removal: a poisoned map is still a good map.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues for `key`'s turn.
    pub(super) fn queue(&self, key: &GroupKey) -> Queued<'_> {
        let slot = self.lock().entry(key.clone()).or_default().clone();
        Queued {
            turns: self,
            key: key.clone(),
            slot: Some(slot),
        }
    }

    /// Forgets `key`'s slot once nobody but the map holds it. Called with the caller's own
    /// reference already dropped; the map lock orders this against `queue`.
    fn release(&self, key: &GroupKey) {
        let mut slots = self.lock();
        if slots
            .get(key)
            .is_some_and(|slot| Arc::strong_count(slot) == 1)
        {
            slots.remove(key);
        }
    }
}

impl<'a> Queued<'a> {
    /// Waits for the turn (first come, first served: tokio's mutex is fair).
    pub(super) async fn wait(mut self) -> Turn<'a> {
        let guard = match self.slot.take() {
            Some(slot) => Some(slot.lock_owned().await),
            None => None,
        };
        Turn {
            turns: self.turns,
            key: self.key.clone(),
            guard,
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.slot.take().is_some() {
            self.turns.release(&self.key);
        }
    }
}

impl Turn<'_> {
    /// The newer of `read` (the group as the event's read found it) and the group the previous
    /// holder committed: what the event is decided on.
    pub(super) fn newest(
        &self,
        read: Option<Versioned<GroupRecord>>,
    ) -> Option<Versioned<GroupRecord>> {
        let handed = self.guard.as_ref().and_then(|g| g.as_ref());
        match (read, handed) {
            (Some(read), Some(handed)) if handed.version > read.version => Some(handed.clone()),
            (None, Some(handed)) => Some(handed.clone()),
            (read, _) => read,
        }
    }

    /// Hands `committed` (the group as this holder's commit wrote it) to the next holder.
    pub(super) fn hand_over(&mut self, committed: &Versioned<GroupRecord>) {
        if committed.value.key != self.key {
            return;
        }
        if let Some(guard) = self.guard.as_mut() {
            **guard = Some(committed.clone());
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // The guard (and its reference to the slot) first, so that `release` sees only the map's.
        if self.guard.take().is_some() {
            self.turns.release(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::testing::code_alert;

    fn group(version: u64) -> Versioned<GroupRecord> {
        let finding = code_alert(1, "js/xss", "src/a.js");
        let key = GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/xss");
        Versioned {
            value: GroupRecord::new(key, &finding, chrono::Utc::now()),
            version,
        }
    }

    #[tokio::test]
    async fn the_next_holder_gets_the_newer_group_and_the_slot_goes_with_the_last_holder() {
        let turns = GroupTurns::default();
        let key = group(1).value.key.clone();
        let first = turns.queue(&key);
        let second = turns.queue(&key);
        let mut turn = first.wait().await;
        assert_eq!(turn.newest(None), None);
        turn.hand_over(&group(3));
        drop(turn);
        let turn = second.wait().await;
        // Read before the first holder committed: the handed-over group is newer.
        assert_eq!(turn.newest(Some(group(2))).map(|g| g.version), Some(3));
        assert_eq!(turn.newest(None).map(|g| g.version), Some(3));
        // Another process wrote since: the read is newer.
        assert_eq!(turn.newest(Some(group(4))).map(|g| g.version), Some(4));
        drop(turn);
        assert!(turns.lock().is_empty(), "no slot outlives its last holder");
        // Queued and given up (the event was a duplicate): nothing left either.
        drop(turns.queue(&key));
        assert!(turns.lock().is_empty());
    }
}
