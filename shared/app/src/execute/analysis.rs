//! Phase 1 for SARIF analyses: one result (or one finding the analysis no longer reports) read,
//! decided by `scantix_core::decide::analysis`, and committed with its entry on the analysis'
//! open list in one atomic write; and a re-verified group's reopening. Tracker calls stay queued
//! in the groups' outboxes for `Executor::sync_group` (draft tickets are settled in the write).
//!
//! No delivery record is written: an analysis is safe to re-apply because re-deciding it decides
//! nothing new, and a commit that would change nothing is not made at all.

use super::{ExecuteError, Executor, backoff, draft_links};
use scantix_core::config::Config;
use scantix_core::decide::Decision;
use scantix_core::decide::alert::group_key_for;
use scantix_core::decide::analysis::{
    AnalysisKey, Presence, ResultInputs, decide_result, decide_reverification, event_for,
};
use scantix_core::decide::triage::Verdict;
use scantix_core::finding::Finding;
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{AnalysisEntry, Commit, EventKeys, Guarded, StoreError};
use scantix_core::records::{FindingRecord, GroupRecord};

/// What an analysis says of one finding.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A result it reports, mapped, and how it stands (open or suppressed).
    Reported(Box<Finding>, Presence),
    /// A finding its previous analysis listed open, not reported now.
    Absent(Fingerprint),
}

/// One result of an analysis as committed.
#[derive(Debug, Clone)]
pub struct ResultCommitted {
    pub decision: Decision,
    /// The finding as stored afterwards (`None`: not stored, ignored by triage).
    pub record: Option<FindingRecord>,
    /// Its group as stored afterwards.
    pub group: Option<GroupRecord>,
    /// Whether anything was written.
    pub written: bool,
}

/// The group a reported result joins when it is new (the group of the finding when it is stored,
/// which differs only if the grouping settings changed since). `None` for an absent finding, or a
/// result no event comes of. `apply_analysis` applies the results of one group in order and
/// results of different groups side by side; a guess that misses costs a retried commit, never
/// correctness (commits are guarded by versions).
pub fn provisional_group(
    subject: &Subject,
    key: &AnalysisKey,
    commit_sha: Option<&str>,
    verdict: &(dyn Fn(&Finding) -> Verdict + Sync),
    config: &Config,
) -> Option<GroupKey> {
    let Subject::Reported(finding, presence) = subject else {
        return None;
    };
    let event = event_for((**finding).clone(), presence, None, key, commit_sha, None)?;
    Some(group_key_for(
        &event,
        None,
        config,
        verdict(finding).group_by,
    ))
}

impl Executor {
    /// Applies what analysis `key` (applied as `analysis`) says of one finding: reads it and its
    /// group, decides, and commits the records with the finding's entry on the key's open list
    /// (`was_listed`: on it before). `new_group` is [`provisional_group`]'s answer for `subject`,
    /// which the caller has already worked out to plan its lanes. A lost race re-reads and
    /// re-decides.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_analysis_result(
        &self,
        subject: &Subject,
        new_group: Option<&GroupKey>,
        key: &AnalysisKey,
        commit_sha: Option<&str>,
        installation_id: Option<u64>,
        was_listed: bool,
        verdict: &(dyn Fn(&Finding) -> Verdict + Sync),
        config: &Config,
        analysis: &str,
    ) -> Result<ResultCommitted, ExecuteError> {
        let mut conflicts = 0;
        loop {
            let now = (self.clock)();
            let (stored, group, finding, presence) = match subject {
                Subject::Reported(finding, presence) => {
                    let fingerprint = Fingerprint::of(finding);
                    // The group a new finding would join (a known one keeps its own).
                    let read = match new_group {
                        Some(new_key) => {
                            self.store
                                .read_event(EventKeys {
                                    delivery: analysis,
                                    finding: &fingerprint,
                                    group: new_key,
                                    installation: None,
                                })
                                .await?
                        }
                        None => Default::default(),
                    };
                    let group = match (&read.finding, new_group) {
                        (Some(f), Some(new_key)) if &f.value.group_key != new_key => {
                            self.store.get_group(&f.value.group_key).await?
                        }
                        _ => read.group,
                    };
                    (read.finding, group, (**finding).clone(), presence.clone())
                }
                Subject::Absent(fingerprint) => {
                    let stored = self.store.get_finding(fingerprint).await?;
                    let Some(record) = &stored else {
                        // Listed, yet never stored (or since removed): just take it off the list.
                        let off = self.list_entry(key, fingerprint, was_listed, false);
                        if !off.is_empty() {
                            self.store
                                .commit(Commit {
                                    analysis: off,
                                    ..Commit::default()
                                })
                                .await?;
                        }
                        return Ok(ResultCommitted {
                            decision: empty_decision(),
                            record: None,
                            group: None,
                            written: was_listed,
                        });
                    };
                    let group = self.store.get_group(&record.value.group_key).await?;
                    let finding = record.value.finding.clone();
                    (stored, group, finding, Presence::Absent)
                }
            };
            let stored_value = stored.as_ref().map(|s| &s.value);
            let fingerprint = Fingerprint::of(&finding);
            let event = event_for(
                finding,
                &presence,
                stored_value,
                key,
                commit_sha,
                installation_id,
            );
            let (mut decision, listed) = match &event {
                Some(event) => {
                    let judged = verdict(&event.finding);
                    let out = decide_result(ResultInputs {
                        event,
                        presence: &presence,
                        finding: stored_value,
                        group: group.as_ref().map(|g| &g.value),
                        verdict: &judged,
                        config,
                        now,
                        analysis,
                    });
                    (out.decision, out.listed)
                }
                None => (empty_decision(), false),
            };
            let budget = self
                .budget_step(&mut decision, group.as_ref(), config, now, Some(analysis))
                .await?;
            self.prepare_group(&mut decision, now, Some(analysis), false);
            let entries = self.list_entry(key, &fingerprint, was_listed, listed);
            let record = decision.finding.clone().or(stored_value.cloned());
            let after_group = decision
                .group
                .clone()
                .or(group.as_ref().map(|g| g.value.clone()));
            let commit = Commit {
                delivery: None,
                findings: decision
                    .finding
                    .clone()
                    .map(|value| Guarded::replacing(value, stored.as_ref()))
                    .into_iter()
                    .collect(),
                group: decision
                    .group
                    .clone()
                    .map(|value| Guarded::replacing(value, group.as_ref())),
                content: decision.content.clone(),
                links: draft_links(&decision, group.as_ref()),
                audit: decision.audit.clone(),
                analysis: entries,
                budgets: budget.writes,
                settles: None,
            };
            let written = commit.writes() > 0;
            if !written {
                return Ok(ResultCommitted {
                    decision,
                    record,
                    group: after_group,
                    written,
                });
            }
            match self.store.commit(commit).await {
                Ok(()) => {
                    self.follow_budget(&budget.follow).await;
                    return Ok(ResultCommitted {
                        decision,
                        record,
                        group: after_group,
                        written,
                    });
                }
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reopens `group`'s ticket if a person closed it while the analysis still reports some of
    /// its findings (`still_present`: the first few; `count` in all). Returns the decision
    /// committed, if any.
    pub async fn reverify_group(
        &self,
        group: &scantix_core::identity::GroupKey,
        still_present: &[FindingRecord],
        count: usize,
        analysis: &str,
    ) -> Result<Option<Decision>, ExecuteError> {
        let mut conflicts = 0;
        loop {
            let now = (self.clock)();
            let Some(read) = self.store.get_group(group).await? else {
                return Ok(None);
            };
            let Some(mut decision) =
                decide_reverification(&read.value, still_present, count, now, analysis)
            else {
                return Ok(None);
            };
            self.prepare_group(&mut decision, now, Some(analysis), false);
            let commit = Commit {
                group: decision
                    .group
                    .clone()
                    .map(|value| Guarded::replacing(value, Some(&read))),
                links: draft_links(&decision, Some(&read)),
                audit: decision.audit.clone(),
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(Some(decision)),
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The list entry to write for a finding that was (`before`) and is (`after`) on `key`'s
    /// open list: none when nothing moves.
    fn list_entry(
        &self,
        key: &AnalysisKey,
        fingerprint: &Fingerprint,
        before: bool,
        after: bool,
    ) -> Vec<AnalysisEntry> {
        match before == after {
            true => vec![],
            false => vec![AnalysisEntry {
                analysis: key.id(),
                fingerprint: fingerprint.clone(),
                listed: after,
            }],
        }
    }
}

fn empty_decision() -> Decision {
    Decision {
        group_key: scantix_core::identity::GroupKey::from_stored(""),
        finding: None,
        findings: vec![],
        group: None,
        content: None,
        audit: vec![],
        actions: vec![],
    }
}
