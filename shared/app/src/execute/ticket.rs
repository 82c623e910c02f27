//! Tickets: a person's change in the tracker (closed, reopened, deleted, won't fix) committed in
//! chunks, under the settings of the ticket's repository, with the findings it resolves.

use super::*;
use scantix_core::ticket::destination::TrackerKind;

impl Executor {
    /// Applies one tracker event (a ticket moved, deleted, commented), delivered as `delivery`
    /// (`jira:<X-Atlassian-Webhook-Identifier>`), under the executor's configuration. Events about
    /// tickets scantix does not track are recorded as seen and otherwise ignored.
    pub async fn apply_ticket(
        &self,
        delivery: &str,
        event: &TicketEvent,
    ) -> Result<Outcome, ExecuteError> {
        self.apply_ticket_with(delivery, event, None).await
    }

    /// [`Executor::apply_ticket`], deciding under the settings of the ticket's repository as
    /// `settings` reads them (its `.github/scantix.yml`: `verify-closure`, `resolutions`,
    /// `recreate-deleted-tickets`, …), the same settings its alerts are judged by; `None` (no
    /// GitHub connection) decides under the executor's configuration.
    pub async fn apply_ticket_with(
        &self,
        delivery: &str,
        event: &TicketEvent,
        settings: Option<&SettingsSource>,
    ) -> Result<Outcome, ExecuteError> {
        if let Some(seen) = self.store.get_delivery(delivery).await? {
            let synced = match &seen.group_key {
                Some(key) => self.sync_group(key).await?,
                None => None,
            };
            return Ok(Outcome {
                delivery: delivery.into(),
                duplicate: true,
                group: seen.group_key,
                actions: vec![],
                ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
                ticket_state: synced.as_ref().map(|g| g.ticket_state),
                ignored: None,
                inbox_settled: false,
            });
        }
        let mut key = self
            .store
            .group_for_ticket(&event.tracker, &event.ticket_key)
            .await?;
        // A ticket is found by (tracker, key) only, whichever of the deployment's trackers is
        // its main one: a delivery from one tracker never reaches a group filed in another
        // (a Jira key that happens to spell a ServiceNow sys_id, or the reverse). The one
        // exception is a deployment whose main tracker is scantix's own (the local draft mode,
        // the in-memory tracker): drafts stand in for Jira and Jira deliveries name draft
        // tickets; there no vendor's tracker holds a ticket to be confused with.
        let stand_in = self.tracker.site().kind == TrackerKind::Draft;
        if key.is_none() && event.tracker != self.tracker.name() && stand_in {
            key = self
                .store
                .group_for_ticket(self.tracker.name(), &event.ticket_key)
                .await?;
        }
        let Some(key) = key else {
            let now = (self.clock)();
            return match self
                .store
                .commit(Commit {
                    delivery: Some(self.delivery_record(delivery, None, now)),
                    ..Commit::default()
                })
                .await
            {
                Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(Outcome {
                    delivery: delivery.into(),
                    duplicate: false,
                    group: None,
                    actions: vec![Action::Ignored {
                        reason: format!("{} is not a scantix ticket", event.ticket_key),
                    }],
                    ticket: None,
                    ticket_state: None,
                    ignored: None,
                    inbox_settled: false,
                }),
                Err(e) => Err(e.into()),
            };
        };
        let mut conflicts = 0;
        let mut open: Option<Vec<Versioned<FindingRecord>>> = None;
        let mut verification: Option<Verification> = None;
        // Read once, with the group: its repository does not change between attempts.
        let mut config: Option<Config> = None;
        let (decision, committed, lease) = loop {
            let now = (self.clock)();
            let group = self
                .store
                .get_group(&key)
                .await?
                .ok_or(StoreError::Corrupt(format!(
                    "ticket {} links to missing group {key}",
                    event.ticket_key
                )))?;
            let config: &Config = match &mut config {
                Some(config) => config,
                unread => unread.insert(self.ticket_config(&group.value, settings, event).await),
            };
            let open_records: Option<Vec<FindingRecord>> = open
                .as_ref()
                .map(|open| open.iter().map(|f| f.value.clone()).collect());
            let inputs = TicketInputs {
                event,
                group: &group.value,
                open_findings: open_records.as_deref(),
                verification: verification.as_ref(),
                config,
                now,
                delivery: Some(delivery),
            };
            let mut decision = match decide_ticket(inputs) {
                TicketDecision::Decided(decision) => *decision,
                TicketDecision::NeedsOpenFindings => {
                    open = Some(self.open_findings(&key).await?);
                    continue;
                }
                TicketDecision::NeedsVerification(fingerprints) => {
                    let records = open.as_deref().unwrap_or_default();
                    verification = Some(self.verify(&group.value, records, &fingerprints).await?);
                    continue;
                }
            };
            let budget = self
                .budget_step(&mut decision, Some(&group), config, now, Some(delivery))
                .await?;
            let lease = self.prepare_group(&mut decision, now, Some(delivery), true);
            let versions: BTreeMap<&Fingerprint, &Versioned<FindingRecord>> = open
                .iter()
                .flatten()
                .map(|f| (&f.value.fingerprint, f))
                .collect();
            match self
                .commit_in_chunks(delivery, &decision, &group, &versions, budget.writes, now)
                .await
            {
                Ok(version) => {
                    self.follow_budget(&budget.follow).await;
                    let committed = decision
                        .group
                        .clone()
                        .map(|value| Versioned { value, version });
                    break (decision, committed, lease);
                }
                Err(StoreError::Conflict) => {
                    conflicts += 1;
                    if conflicts >= self.settings.max_conflicts {
                        return Err(ExecuteError::Contention(conflicts));
                    }
                    // What changed may be the findings read: read them again.
                    open = None;
                    verification = None;
                    backoff(conflicts).await;
                }
                Err(StoreError::DuplicateDelivery(_)) => {
                    let synced = self.sync_group(&key).await?;
                    return Ok(Outcome {
                        delivery: delivery.into(),
                        duplicate: true,
                        group: Some(key),
                        actions: vec![],
                        ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
                        ticket_state: synced.as_ref().map(|g| g.ticket_state),
                        ignored: None,
                        inbox_settled: false,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        };
        let applied = Applied {
            decision,
            group: committed,
            lease,
        };
        let synced = self.sync_committed(&applied).await?;
        Ok(Outcome {
            delivery: delivery.into(),
            duplicate: false,
            group: Some(applied.decision.group_key),
            actions: applied.decision.actions,
            ticket: synced.as_ref().and_then(|g| g.ticket.clone()),
            ticket_state: synced.as_ref().map(|g| g.ticket_state),
            ignored: None,
            inbox_settled: false,
        })
    }

    /// Commits a tracker decision that may change many findings (a ticket of thousands closed as
    /// "won't fix"): in writes of at most `CHUNK_FINDINGS` findings, each with the group's counts
    /// moved for just those findings, the last with the decided group, the audit and the
    /// delivery record (and the ticket budgets it moved). Each write is consistent on its own, so a crash between two leaves a
    /// group whose counts match its findings, and the retried delivery decides the rest. Returns
    /// the group's version after the last write.
    pub(super) async fn commit_in_chunks(
        &self,
        delivery: &str,
        decision: &Decision,
        group: &Versioned<GroupRecord>,
        versions: &BTreeMap<&Fingerprint, &Versioned<FindingRecord>>,
        budgets: Vec<Guarded<BudgetLedger>>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let guarded = |record: &FindingRecord| {
            Guarded::replacing(record.clone(), versions.get(&record.fingerprint).copied())
        };
        let chunks: Vec<&[FindingRecord]> = decision.findings.chunks(CHUNK_FINDINGS).collect();
        let mut base = group.clone();
        for chunk in chunks.iter().take(chunks.len().saturating_sub(1)) {
            let mut partial = base.value.clone();
            for record in *chunk {
                let old = versions.get(&record.fingerprint).map(|v| &v.value);
                partial.absorb(old, record);
            }
            self.store
                .commit(Commit {
                    findings: chunk.iter().map(&guarded).collect(),
                    group: Some(Guarded::replacing(partial.clone(), Some(&base))),
                    ..Commit::default()
                })
                .await?;
            base = Versioned {
                value: partial,
                version: base.version + 1,
            };
        }
        let last = chunks.last().copied().unwrap_or_default();
        let commit = Commit {
            delivery: Some(self.delivery_record(delivery, Some(&decision.group_key), now)),
            findings: last.iter().map(&guarded).collect(),
            group: decision
                .group
                .clone()
                .map(|value| Guarded::replacing(value, Some(&base))),
            content: None,
            links: draft_links(decision, Some(&base)),
            audit: decision.audit.clone(),
            analysis: Vec::new(),
            budgets,
            settles: None,
        };
        let changes_group = commit.group.is_some();
        self.store.commit(commit).await?;
        Ok(base.version + u64::from(changes_group))
    }

    /// Every open ticketed finding of group `key`, with the versions they were read at.
    pub async fn open_findings(
        &self,
        key: &GroupKey,
    ) -> Result<Vec<Versioned<FindingRecord>>, ExecuteError> {
        let store = self.store.clone();
        Ok(read_all(|after| {
            let store = store.clone();
            let key = key.clone();
            async move {
                store
                    .group_findings(&key, Members::OpenTicketed, after.as_deref(), PAGE)
                    .await
            }
        })
        .await?)
    }

    /// What a ticket for `group` says now: its long texts and its first findings read from the
    /// store, rendered.
    pub async fn render(&self, group: &GroupRecord) -> Result<TicketContent, ExecuteError> {
        Ok(scantix_core::ticket::listing::render(self.store.as_ref(), group).await?)
    }

    /// The configuration a tracker event on `group` is decided under: its repository's settings
    /// when `settings` can read them (defaults where GitHub cannot be read, as for its alerts),
    /// else the executor's. Which tracker accounts are scantix's own is the deployment's to say,
    /// whichever applies: a repository's file cannot make a person's changes count as echoes.
    pub(super) async fn ticket_config(
        &self,
        group: &GroupRecord,
        settings: Option<&SettingsSource>,
        event: &TicketEvent,
    ) -> Config {
        let mut config = match settings {
            Some(source) => {
                let repo = source
                    .settings_for(group.installation_id, &group.repository)
                    .await;
                repo.engine.clone()
            }
            None => self.config.clone(),
        };
        config.service_accounts = self.service_accounts(event).await;
        config
    }

    /// The tracker accounts whose changes are scantix's own: those configured, and the one its
    /// tracker credential is (asked of the tracker once per process). Asked only for an event
    /// that names its actor: only such an event can be recognised as an echo.
    pub(super) async fn service_accounts(&self, event: &TicketEvent) -> Vec<String> {
        let mut accounts = self.config.service_accounts.clone();
        if event.actor_id.is_none() {
            return accounts;
        }
        let retry = self.settings.own_accounts_retry;
        if let Some(own) = self.own_accounts.get(self.tracker.as_ref(), retry).await {
            for account in own {
                if !accounts.contains(account) {
                    accounts.push(account.clone());
                }
            }
        }
        accounts
    }

    /// Asks GitHub for the current state of `fingerprints` (among `open`, the group's open
    /// findings).
    pub(super) async fn verify(
        &self,
        group: &GroupRecord,
        open: &[Versioned<FindingRecord>],
        fingerprints: &[Fingerprint],
    ) -> Result<Verification, ExecuteError> {
        let mut states = Verification::new();
        let by_fingerprint: BTreeMap<&Fingerprint, &FindingRecord> = open
            .iter()
            .map(|f| (&f.value.fingerprint, &f.value))
            .collect();
        for fp in fingerprints {
            let Some(record) = by_fingerprint.get(fp) else {
                continue;
            };
            let state = match &self.github {
                Some(clients) => {
                    let github = clients.for_installation(group.installation_id)?;
                    github
                        .alert_state(&record.finding.repository, group.kind, record.number())
                        .await?
                }
                None => record.finding.state,
            };
            states.insert(fp.clone(), state);
        }
        Ok(states)
    }
}
