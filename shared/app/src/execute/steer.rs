//! A person's change to one group (`decide::steer`): committed like an event (one guarded write
//! of the group, its queued tracker calls and the audit entries; a lost race re-reads and
//! re-decides), then the group's outbox drained through the tracker port like any other. A change
//! already made decides nothing, but whatever the group still owes (an earlier run stopped by a
//! tracker outage) is drained all the same: running a bulk operation again finishes it.

use super::*;
use scantix_core::decide::steer::{Steer, Steered, Steerer, steer};

/// How often a change is decided again after losing a race with an event on the same group.
const STEER_CONFLICTS: u32 = 8;

/// What a change came to for one group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "why")]
pub enum SteerResult {
    /// Changed as asked: what changed.
    Changed(String),
    /// Already as asked.
    Unchanged(String),
    /// Not applicable to this group.
    Refused(String),
}

/// One group after a change: the result, and what it still owes its tracker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Steering {
    pub group: GroupKey,
    pub result: SteerResult,
    /// The group's ticket as left (a pushed draft's new ticket, once created).
    pub ticket: Option<String>,
    pub state: Option<TicketState>,
    /// Tracker calls still queued (a tracker outage): the next run, or the sweeper, makes them.
    pub queued: usize,
    /// Why they are still queued: the tracker's (or store's) error, retryable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Executor {
    /// What `change` would do to `key`, without writing anything (`--dry-run`).
    pub async fn preview_steer(
        &self,
        key: &GroupKey,
        change: &Steer,
        by: &Steerer,
    ) -> Result<SteerResult, ExecuteError> {
        let Some(read) = self.store.get_group(key).await? else {
            return Ok(SteerResult::Refused("no such group".into()));
        };
        let members = self.steer_members(key, change).await?;
        Ok(
            match steer(
                &read.value,
                change,
                by,
                self.drafts_only(),
                &members,
                (self.clock)(),
            ) {
                Steered::Changed { summary, .. } => SteerResult::Changed(summary),
                Steered::Unchanged(why) => SteerResult::Unchanged(why),
                Steered::Refused(why) => SteerResult::Refused(why),
            },
        )
    }

    /// Applies `change` to `key` and drains the group's tracker calls. A tracker that stays
    /// unavailable is an error, and the calls stay queued in the group (durable, made once).
    pub async fn apply_steer(
        &self,
        key: &GroupKey,
        change: &Steer,
        by: &Steerer,
    ) -> Result<Steering, ExecuteError> {
        let mut result = None;
        for attempt in 0..STEER_CONFLICTS {
            let Some(read) = self.store.get_group(key).await? else {
                return Ok(Steering {
                    group: key.clone(),
                    result: SteerResult::Refused("no such group".into()),
                    ticket: None,
                    state: None,
                    queued: 0,
                    error: None,
                });
            };
            let members = self.steer_members(key, change).await?;
            let now = (self.clock)();
            match steer(&read.value, change, by, self.drafts_only(), &members, now) {
                Steered::Changed {
                    group,
                    audit,
                    summary,
                } => {
                    let commit = Commit {
                        group: Some(Guarded::replacing(*group, Some(&read))),
                        audit,
                        ..Commit::default()
                    };
                    match self.store.commit(commit).await {
                        Ok(()) => {
                            result = Some(SteerResult::Changed(summary));
                            break;
                        }
                        Err(StoreError::Conflict) => backoff(attempt).await,
                        Err(e) => return Err(e.into()),
                    }
                }
                Steered::Unchanged(why) => {
                    result = Some(SteerResult::Unchanged(why));
                    break;
                }
                Steered::Refused(why) => {
                    result = Some(SteerResult::Refused(why));
                    break;
                }
            }
        }
        let Some(result) = result else {
            return Err(ExecuteError::Contention(STEER_CONFLICTS));
        };
        // The change is committed whatever the tracker says now: a call it refuses for the moment
        // (429, an outage) stays queued in the group and is reported, not lost.
        let (group, error) = match self.sync_group(key).await {
            Ok(group) => (group, None),
            Err(e) if e.is_retryable() => (
                self.store.get_group(key).await?.map(|g| g.value),
                Some(e.to_string()),
            ),
            Err(e) => return Err(e),
        };
        Ok(Steering {
            group: key.clone(),
            result,
            ticket: group
                .as_ref()
                .and_then(|g| g.ticket.as_ref())
                .map(|t| t.key.clone()),
            state: group.as_ref().map(|g| g.ticket_state),
            queued: group.as_ref().map_or(0, |g| g.outbox.len()),
            error,
        })
    }

    /// The findings `change` needs: every member for a regeneration, none otherwise.
    async fn steer_members(
        &self,
        key: &GroupKey,
        change: &Steer,
    ) -> Result<Vec<FindingRecord>, ExecuteError> {
        if *change != Steer::Regenerate {
            return Ok(Vec::new());
        }
        let members = read_all(|after| {
            let store = self.store.clone();
            let key = key.clone();
            async move {
                store
                    .group_findings(&key, Members::All, after.as_deref(), PAGE)
                    .await
            }
        })
        .await?;
        Ok(members.into_iter().map(|m| m.value).collect())
    }
}
