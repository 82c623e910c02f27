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

impl Steering {
    /// `key` as left after `result`: its ticket, state and what it still owes.
    pub fn of(
        key: &GroupKey,
        result: SteerResult,
        group: Option<&GroupRecord>,
        error: Option<String>,
    ) -> Steering {
        Steering {
            group: key.clone(),
            result,
            ticket: group.and_then(|g| g.ticket.as_ref()).map(|t| t.key.clone()),
            state: group.map(|g| g.ticket_state),
            queued: group.map_or(0, |g| g.outbox.len()),
            error,
        }
    }
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

    /// Applies `change` to `key` and drains the group's tracker calls. A tracker that refuses
    /// for now leaves the calls queued in the group (durable, made once): reported in `queued`
    /// and `error`, not lost.
    pub async fn apply_steer(
        &self,
        key: &GroupKey,
        change: &Steer,
        by: &Steerer,
    ) -> Result<Steering, ExecuteError> {
        let result = self.commit_steer(key, change, by).await?;
        // The change is committed whatever the tracker says now.
        let (group, error) = match self.sync_group(key).await {
            Ok(group) => (group, None),
            Err(e) if e.is_retryable() => (
                self.store.get_group(key).await?.map(|g| g.value),
                Some(e.to_string()),
            ),
            Err(e) => return Err(e),
        };
        Ok(Steering::of(key, result, group.as_ref(), error))
    }

    /// Decides and commits `change` to `key`, queuing its tracker calls in the group's outbox
    /// without making them (`sync_group` does): a bulk run commits every change first, then
    /// drains, so a tracker outage halfway leaves every change decided and every call durable.
    pub async fn commit_steer(
        &self,
        key: &GroupKey,
        change: &Steer,
        by: &Steerer,
    ) -> Result<SteerResult, ExecuteError> {
        for attempt in 0..STEER_CONFLICTS {
            let Some(read) = self.store.get_group(key).await? else {
                return Ok(SteerResult::Refused("no such group".into()));
            };
            let members = self.steer_members(key, change).await?;
            let now = (self.clock)();
            match steer(&read.value, change, by, self.drafts_only(), &members, now) {
                Steered::Changed {
                    group,
                    audit,
                    summary,
                } => {
                    // A ticket a person closed frees its budget slot; one reopened takes one.
                    let mut decision = Decision {
                        group_key: key.clone(),
                        finding: None,
                        findings: Vec::new(),
                        group: Some(*group),
                        content: None,
                        audit,
                        actions: Vec::new(),
                    };
                    let budget = self
                        .budget_step(&mut decision, Some(&read), &self.config, now, None)
                        .await?;
                    let commit = Commit {
                        group: decision
                            .group
                            .map(|group| Guarded::replacing(group, Some(&read))),
                        audit: decision.audit,
                        budgets: budget.writes,
                        ..Commit::default()
                    };
                    match self.store.commit(commit).await {
                        Ok(()) => {
                            self.follow_budget(&budget.follow).await;
                            return Ok(SteerResult::Changed(summary));
                        }
                        Err(StoreError::Conflict) => backoff(attempt).await,
                        Err(e) => return Err(e.into()),
                    }
                }
                Steered::Unchanged(why) => return Ok(SteerResult::Unchanged(why)),
                Steered::Refused(why) => return Ok(SteerResult::Refused(why)),
            }
        }
        Err(ExecuteError::Contention(STEER_CONFLICTS))
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
