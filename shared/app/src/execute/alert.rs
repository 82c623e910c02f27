//! Alerts: an alert event committed (decide, one guarded write, a lost race re-decided) and its
//! group's tracker work started.

use super::*;
use crate::analysis::code_flow::flow_of_alert;
use crate::ingest::Disposition;
use scantix_core::finding::{AlertKind, FlowStep};
use scantix_core::ports::github::AnalysisQuery;
use scantix_core::ports::store::InboxSettle;

/// The largest analysis SARIF read for an alert's code flow. GitHub's SARIF of a large
/// repository's analysis can run to many megabytes; past this the ticket goes without a flow.
pub const ANALYSIS_SARIF_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Whether `event` is a code scanning alert whose flow an analysis' SARIF could give.
fn wants_code_flow(event: &AlertEvent) -> bool {
    event.finding.kind == AlertKind::CodeScanning
        && event.finding.flow.is_empty()
        && event.finding.location.is_some()
        && event.finding.git_ref.is_some()
}

impl Executor {
    /// Applies one alert event, delivered as `delivery` (`github:<X-GitHub-Delivery>`), with a bare
    /// triage (no reason, no overrides) under the executor's configuration.
    pub async fn apply_alert(
        &self,
        delivery: &str,
        event: &AlertEvent,
        triage: Triage,
    ) -> Result<Outcome, ExecuteError> {
        let verdict = plain(triage, format!("{triage:?}").to_lowercase());
        self.apply_verdict(delivery, event, &verdict, &self.config)
            .await
    }

    /// Applies one alert event as triage judged it (`verdict`), under `config` (the repository's
    /// own configuration).
    pub async fn apply_verdict(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
    ) -> Result<Outcome, ExecuteError> {
        self.apply_verdict_settling(delivery, event, verdict, config, None)
            .await
    }

    /// `apply_verdict` for a delivery read from the inbox item `inbox` (the worker's): the
    /// event's commit also settles that item done (`Commit::settles`), and the outcome says
    /// so (`Outcome::inbox_settled`), so the worker does not settle it again.
    pub async fn apply_verdict_settling(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
        inbox: Option<&str>,
    ) -> Result<Outcome, ExecuteError> {
        let committed = self
            .commit_alert_leased(delivery, event, verdict, config, true, inbox)
            .await?;
        let inbox_settled = inbox.is_some() && matches!(committed, Committed::Applied(_));
        let (group, mut actions, duplicate, synced) = match committed {
            Committed::Applied(applied) => {
                let synced = self.sync_committed(&applied).await?;
                (
                    Some(applied.decision.group_key),
                    applied.decision.actions,
                    false,
                    synced,
                )
            }
            Committed::Duplicate { group, settled } => {
                // The first attempt may have crashed after committing: finish what it queued
                // (nothing to finish when the group read with the delivery owes nothing).
                let synced = match (&group, settled) {
                    (_, Some(settled)) => Some(*settled),
                    (Some(key), None) => self.sync_group(key).await?,
                    (None, None) => None,
                };
                (group, vec![], true, synced)
            }
            Committed::Ignored(reason) => {
                return Ok(Outcome {
                    delivery: delivery.into(),
                    duplicate: false,
                    group: None,
                    actions: vec![Action::Ignored {
                        reason: reason.clone(),
                    }],
                    ticket: None,
                    ticket_state: None,
                    ignored: Some(reason),
                    inbox_settled: false,
                });
            }
        };
        // An alert seen only on a pull request changes what the pull request's summary says
        // (also on a redelivery: the first attempt may have failed to post it).
        actions.extend(self.refresh_pull_request_of(event).await?);
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate,
            group,
            actions,
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
            ignored: None,
            inbox_settled,
        })
    }

    /// Phase 1 only: decides and commits an alert event, leaving the tracker calls it queued in
    /// the group's outbox for `sync_group`. A backfill or a batch of stream records commits many
    /// events this way and then syncs each touched group once.
    pub async fn commit_alert(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
    ) -> Result<Committed, ExecuteError> {
        self.commit_alert_leased(delivery, event, verdict, config, false, None)
            .await
    }

    /// `commit_alert`, taking the group's lease in the same write when `take_lease` and calls are
    /// now owed (then `sync_committed` drains them without another write to take it), and
    /// settling the inbox item `inbox` done in it when given.
    pub(super) async fn commit_alert_leased(
        &self,
        delivery: &str,
        event: &AlertEvent,
        verdict: &Verdict,
        config: &Config,
        take_lease: bool,
        inbox: Option<&str>,
    ) -> Result<Committed, ExecuteError> {
        let fingerprint = Fingerprint::of(&event.finding);
        // The group a new finding would join; a known finding keeps the group it was put in.
        let new_key = group_key_for(event, None, config, verdict.group_by);
        // Events this process applies to one group take turns from decision to commit
        // (`group_turns`). Queued before the read, so that what the holder commits meanwhile is
        // kept for this event; the turn is taken once the read says there is work to do.
        let mut queued = Some(self.group_turns.queue(&new_key));
        let mut turn = None;
        let mut conflicts = 0;
        let mut unavailable = 0;
        // The code flow read for a new group: `None` until looked for, then what was found.
        let mut flow: Option<Option<Vec<FlowStep>>> = None;
        loop {
            let read = self
                .store
                .read_event(EventKeys {
                    delivery,
                    finding: &fingerprint,
                    group: &new_key,
                    installation: event.installation_id,
                })
                .await?;
            if let Some(seen) = read.delivery {
                let settled = read
                    .group
                    .filter(|g| {
                        seen.group_key.as_ref() == Some(&new_key) && g.value.outbox.is_empty()
                    })
                    .map(|g| Box::new(g.value));
                return Ok(Committed::Duplicate {
                    group: seen.group_key,
                    settled,
                });
            }
            // An uninstalled App, or a repository taken out of it, gets no more work;
            // installations scantix never heard of are served or ignored as the deployment says.
            match &read.installation {
                Some(installation) if !installation.value.covers(event.finding.repository.id) => {
                    return Ok(Committed::Ignored(format!(
                        "repository {} is not covered by installation {}",
                        event.finding.repository.full_name, installation.value.id
                    )));
                }
                Some(_) => {}
                None => {
                    if let Some(why) = self
                        .settings
                        .unknown_installations
                        .refusal(event.installation_id)
                    {
                        return Ok(Committed::Ignored(why));
                    }
                }
            }
            if let Some(queued) = queued.take() {
                turn = Some(queued.wait().await);
            }
            // After the wait: the decision's time is when it is made.
            let now = (self.clock)();
            let finding = read.finding;
            let key = group_key_for(
                event,
                finding.as_ref().map(|f| &f.value),
                config,
                verdict.group_by,
            );
            // Only after a grouping change does a known finding's group differ from the one read.
            let group = match (&finding, key == new_key, &turn) {
                (Some(_), false, _) => self.store.get_group(&key).await?,
                // The group as the previous holder of the turn committed it, if that is newer
                // than the read (made before that commit).
                (_, _, Some(turn)) => turn.newest(read.group),
                (_, _, None) => read.group,
            };
            let mut decision = decide(Inputs {
                event,
                finding: finding.as_ref().map(|f| &f.value),
                group: group.as_ref().map(|g| &g.value),
                verdict,
                config,
                now,
                delivery: Some(delivery),
            });
            // A code scanning alert founding a ticketed group: its analysis' SARIF says how the
            // data flows (read once, however often a lost race re-decides).
            let founds_ticket = group.is_none()
                && finding.is_none()
                && decision
                    .group
                    .as_ref()
                    .is_some_and(GroupRecord::has_or_awaits_ticket);
            if founds_ticket && flow.is_none() && wants_code_flow(event) {
                flow = Some(self.code_flow_of(event).await);
            }
            if let (true, Some(Some(steps))) = (founds_ticket, &flow) {
                let mut with_flow = event.clone();
                with_flow.finding.flow = steps.clone();
                decision = decide(Inputs {
                    event: &with_flow,
                    finding: None,
                    group: None,
                    verdict,
                    config,
                    now,
                    delivery: Some(delivery),
                });
            }
            let budget = self
                .budget_step(&mut decision, group.as_ref(), config, now, Some(delivery))
                .await?;
            let lease = self.prepare_group(&mut decision, now, Some(delivery), take_lease);
            let commit = Commit {
                delivery: Some(self.delivery_record(delivery, Some(&decision.group_key), now)),
                findings: decision
                    .finding
                    .clone()
                    .map(|value| Guarded::replacing(value, finding.as_ref()))
                    .into_iter()
                    .collect(),
                group: decision
                    .group
                    .clone()
                    .map(|value| Guarded::replacing(value, group.as_ref())),
                content: decision.content.clone(),
                links: draft_links(&decision, group.as_ref()),
                audit: decision.audit.clone(),
                analysis: Vec::new(),
                budgets: budget.writes,
                // What the worker would record after it (`Delivered::applied`): a commit that
                // succeeds is this delivery applied. Whatever fails later (the tracker sync) is
                // still recorded by the worker as a failed attempt on the item.
                settles: inbox.map(|id| InboxSettle {
                    id: id.to_owned(),
                    outcome: Disposition::Applied.as_str().to_owned(),
                    at: now,
                }),
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    self.follow_budget(&budget.follow).await;
                    let committed = decision.group.clone().map(|value| Versioned {
                        value,
                        version: group.as_ref().map_or(1, |g| g.version + 1),
                    });
                    if let (Some(turn), Some(committed)) = (turn.as_mut(), &committed) {
                        turn.hand_over(committed);
                    }
                    return Ok(Committed::Applied(Box::new(Applied {
                        decision,
                        group: committed.or(group),
                        lease,
                    })));
                }
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    backoff(conflicts).await;
                }
                // Throttling or a store under load (DynamoDB answers a transaction that waited
                // too long for an item's lock with a 500): nothing was written, and a moment
                // later the same commit usually goes through.
                Err(StoreError::Unavailable(why)) if unavailable < UNAVAILABLE_RETRIES => {
                    unavailable += 1;
                    tracing::warn!(attempt = unavailable, why = %why, "store unavailable; retrying the commit");
                    backoff(unavailable + 2).await;
                }
                // A concurrent copy of this delivery won the commit.
                Err(StoreError::DuplicateDelivery(_)) => {
                    return Ok(Committed::Duplicate {
                        group: Some(key),
                        settled: None,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The source → sink of a code scanning alert, from the SARIF of the analysis that found it
    /// (`GitHub::analysis_sarif`, at most [`ANALYSIS_SARIF_MAX_BYTES`]). `None` whenever it cannot
    /// be had — no GitHub connection, no such analysis, a refusal, a timeout, a SARIF without
    /// the alert's result: the ticket then goes without a flow, and the alert is applied all the
    /// same.
    pub(super) async fn code_flow_of(&self, event: &AlertEvent) -> Option<Vec<FlowStep>> {
        let clients = self.github.as_ref()?;
        let finding = &event.finding;
        let query = AnalysisQuery {
            git_ref: finding.git_ref.clone()?,
            commit_sha: finding.commit_sha.clone(),
            tool: finding.tool.clone(),
        };
        let github = match clients.for_installation(event.installation_id) {
            Ok(github) => github,
            Err(e) => {
                tracing::info!(error = %e, "no GitHub client for the analysis' SARIF");
                return None;
            }
        };
        let sarif = match github
            .analysis_sarif(&finding.repository, &query, ANALYSIS_SARIF_MAX_BYTES)
            .await
        {
            Ok(Some(sarif)) => sarif,
            Ok(None) => return None,
            Err(e) => {
                tracing::info!(repository = %finding.repository.full_name, alert = finding.number, error = %e, "the analysis' SARIF was not read; the ticket goes without a flow");
                return None;
            }
        };
        let alert = finding.clone();
        tokio::task::spawn_blocking(move || flow_of_alert(&sarif, &alert))
            .await
            .ok()
            .flatten()
    }

    /// Phase 2 for a committed decision: drains the group's outbox if the commit took the lease.
    /// Returns the group as left (or as committed, when another holder drains it).
    pub async fn sync_committed(
        &self,
        applied: &Applied,
    ) -> Result<Option<GroupRecord>, ExecuteError> {
        match (&applied.lease, &applied.group) {
            (Some(token), Some(group)) => match self.drain(group.clone(), token).await {
                Ok(left) => Ok(Some(left)),
                // The lease ran out mid-drain (a slow tracker or store) and another caller took
                // it over: the outbox is theirs now, this delivery's part is committed, and it is
                // left to them as any non-holder leaves it.
                Err(ExecuteError::SyncPending(key)) => {
                    tracing::info!(group = %key, "lease taken over mid-drain; the new holder finishes");
                    Ok(Some(group.value.clone()))
                }
                Err(e) => Err(e),
            },
            (None, group) => Ok(group.as_ref().map(|g| g.value.clone())),
            (Some(_), None) => Ok(None),
        }
    }

    /// Readies a decided group for its commit: a draft group's calls are settled in place (their
    /// audit entries join the decision's); a group that now owes tracker calls takes the lease if
    /// nobody holds it. Returns the lease token taken.
    pub(super) fn prepare_group(
        &self,
        decision: &mut Decision,
        now: DateTime<Utc>,
        delivery: Option<&str>,
        take_lease: bool,
    ) -> Option<String> {
        let group = decision.group.as_mut()?;
        if self.drafts_only() || group.is_draft() {
            let settled = settle_draft_ops(group, now, delivery);
            decision.audit.extend(settled);
        }
        let free = group.lease.as_ref().is_none_or(|l| l.until <= now);
        if !take_lease || group.outbox.is_empty() || !free {
            return None;
        }
        let token = uuid::Uuid::new_v4().to_string();
        group.lease = Some(Lease {
            token: token.clone(),
            until: now + self.settings.lease,
        });
        Some(token)
    }

    /// Whether this executor's tracker is the draft tracker: tickets are drafts kept with their
    /// groups, and no call is ever made for them.
    pub(super) fn drafts_only(&self) -> bool {
        self.tracker.name() == DRAFT_TRACKER
    }

    pub(super) fn delivery_record(
        &self,
        delivery: &str,
        group: Option<&GroupKey>,
        now: DateTime<Utc>,
    ) -> DeliveryRecord {
        DeliveryRecord {
            id: delivery.into(),
            group_key: group.cloned(),
            received_at: now,
            expires_at: now + self.settings.dedup_for,
        }
    }
}
