//! The executor's pull request side: a `pull_request` delivery, or a change to an alert seen only
//! on a pull request, applied to the pull request's summary comment and, on a merge, to the
//! tickets it fixes. `decide_pull_request` decides; this lists, posts and queues.
//!
//! # One comment however many deliveries race
//! A push fires `pull_request.synchronize` and, once analysed, a `code_scanning_alert` per new
//! alert; GitHub delivers them concurrently. Two workers that both found no comment would both
//! post one. So only the holder of the pull request record's lease (short and store-backed, the
//! protocol of a group's lease: a conditional write on the record's version) lists, decides and
//! writes the comment; others wait for it, then look again and find the comment id it stored. A
//! holder that crashed after posting but before storing the id is covered by the marker: the next
//! one finds the comment by `SUMMARY_MARKER` and edits it. Posting first and deleting the younger
//! of two duplicates afterwards was the alternative; every post notifies the pull request's
//! subscribers, deleted or not, and it needs the right to delete comments.
//!
//! # Merge notes, durable and once
//! Each ticket a merged pull request fixes gets its note as an `OutboxOp::Comment` queued on its
//! group, in one commit with a dedup record keyed by repository, pull request and group: a retry
//! or a redelivery never queues a second, and the group's outbox drains (and retries) as any
//! other.
//!
//! # GitHub calls per event
//! With a GitHub connection: one listing page of the pull request's alerts (per 100); when it has
//! any, one page of the base branch's open alerts (per 100); then, if the summary changed, one
//! PATCH (comment id known), or one comment listing page and a POST (first comment). An unchanged
//! summary costs the listings only; a closed pull request costs at most the PATCH.
//!
//! Without one, nothing is done for pull requests, except in the local mode
//! (`ExecutorSettings::pull_requests_from_store`): the pull request's alerts are what deliveries
//! told the store, and the summary is rendered and stored, not posted.

use super::{Applied, ExecuteError, Executor, Outcome, backoff};
use scantix_core::decide::action::{Action, Decision, SummaryWrite};
use scantix_core::decide::analysis::AnalysisKey;
use scantix_core::decide::pull_request::{
    KnownTicket, ListedAlert, Listing, MergeNote, PullRequestInputs, PullRequestTrigger,
    SUMMARY_MARKER, compare_sarif, decide_pull_request, fix_candidates, wants_listing,
};
use scantix_core::event::{AlertChange, AlertEvent, PullRequestChange, PullRequestEvent};
use scantix_core::finding::{AlertKind, AlertState, Finding, Repository, pull_request_of_ref};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::github::{AlertQuery, CommentWrite, GitHubError};
use scantix_core::ports::store::{Commit, Guarded, List, Members, StoreError, read_all};
use scantix_core::records::{
    AuditEntry, DeliveryRecord, GroupRecord, Lease, OutboxOp, PullRequestAnalysis,
    PullRequestRecord, Triage, Versioned,
};
use std::collections::{BTreeMap, BTreeSet};

/// SARIF findings read per analysis of a pull request for its summary, introduced and fixed each
/// (the comment lists 50; the rest are counted from the open lists without being read). Bounds
/// the reads of a refresh whatever the size of the analyses.
const SARIF_READS: usize = 200;

/// SARIF analyses (tool, category, ref) a pull request's summary reads; the oldest is forgotten
/// beyond this.
const MAX_PR_ANALYSES: usize = 16;

/// Page size of the reads of an analysis' open list.
const SARIF_LIST_PAGE: usize = 1000;

/// Which of a refresh's actions its caller reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Looks {
    /// Every action, a look that wrote nothing noted too (an analysis' report lists them).
    All,
    /// Only what was written: notes of looks that changed nothing are dropped.
    WrittenOnly,
}

/// What a look at a pull request was prompted by, besides its own delivery.
#[derive(Debug, Clone, Copy)]
enum Observed<'a> {
    Nothing,
    /// An alert delivery on the pull request's ref.
    Alert(&'a AlertEvent),
    /// SARIF analyses applied to the pull request's ref.
    Analyses(&'a [PullRequestAnalysis]),
}

impl Executor {
    /// Applies one `pull_request` delivery (`github:<X-GitHub-Delivery>`): the summary comment is
    /// refreshed (opened, reopened, new commits), finalised (closed), and on a merge each ticket
    /// the pull request fixes gets a comment naming it. A redelivery decides nothing again.
    pub async fn apply_pull_request(
        &self,
        delivery: &str,
        event: &PullRequestEvent,
    ) -> Result<Outcome, ExecuteError> {
        if self.store.get_delivery(delivery).await?.is_some() {
            return Ok(pull_request_outcome(delivery, true, Vec::new()));
        }
        let skipped = match self
            .not_covered(event.installation_id, &event.repository)
            .await?
        {
            Some(reason) => Some(reason),
            None if !self.reads_pull_requests() => {
                Some("no GitHub connection to read the pull request's alerts".to_owned())
            }
            None => None,
        };
        if let Some(reason) = skipped {
            self.remember(delivery, Vec::new()).await?;
            let noted = Action::PullRequestNoted {
                pull_request: event.number,
                reason,
            };
            return Ok(pull_request_outcome(delivery, false, vec![noted]));
        }
        let (actions, audit) = self
            .drive_pull_request(
                &event.repository,
                event.number,
                event.installation_id,
                PullRequestTrigger::Event(event),
                Some(delivery),
                Observed::Nothing,
            )
            .await?;
        if event.change == PullRequestChange::Merged {
            // Also after a retry, whose decision queues nothing new: drain what the first attempt
            // queued (a group whose outbox is empty costs one read).
            for group in self.fixed_groups(&event.repository, event.number).await? {
                self.sync_group(&group).await?;
            }
        }
        self.remember(delivery, audit).await?;
        Ok(pull_request_outcome(delivery, false, actions))
    }

    /// Refreshes the summary of the pull request `event`'s alert was seen on, if it was seen only
    /// on one (code scanning's `refs/pull/N/merge` or `/head`): its analysis ran, so what the
    /// summary says may have changed. Nothing for any other alert.
    pub async fn refresh_pull_request_of(
        &self,
        event: &AlertEvent,
    ) -> Result<Vec<Action>, ExecuteError> {
        let finding = &event.finding;
        let Some(number) = finding
            .pull_request()
            .filter(|_| finding.kind == AlertKind::CodeScanning)
        else {
            return Ok(Vec::new());
        };
        if !self.reads_pull_requests()
            || self
                .not_covered(event.installation_id, &finding.repository)
                .await?
                .is_some()
        {
            return Ok(Vec::new());
        }
        let driven = self
            .drive_pull_request(
                &finding.repository,
                number,
                event.installation_id,
                PullRequestTrigger::AlertChanged,
                None,
                Observed::Alert(event),
            )
            .await;
        // An alert's outcome reports a summary written, not every look that changed nothing.
        self.finish_refresh(&finding.repository, number, driven, Looks::WrittenOnly)
            .await
    }

    /// Refreshes pull request `number`'s summary after SARIF `analyses` of its ref were applied
    /// (remembering them on its record, so that every later look reads their open lists): its
    /// findings are listed there, never ticketed. A summary that cannot be written for good is
    /// noted, not an error: the analysis itself is applied.
    pub async fn refresh_pull_request_after_analysis(
        &self,
        repository: &Repository,
        number: u64,
        installation_id: Option<u64>,
        analyses: &[PullRequestAnalysis],
    ) -> Result<Vec<Action>, ExecuteError> {
        if !self.reads_pull_requests() {
            return Ok(vec![Action::PullRequestNoted {
                pull_request: number,
                reason: "no GitHub connection to comment on the pull request".into(),
            }]);
        }
        if let Some(reason) = self.not_covered(installation_id, repository).await? {
            return Ok(vec![Action::PullRequestNoted {
                pull_request: number,
                reason,
            }]);
        }
        let driven = self
            .drive_pull_request(
                repository,
                number,
                installation_id,
                PullRequestTrigger::AlertChanged,
                None,
                Observed::Analyses(analyses),
            )
            .await;
        self.finish_refresh(repository, number, driven, Looks::All)
            .await
    }

    /// The end of a refresh prompted by something already applied (an alert, an analysis), from
    /// what [`Self::drive_pull_request`] returned: the pull request's audit entries committed, and
    /// its actions as `looks` says. A summary that cannot be refreshed for good (no installation
    /// to act as, say) is noted rather than failing what prompted it forever; a failure a retry
    /// can mend is returned.
    async fn finish_refresh(
        &self,
        repository: &Repository,
        number: u64,
        driven: Result<(Vec<Action>, Vec<AuditEntry>), ExecuteError>,
        looks: Looks,
    ) -> Result<Vec<Action>, ExecuteError> {
        let (mut actions, audit) = match driven {
            Ok(done) => done,
            Err(e) if !e.is_retryable() => {
                tracing::warn!(repository = %repository.full_name, pull_request = number, error = %e, "pull request summary not refreshed");
                return Ok(vec![Action::PullRequestNoted {
                    pull_request: number,
                    reason: format!("summary not refreshed: {e}"),
                }]);
            }
            Err(e) => return Err(e),
        };
        if !audit.is_empty() {
            self.store
                .commit(Commit {
                    audit,
                    ..Commit::default()
                })
                .await?;
        }
        if looks == Looks::WrittenOnly {
            actions.retain(|a| !matches!(a, Action::PullRequestNoted { .. }));
        }
        Ok(actions)
    }

    /// Whether pull request summaries can be made: through GitHub, or locally from the store.
    fn reads_pull_requests(&self) -> bool {
        self.github.is_some() || self.settings.pull_requests_from_store
    }

    /// The pull request record of (`repository`, `number`) as stored, if any.
    pub async fn pull_request(
        &self,
        repository: u64,
        number: u64,
    ) -> Result<Option<PullRequestRecord>, ExecuteError> {
        Ok(self
            .store
            .get_pull_request(repository, number)
            .await?
            .map(|r| r.value))
    }

    /// Under the pull request's lease: list, decide, queue the merge notes, post the comment, keep
    /// the record. Returns the actions and the pull request's own audit entries. `observed` is
    /// the alert delivery that prompted the look, if one did.
    async fn drive_pull_request(
        &self,
        repository: &Repository,
        number: u64,
        installation_id: Option<u64>,
        trigger: PullRequestTrigger<'_>,
        delivery: Option<&str>,
        observed: Observed<'_>,
    ) -> Result<(Vec<Action>, Vec<AuditEntry>), ExecuteError> {
        let token = uuid::Uuid::new_v4().to_string();
        let held = self
            .lease_pull_request(repository, number, installation_id, &token)
            .await?;
        let mut record = held.value.clone();
        match observed {
            Observed::Alert(event) if self.github.is_none() => {
                remember_locally(&mut record, event);
            }
            Observed::Analyses(analyses) => remember_analyses(&mut record, analyses),
            Observed::Alert(_) | Observed::Nothing => {}
        }
        match self.decide_and_act(&record, trigger, delivery).await {
            Ok((mut next, actions, audit)) => {
                next.lease = None;
                match self
                    .store
                    .put_pull_request(Guarded {
                        value: next,
                        expected_version: Some(held.version),
                        previous: None,
                    })
                    .await
                {
                    Ok(_) => Ok((actions, audit)),
                    // The lease ran out mid-way and another worker took over: its record wins. A
                    // comment posted here is found again by its marker.
                    Err(StoreError::Conflict) => Err(busy(repository, number)),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => {
                // Free the lease so a retry can proceed at once; the record is otherwise as it was.
                let mut released = held.value;
                released.lease = None;
                let _ = self
                    .store
                    .put_pull_request(Guarded {
                        value: released,
                        expected_version: Some(held.version),
                        previous: None,
                    })
                    .await;
                Err(e)
            }
        }
    }

    /// Takes the pull request record's lease (creating the record if it is new), waiting for
    /// another holder up to `wait_for_lease`.
    async fn lease_pull_request(
        &self,
        repository: &Repository,
        number: u64,
        installation_id: Option<u64>,
        token: &str,
    ) -> Result<Versioned<PullRequestRecord>, ExecuteError> {
        let started = std::time::Instant::now();
        let mut waits = 0;
        loop {
            let now = (self.clock)();
            let stored = self.store.get_pull_request(repository.id, number).await?;
            let (mut record, expected_version) = match stored {
                Some(stored) => (stored.value, Some(stored.version)),
                None => (
                    PullRequestRecord::new(repository.clone(), number, now),
                    None,
                ),
            };
            if record
                .lease
                .as_ref()
                .is_some_and(|l| l.token != token && l.until > now)
            {
                if started.elapsed() >= self.settings.wait_for_lease {
                    return Err(busy(repository, number));
                }
                waits += 1;
                backoff(waits.min(6)).await;
                continue;
            }
            record.installation_id = record.installation_id.or(installation_id);
            record.lease = Some(Lease {
                token: token.to_owned(),
                until: now + self.settings.lease,
            });
            match self
                .store
                .put_pull_request(Guarded {
                    value: record.clone(),
                    expected_version,
                    previous: None,
                })
                .await
            {
                Ok(version) => {
                    return Ok(Versioned {
                        value: record,
                        version,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Lists, decides, queues the merge notes and posts the comment; returns the record to keep.
    async fn decide_and_act(
        &self,
        record: &PullRequestRecord,
        trigger: PullRequestTrigger<'_>,
        delivery: Option<&str>,
    ) -> Result<(PullRequestRecord, Vec<Action>, Vec<AuditEntry>), ExecuteError> {
        let listing = if wants_listing(trigger, record) {
            // A `pull_request` delivery says which branch it targets now.
            let base_ref = match trigger {
                PullRequestTrigger::Event(event) => event.base_ref.as_deref(),
                PullRequestTrigger::AlertChanged => record.base_ref.as_deref(),
            };
            self.list_pull_request(record, base_ref).await?
        } else {
            None
        };
        let decision = decide_pull_request(PullRequestInputs {
            trigger,
            record,
            listing: listing.as_ref(),
            now: (self.clock)(),
            delivery,
        });
        // First what must not be lost: the notes, durable in their groups' outboxes.
        for note in &decision.merge_notes {
            self.queue_merge_note(&decision.record, note).await?;
        }
        let mut next = decision.record;
        let mut actions = decision.actions;
        if let Some(body) = decision.comment {
            match self.post_summary(&next, &body).await {
                Ok((write, comment_id)) => {
                    next.comment_id = comment_id.or(next.comment_id);
                    actions.insert(
                        0,
                        Action::PullRequestSummary {
                            repository: next.repository.full_name.clone(),
                            pull_request: next.number,
                            comment: write,
                            comment_id: next.comment_id,
                            body,
                        },
                    );
                }
                Err(e) if !e.is_retryable() => {
                    // A refusal (the App may lack the pull request permission) must not fail the
                    // alert or pull request delivery forever: noted, and the summary kept unsent
                    // so the next event tries again.
                    tracing::warn!(repository = %next.repository.full_name, pull_request = next.number, error = %e, "pull request summary not posted");
                    next.comment_body = record.comment_body.clone();
                    actions.push(Action::PullRequestNoted {
                        pull_request: next.number,
                        reason: format!("summary not posted: {e}"),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok((next, actions, decision.audit))
    }

    /// Posts or edits the summary through GitHub; without a connection it is only rendered.
    async fn post_summary(
        &self,
        record: &PullRequestRecord,
        body: &str,
    ) -> Result<(SummaryWrite, Option<u64>), GitHubError> {
        let Some(clients) = &self.github else {
            return Ok((SummaryWrite::Rendered, None));
        };
        let github = clients.for_installation(record.installation_id)?;
        let write = github
            .upsert_marked_comment(
                &record.repository,
                record.number,
                SUMMARY_MARKER,
                body,
                record.comment_id,
            )
            .await?;
        let how = match write {
            CommentWrite::Created(_) => SummaryWrite::Created,
            CommentWrite::Edited(_) => SummaryWrite::Edited,
        };
        tracing::info!(repository = %record.repository.full_name, pull_request = record.number, comment = write.comment_id(), ?how, "pull request summary written");
        Ok((how, Some(write.comment_id())))
    }

    /// What is known of the pull request's alerts: GitHub's listings when connected (`None` when
    /// the repository has no code scanning to read), else what the store recorded; and in both,
    /// the findings of the SARIF analyses applied to its ref.
    async fn list_pull_request(
        &self,
        record: &PullRequestRecord,
        base_ref: Option<&str>,
    ) -> Result<Option<Listing>, ExecuteError> {
        let listing = match &self.github {
            Some(_) => self.github_listing(record, base_ref).await?,
            None => Some(self.listing_from_store(record).await?),
        };
        if record.sarif_analyses.is_empty() {
            return Ok(listing);
        }
        let mut listing = listing.unwrap_or(Listing {
            complete: true,
            ..Listing::default()
        });
        self.add_sarif_listing(&mut listing, record, base_ref)
            .await?;
        Ok(Some(listing))
    }

    /// GitHub's listings of the pull request's code scanning alerts and its base branch's.
    async fn github_listing(
        &self,
        record: &PullRequestRecord,
        base_ref: Option<&str>,
    ) -> Result<Option<Listing>, ExecuteError> {
        let Some(clients) = &self.github else {
            return Ok(None);
        };
        let github = clients.for_installation(record.installation_id)?;
        let repository = &record.repository;
        let kind = AlertKind::CodeScanning;
        let query = AlertQuery::pull_request(record.number);
        let Some(on_pr) = readable(github.list_all_alerts(repository, kind, &query).await)? else {
            return Ok(None);
        };
        let on_pull_request: Vec<ListedAlert> = on_pr.iter().map(ListedAlert::of).collect();
        if on_pull_request.is_empty() {
            // Not analysed (yet): the base branch could not change what there is to say.
            return Ok(Some(Listing {
                complete: true,
                ..Listing::default()
            }));
        }
        // The base branch's open alerts: the default branch's unless it targets another one.
        let open = AlertQuery {
            git_ref: base_ref.map(|base| format!("refs/heads/{base}")),
            ..AlertQuery::open()
        };
        let base = readable(github.list_all_alerts(repository, kind, &open).await)?;
        let open_on_base: Vec<ListedAlert> = base
            .unwrap_or_default()
            .iter()
            .map(ListedAlert::of)
            .collect();
        let candidates = fix_candidates(&on_pull_request, &open_on_base, true);
        let tickets = self.tickets_of(&candidates).await?;
        Ok(Some(Listing {
            on_pull_request,
            open_on_base,
            complete: true,
            tickets,
            ..Listing::default()
        }))
    }

    /// Adds the SARIF analyses of the pull request's ref to `listing`: each analysis' open list
    /// compared with the same tool's and category's on the base branch; the findings it
    /// introduces and those it fixes are read (the first [`SARIF_READS`] of each), the rest
    /// counted. A fixed finding is listed as fixed on the pull request explicitly, so the
    /// comparison never leans on GitHub's listing.
    async fn add_sarif_listing(
        &self,
        listing: &mut Listing,
        record: &PullRequestRecord,
        base_ref: Option<&str>,
    ) -> Result<(), ExecuteError> {
        let base_ref = match base_ref.or(record.repository.default_branch.as_deref()) {
            Some(branch) if branch.starts_with("refs/") => branch.to_owned(),
            Some(branch) => format!("refs/heads/{branch}"),
            None => crate::analysis::FALLBACK_REF.to_owned(),
        };
        for analysis in &record.sarif_analyses {
            let key = |git_ref: &str| AnalysisKey {
                repository_id: record.repository.id,
                tool: analysis.tool.clone(),
                category: analysis.category.clone(),
                git_ref: git_ref.to_owned(),
            };
            let on_pr = self.open_list(&key(&analysis.git_ref)).await?;
            let on_base = self.open_list(&key(&base_ref)).await?;
            let comparison = compare_sarif(&on_pr, &on_base, analysis.complete);
            listing.sarif_analysed = true;
            listing.more_still_open += comparison.still_open;
            *listing
                .more_introduced
                .entry(analysis.tool.clone())
                .or_default() += comparison.introduced.len().saturating_sub(SARIF_READS);
            for fingerprint in comparison.introduced.iter().take(SARIF_READS) {
                if let Some(found) = self.store.get_finding(fingerprint).await?
                    && found.value.is_open()
                {
                    let listed = ListedAlert::of_sarif(&found.value, AlertState::Open);
                    listing.on_pull_request.push(listed);
                }
            }
            let fixed: Vec<Fingerprint> = comparison.fixed.into_iter().take(SARIF_READS).collect();
            for fingerprint in &fixed {
                if let Some(found) = self.store.get_finding(fingerprint).await?
                    && found.value.is_open()
                {
                    let listed = ListedAlert::of_sarif(&found.value, AlertState::Fixed);
                    listing.open_on_base.push(ListedAlert {
                        state: AlertState::Open,
                        ..listed.clone()
                    });
                    listing.on_pull_request.push(listed);
                }
            }
            listing.tickets.extend(self.tickets_of(&fixed).await?);
        }
        Ok(())
    }

    /// The open list of analysis `key`, as the store holds it (identities only).
    async fn open_list(&self, key: &AnalysisKey) -> Result<BTreeSet<Fingerprint>, ExecuteError> {
        let id = key.id();
        let store = self.store.clone();
        let listed = read_all(|after| {
            let (store, id) = (store.clone(), id.clone());
            async move {
                store
                    .analysis_findings(&id, after.as_deref(), SARIF_LIST_PAGE)
                    .await
            }
        })
        .await?;
        Ok(listed.into_iter().collect())
    }

    /// The tickets the findings `fingerprints` are on (ticketed findings of groups that have, or
    /// await, a ticket).
    async fn tickets_of(
        &self,
        fingerprints: &[Fingerprint],
    ) -> Result<BTreeMap<Fingerprint, KnownTicket>, ExecuteError> {
        let mut groups: BTreeMap<GroupKey, Option<GroupRecord>> = BTreeMap::new();
        let mut tickets = BTreeMap::new();
        for fingerprint in fingerprints {
            let Some(finding) = self.store.get_finding(fingerprint).await? else {
                continue;
            };
            if finding.value.triage != Triage::Ticket {
                continue;
            }
            let key = finding.value.group_key;
            let group = match groups.get(&key) {
                Some(group) => group.clone(),
                None => {
                    let group = self.store.get_group(&key).await?.map(|g| g.value);
                    groups.insert(key.clone(), group.clone());
                    group
                }
            };
            if let Some(group) = group.filter(GroupRecord::has_or_awaits_ticket) {
                tickets.insert(
                    fingerprint.clone(),
                    KnownTicket {
                        group_key: key,
                        ticket: group.ticket.clone(),
                    },
                );
            }
        }
        Ok(tickets)
    }

    /// The local mode's listing: the pull request's alerts as deliveries recorded them, and the
    /// repository's ticketed code scanning alerts as the base. A full scan of the groups: fine
    /// for the embedded store, never used with a GitHub connection.
    async fn listing_from_store(
        &self,
        record: &PullRequestRecord,
    ) -> Result<Listing, ExecuteError> {
        let mut listing = Listing::default();
        let store = self.store.clone();
        let home = List::Home(record.repository.id.to_string());
        let groups = read_all(|after| {
            let (store, home) = (store.clone(), home.clone());
            async move { store.groups_in(&home, after.as_deref(), 200).await }
        })
        .await?;
        for stored in groups {
            let group = stored.value;
            if group.kind != AlertKind::CodeScanning {
                continue;
            }
            let key = group.key.clone();
            let members = read_all(|after| {
                let (store, key) = (store.clone(), key.clone());
                async move {
                    store
                        .group_findings(&key, Members::All, after.as_deref(), 200)
                        .await
                }
            })
            .await?;
            for member in members.iter().map(|m| &m.value) {
                let fingerprint = &member.fingerprint;
                let on_this_pr = member
                    .finding
                    .git_ref
                    .as_deref()
                    .and_then(pull_request_of_ref)
                    == Some(record.number);
                if on_this_pr {
                    listing.on_pull_request.push(ListedAlert::of_record(member));
                }
                if record.fixed_on_ref.contains(fingerprint) && member.is_open() {
                    listing.on_pull_request.push(ListedAlert {
                        state: AlertState::Fixed,
                        ..ListedAlert::of_record(member)
                    });
                }
                if member.is_ticketed() && member.is_open() {
                    listing.open_on_base.push(ListedAlert {
                        state: AlertState::Open,
                        ..ListedAlert::of_record(member)
                    });
                    if group.has_or_awaits_ticket() {
                        listing.tickets.insert(
                            fingerprint.clone(),
                            KnownTicket {
                                group_key: group.key.clone(),
                                ticket: group.ticket.clone(),
                            },
                        );
                    }
                }
            }
        }
        Ok(listing)
    }

    /// Queues `note` on its group, once per (pull request, group) however often this runs.
    async fn queue_merge_note(
        &self,
        record: &PullRequestRecord,
        note: &MergeNote,
    ) -> Result<(), ExecuteError> {
        let dedup = format!(
            "github-pr-merge:{}#{}:{}",
            record.repository.id, record.number, note.group_key
        );
        let mut conflicts = 0;
        loop {
            let now = (self.clock)();
            let Some(group) = self.store.get_group(&note.group_key).await? else {
                return Ok(());
            };
            let mut next = group.value.clone();
            next.push_op(OutboxOp::Comment {
                text: note.text.clone(),
            });
            next.updated_at = now;
            let mut decision = Decision {
                group_key: note.group_key.clone(),
                finding: None,
                findings: vec![],
                group: Some(next),
                content: None,
                audit: vec![note.audit.clone()],
                actions: vec![],
            };
            let lease = self.prepare_group(&mut decision, now, Some(&dedup), true);
            let commit = Commit {
                delivery: Some(self.delivery_record(&dedup, Some(&note.group_key), now)),
                group: decision
                    .group
                    .clone()
                    .map(|value| Guarded::replacing(value, Some(&group))),
                audit: decision.audit.clone(),
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    let applied = Applied {
                        group: decision.group.clone().map(|value| Versioned {
                            value,
                            version: group.version + 1,
                        }),
                        decision,
                        lease,
                    };
                    self.sync_committed(&applied).await?;
                    return Ok(());
                }
                Err(StoreError::DuplicateDelivery(_)) => return Ok(()),
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

    /// The groups a merged pull request's summary says it fixes.
    async fn fixed_groups(
        &self,
        repository: &Repository,
        number: u64,
    ) -> Result<Vec<GroupKey>, ExecuteError> {
        Ok(self
            .pull_request(repository.id, number)
            .await?
            .map(|r| r.summary.fixes.into_iter().map(|f| f.group_key).collect())
            .unwrap_or_default())
    }

    /// Why events of `repository` are not acted on, if they are not: the App was uninstalled or
    /// the repository taken out of it, or the installation is unknown and the deployment ignores
    /// those ([`super::UnknownInstallations`]).
    pub(crate) async fn not_covered(
        &self,
        installation_id: Option<u64>,
        repository: &Repository,
    ) -> Result<Option<String>, ExecuteError> {
        let unknown = self.settings.unknown_installations;
        let Some(installation) = installation_id else {
            return Ok(unknown.refusal(None));
        };
        Ok(match self.store.get_installation(installation).await? {
            Some(record) if !record.value.covers(repository.id) => Some(format!(
                "repository {} is not covered by installation {installation}",
                repository.full_name
            )),
            Some(_) => None,
            None => unknown.refusal(Some(installation)),
        })
    }

    /// Records the delivery as applied (with the pull request's audit entries).
    async fn remember(&self, delivery: &str, audit: Vec<AuditEntry>) -> Result<(), ExecuteError> {
        let now = (self.clock)();
        let record = DeliveryRecord {
            id: delivery.to_owned(),
            group_key: None,
            received_at: now,
            expires_at: now + self.settings.dedup_for,
        };
        match self
            .store
            .commit(Commit {
                delivery: Some(record),
                audit,
                ..Commit::default()
            })
            .await
        {
            // A concurrent copy recorded it first: its effects are the same as ours.
            Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A listing's findings, or `None` when the repository has nothing to read there (code scanning
/// not set up: 404; not enabled or not permitted: 403), as the sync treats those answers.
fn readable(
    listed: Result<Vec<Finding>, GitHubError>,
) -> Result<Option<Vec<Finding>>, GitHubError> {
    match listed {
        Ok(findings) => Ok(Some(findings)),
        Err(e @ (GitHubError::NotFound(_) | GitHubError::Forbidden(_))) => {
            tracing::info!(error = %e, "no code scanning results to read");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn busy(repository: &Repository, number: u64) -> ExecuteError {
    ExecuteError::PullRequestBusy {
        repository: repository.full_name.clone(),
        number,
    }
}

fn pull_request_outcome(delivery: &str, duplicate: bool, actions: Vec<Action>) -> Outcome {
    Outcome {
        delivery: delivery.to_owned(),
        duplicate,
        group: None,
        actions,
        ticket: None,
        ticket_state: None,
        ignored: None,
        inbox_settled: false,
    }
}

/// Remembers the SARIF analyses applied to the pull request's ref (one entry per tool, category
/// and ref, its completeness as last applied).
fn remember_analyses(record: &mut PullRequestRecord, analyses: &[PullRequestAnalysis]) {
    for analysis in analyses {
        let same = |known: &PullRequestAnalysis| {
            known.tool == analysis.tool
                && known.category == analysis.category
                && known.git_ref == analysis.git_ref
        };
        match record.sarif_analyses.iter_mut().find(|known| same(known)) {
            Some(known) => known.complete = analysis.complete,
            None => record.sarif_analyses.push(analysis.clone()),
        }
    }
    // Categories are the uploader's to choose: keep the record (and a refresh's reads) bounded.
    let over = record.sarif_analyses.len().saturating_sub(MAX_PR_ANALYSES);
    record.sarif_analyses.drain(..over);
}

/// The local mode's stand-in for GitHub's listing of the pull request's ref: a delivery showing
/// an alert fixed there (or back there) is remembered on the pull request's record, since
/// `decide` leaves the alert's own record, which speaks for its branch, as it was.
fn remember_locally(record: &mut PullRequestRecord, event: &AlertEvent) {
    let fingerprint = Fingerprint::of(&event.finding);
    match event.change {
        AlertChange::Fixed => {
            record.fixed_on_ref.insert(fingerprint);
        }
        AlertChange::Opened | AlertChange::Reappeared => {
            record.fixed_on_ref.remove(&fingerprint);
        }
        AlertChange::Dismissed | AlertChange::Updated => {}
    }
}
