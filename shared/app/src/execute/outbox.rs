//! The outbox: the lease holder drains a group's queued tracker calls, once each and in order
//! (create bracketed by `CreateAttempt`, updates coalesced, dismissals after a won't fix).

use super::*;
use scantix_core::ticket::destination::TrackerSite;

impl Executor {
    /// Drains `key`'s outbox through the tracker if nobody else is: takes the lease when it is
    /// free (or expired) and drains; leaves a group whose lease is held to its holder. Returns the
    /// group as left. Safe to call any time (the sweeper calls it for groups with queued ops).
    pub async fn sync_group(&self, key: &GroupKey) -> Result<Option<GroupRecord>, ExecuteError> {
        let token = uuid::Uuid::new_v4().to_string();
        loop {
            let Some(current) = self.store.get_group(key).await? else {
                return Ok(None);
            };
            if current.value.outbox.is_empty() {
                return Ok(Some(current.value));
            }
            let now = (self.clock)();
            if current.value.lease.as_ref().is_some_and(|l| l.until > now) {
                // A live holder drains it, this op included.
                return Ok(Some(current.value));
            }
            let mut leased = current.value.clone();
            leased.lease = Some(Lease {
                token: token.clone(),
                until: now + self.settings.lease,
            });
            match self
                .store
                .put_group(Guarded::replacing(leased.clone(), Some(&current)))
                .await
            {
                Ok(version) => {
                    return self
                        .drain(
                            Versioned {
                                value: leased,
                                version,
                            },
                            &token,
                        )
                        .await
                        .map(Some);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Runs the outbox while holding the lease, then releases it.
    pub(super) async fn drain(
        &self,
        mut group: Versioned<GroupRecord>,
        token: &str,
    ) -> Result<GroupRecord, ExecuteError> {
        loop {
            // The group's own calls first, in order; copies to other trackers (`also` routes)
            // last, so that a copy's tracker being down holds up none of them.
            let next_op = group
                .value
                .outbox
                .iter()
                .find(|p| !matches!(p.op, OutboxOp::Copy { .. }))
                .or(group.value.outbox.first())
                .cloned();
            let Some(pending) = next_op else {
                // Release; if ops were appended meanwhile, the guarded write fails and the loop
                // picks them up.
                let released = self
                    .modify_group(group, token, None, |g, _| {
                        if g.outbox.is_empty() {
                            g.lease = None;
                        }
                    })
                    .await?;
                if released.value.outbox.is_empty() {
                    return Ok(released.value);
                }
                group = released;
                continue;
            };
            let real_ticket = !self.drafts_only() && !group.value.is_draft();
            if pending.op == OutboxOp::Refresh && real_ticket {
                group = self.coalesce(group, token).await?;
            }
            // A tracker call must finish inside the lease: another worker may take an expired
            // lease over and write the ticket too, and a late write from here would put an older
            // render over theirs. Renew the lease while more than half of it is left to lose;
            // losing it is `SyncPending`.
            let now = (self.clock)();
            if group
                .value
                .lease
                .as_ref()
                .is_some_and(|l| l.until - now < self.settings.lease / 2)
            {
                let until = now + self.settings.lease;
                group = self
                    .modify_group(group, token, None, |g, _| {
                        if let Some(lease) = &mut g.lease {
                            lease.until = until;
                        }
                    })
                    .await?;
            }
            let rendered_at = (self.clock)();
            // What the render sees; events change `updated_at` when they change the group.
            let rendered_from = group.value.updated_at;
            let result = match self.perform(&mut group, token, &pending).await {
                Ok(result) => result,
                Err(e) if matches!(pending.op, OutboxOp::Copy { .. }) && e.is_retryable() => {
                    // Only copies are left (they come last): the group's own ticket is as it
                    // should be, so this is no failure of the event that drained it. The copy
                    // stays queued for the group's next event or the sweeper.
                    tracing::warn!(group = %group.value.key, error = %e, "copy not sent yet; it stays queued");
                    let released = self
                        .modify_group(group, token, None, |g, _| g.lease = None)
                        .await?;
                    return Ok(released.value);
                }
                Err(e) => {
                    // Leave the op queued and free the lease so a retry can proceed at once.
                    let _ = self
                        .modify_group(group, token, None, |g, _| g.lease = None)
                        .await;
                    return Err(e);
                }
            };
            let renders = matches!(pending.op, OutboxOp::Create | OutboxOp::Refresh);
            let link = result.as_ref().map(|(ticket, _)| TicketLink {
                tracker: ticket.tracker.clone(),
                ticket_key: ticket.key.clone(),
                group: group.value.key.clone(),
            });
            let next = self
                .modify_group(group, token, link, |g, raced| {
                    g.outbox.retain(|p| p.id != pending.id);
                    if renders && real_ticket {
                        g.ticket_written_at = Some(rendered_at);
                    }
                    if pending.op == OutboxOp::Create {
                        // The ticket is recorded (or was already): nothing left to look for.
                        g.create_attempt = None;
                    }
                    if renders && (raced || g.updated_at != rendered_from) {
                        // The group changed while the ticket was being rendered and written (a
                        // racing event's refresh was folded into this one, or into the create):
                        // render it once more.
                        g.push_op(OutboxOp::Refresh);
                    }
                    if let Some((ticket, initial)) = &result
                        && g.ticket.is_none()
                    {
                        g.ticket = Some(ticket.clone());
                        // Its copies (`also` routes) are owed from the write that records it.
                        for tracker in g.destination.copies.clone() {
                            g.push_op(OutboxOp::Copy { tracker });
                        }
                        // The decided state wins (the group may already be stale); a fresh ticket
                        // starts where the tracker put it.
                        if g.ticket_state == TicketState::Draft {
                            g.ticket_state = *initial;
                        }
                    }
                    // The last op done: release in the same write (one round trip fewer). If a
                    // racing event appended ops, the re-read record has them and the lease stays.
                    if g.outbox.is_empty() {
                        g.lease = None;
                    }
                })
                .await?;
            group = next;
            if group.value.lease.is_none() {
                return Ok(group.value);
            }
        }
    }

    /// Before a refresh: when the ticket was written less than `settings.coalesce` ago, waits
    /// out the rest while holding `group`'s lease, then re-reads the group. Findings joining
    /// meanwhile (a burst: a first scan, a backfill) leave their refresh to this holder, so one
    /// update carries all of them. Returns the record still leased to `token`.
    pub(super) async fn coalesce(
        &self,
        group: Versioned<GroupRecord>,
        token: &str,
    ) -> Result<Versioned<GroupRecord>, ExecuteError> {
        let now = (self.clock)();
        let Some(written) = group.value.ticket_written_at else {
            return Ok(group);
        };
        let Ok(since) = (now - written).to_std() else {
            return Ok(group);
        };
        let remaining = group
            .value
            .lease
            .as_ref()
            .and_then(|l| (l.until - now).to_std().ok())
            .unwrap_or_default();
        // Never wait out the lease itself: another caller would take it over mid-write.
        let pause = self
            .settings
            .coalesce
            .saturating_sub(since)
            .min(remaining / 2);
        if pause.is_zero() {
            return Ok(group);
        }
        tokio::time::sleep(pause).await;
        match self.store.get_group(&group.value.key).await? {
            Some(current)
                if current
                    .value
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.token == token) =>
            {
                Ok(current)
            }
            // Not ours any more (the lease ran out while we waited and another worker took the
            // group over): its holder writes the ticket. Writing it from here too could land an
            // older render after theirs.
            _ => Err(ExecuteError::SyncPending(group.value.key.clone())),
        }
    }

    /// Performs one op; returns the ticket and its state when the op created (or found) it.
    /// `group` is the leased record, kept current when the op writes to it (a create does).
    pub(super) async fn perform(
        &self,
        leased: &mut Versioned<GroupRecord>,
        token: &str,
        pending: &PendingOp,
    ) -> Result<Option<(TicketRef, TicketState)>, ExecuteError> {
        let real_tracker = !self.drafts_only() && !leased.value.is_draft();
        if pending.op == OutboxOp::Create && leased.value.ticket.is_none() && real_tracker {
            return self.create_ticket(leased, token).await.map(Some);
        }
        let group = &leased.value;
        match &pending.op {
            OutboxOp::DismissAlert {
                number,
                reason,
                comment,
            } => {
                let Some(github) = &self.github else {
                    tracing::warn!(group = %group.key, number, "no GitHub connection: dismissal not sent");
                    return Ok(None);
                };
                let github = github.for_installation(group.installation_id)?;
                github
                    .dismiss_alert(&group.repository, group.kind, *number, *reason, comment)
                    .await?;
                return Ok(None);
            }
            OutboxOp::DismissPending => {
                self.dismiss_pending(group).await?;
                return Ok(None);
            }
            OutboxOp::AssignAlerts { login } => {
                self.assign_alerts(group, login.as_deref()).await?;
                return Ok(None);
            }
            _ => {}
        }
        if group.is_draft() || self.drafts_only() {
            // Drafts are settled in their commits; an op left from before is a no-op, except a
            // create, which gives the group its draft.
            return Ok(match (&pending.op, &group.ticket) {
                (OutboxOp::Create, None) => {
                    Some((TicketRef::draft(&group.key), TicketState::Draft))
                }
                _ => None,
            });
        }
        let ticket = match (&pending.op, &group.ticket) {
            // Created by an earlier run of this op (see `create_ticket`).
            (OutboxOp::Create, _) => return Ok(None),
            (_, Some(ticket)) => ticket,
            (op, None) => {
                // Unreachable by construction (a create is always queued first); dropping the op
                // beats wedging the outbox.
                tracing::warn!(group = %group.key, ?op, "op without a ticket dropped");
                return Ok(None);
            }
        };
        match &pending.op {
            OutboxOp::Create
            | OutboxOp::DismissAlert { .. }
            | OutboxOp::DismissPending
            | OutboxOp::AssignAlerts { .. } => {}
            OutboxOp::Copy { tracker } => {
                let content = self.render(group).await?;
                match self.tracker.copy_to(*tracker, &content).await {
                    Ok(copy) => {
                        tracing::info!(group = %group.key, copy = tracker.as_str(), ticket = copy.as_ref().map(|t| t.key.as_str()), "copy sent")
                    }
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    // A tracker the deployment does not have, or one that refuses the content:
                    // retrying cannot help, and the op would block nothing but itself.
                    Err(e) => {
                        tracing::warn!(group = %group.key, copy = tracker.as_str(), error = %e, "copy not sent; dropped");
                        let entry = AuditEntry {
                            at: (self.clock)(),
                            group_key: group.key.clone(),
                            fingerprint: None,
                            actor: "scantix".into(),
                            action: COPY_NOT_SENT.into(),
                            reason: format!("the copy to {} was not sent: {e}", tracker.as_str()),
                            delivery: None,
                            ticket: Some(ticket.key.clone()),
                            state: None,
                        };
                        self.store
                            .commit(Commit {
                                audit: vec![entry],
                                ..Commit::default()
                            })
                            .await?;
                    }
                }
            }
            OutboxOp::Assign { assignee } => {
                match self.tracker.assign(ticket, assignee.as_deref()).await {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    // A user the tracker refuses (not in the project, a stale owners map) stays
                    // refused: the op is dropped rather than left to block the calls behind it.
                    Err(e) => {
                        tracing::warn!(group = %group.key, ticket = %ticket.key, error = %e, "the tracker refused the assignee; the ticket keeps its own");
                    }
                }
            }
            OutboxOp::Refresh => {
                let content = self.render(group).await?;
                self.tracker.update(ticket, &content).await?
            }
            OutboxOp::Comment { text } => {
                let id = format!("{}-{}", group.key.label(), pending.id);
                self.tracker.comment(ticket, &id, text).await?
            }
            OutboxOp::Transition { to } => self.tracker.transition(ticket, *to).await?,
            OutboxOp::CloseNotPlanned => self.tracker.close_not_planned(ticket).await?,
        }
        Ok(None)
    }

    /// Assigns `group`'s open alerts in GitHub to `login` (`None`: to nobody), page by page. An
    /// alert GitHub no longer has, or a login it refuses, is skipped (with a warning): the
    /// others are still assigned, and a retry could not do better.
    pub(super) async fn assign_alerts(
        &self,
        group: &GroupRecord,
        login: Option<&str>,
    ) -> Result<(), ExecuteError> {
        let Some(clients) = &self.github else {
            tracing::warn!(group = %group.key, "no GitHub connection: alert assignment not sent");
            return Ok(());
        };
        let github = clients.for_installation(group.installation_id)?;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .group_findings(&group.key, Members::Ticketed, after.as_deref(), PAGE)
                .await?;
            for stored in page.items {
                let record = &stored.value;
                if !record.is_open() || !record.finding.kind.is_github_alert() {
                    continue;
                }
                match github
                    .assign_alert(
                        &record.finding.repository,
                        record.finding.kind,
                        record.number(),
                        login,
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(group = %group.key, number = record.number(), error = %e, "GitHub refused the alert's assignment");
                    }
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Sends GitHub the dismissals scantix owes for `group`'s findings (a "won't fix" closure),
    /// page by page, clearing each finding's debt once GitHub took it. A finding that came back
    /// open meanwhile keeps it unpaid: a person reopened it after the closure.
    pub(super) async fn dismiss_pending(&self, group: &GroupRecord) -> Result<(), ExecuteError> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .group_findings(&group.key, Members::Ticketed, after.as_deref(), PAGE)
                .await?;
            for stored in page.items {
                let record = &stored.value;
                let Some(owed) = &record.pending_dismissal else {
                    continue;
                };
                if record.finding.state != AlertState::Dismissed {
                    continue;
                }
                match &self.github {
                    Some(clients) => {
                        let github = clients.for_installation(group.installation_id)?;
                        github
                            .dismiss_alert(
                                &record.finding.repository,
                                record.finding.kind,
                                record.number(),
                                owed.reason,
                                &owed.comment,
                            )
                            .await?;
                    }
                    None => {
                        tracing::warn!(group = %group.key, number = record.number(), "no GitHub connection: dismissal not sent");
                    }
                }
                let mut paid = record.clone();
                paid.pending_dismissal = None;
                match self
                    .store
                    .commit(Commit {
                        findings: vec![Guarded::replacing(paid, Some(&stored))],
                        ..Commit::default()
                    })
                    .await
                {
                    // A webhook changed the finding meanwhile (GitHub's own `dismissed`, most
                    // likely, which settles the debt too); the dismissal is idempotent anyway.
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The group's ticket: found where an earlier create (or a store that lost track) left one,
    /// created otherwise. The create is bracketed in the group record: `sent_at` before the request
    /// goes out, the answer the moment it arrives, both under the lease. A retry after a crash
    /// anywhere in between then asks the tracker with what it knows (`find_after`): the answered
    /// ticket, or the time a create may have landed, which a tracker whose search lags its writes
    /// (Jira Cloud) needs to look consistently. Without an attempt on record, no create was ever
    /// sent for this group by this protocol; the lookup still runs, for tickets made before the
    /// store knew of them (a store reset, a crash in an older version).
    pub(super) async fn create_ticket(
        &self,
        leased: &mut Versioned<GroupRecord>,
        token: &str,
    ) -> Result<(TicketRef, TicketState), ExecuteError> {
        let content = self.render(&leased.value).await?;
        // Looked for where the group files it (a repository's own project, say).
        let existing = match &leased.value.create_attempt {
            Some(attempt) => {
                self.tracker
                    .find_after(&content, attempt, (self.clock)())
                    .await?
            }
            None => self.tracker.find_for(&content).await?,
        };
        if let Some(ticket) = existing {
            let answered = leased
                .value
                .create_attempt
                .as_ref()
                .and_then(|a| a.answered.as_ref())
                .filter(|created| created.ticket == ticket);
            let state = match answered {
                Some(created) => created.state,
                // Found after a crash: it was created open.
                None => TicketState::Open,
            };
            tracing::info!(group = %leased.value.key, ticket = %ticket, "ticket found, not created again");
            return Ok((ticket, state));
        }
        let sent_at = (self.clock)();
        *leased = self
            .modify_group(leased.clone(), token, None, |g, _| {
                g.create_attempt = Some(CreateAttempt {
                    sent_at,
                    answered: None,
                });
            })
            .await?;
        let created = self.tracker.create_with_receipt(&content).await?;
        // Durable before anything else can fail (the reverse link, the final write): a retry uses
        // this answer instead of a search that may not show the ticket yet.
        *leased = self
            .modify_group(leased.clone(), token, None, |g, _| {
                if let Some(attempt) = &mut g.create_attempt {
                    attempt.answered = Some(created.clone());
                }
            })
            .await?;
        tracing::info!(group = %leased.value.key, ticket = %created.ticket, "ticket created");
        Ok((created.ticket, created.state))
    }

    /// Read-modify-write of a leased group, re-reading on conflicts (events keep appending to the
    /// outbox and changing counts while the lease holder works). `change` is told whether anybody
    /// else wrote the group since the holder last read it. Returns the group as written.
    pub(super) async fn modify_group(
        &self,
        mut group: Versioned<GroupRecord>,
        token: &str,
        link: Option<TicketLink>,
        change: impl Fn(&mut GroupRecord, bool),
    ) -> Result<Versioned<GroupRecord>, ExecuteError> {
        let mut raced = false;
        loop {
            if group.value.lease.as_ref().is_none_or(|l| l.token != token) {
                // Our lease expired and somebody else took over: they own the outbox now.
                return Err(ExecuteError::SyncPending(group.value.key.clone()));
            }
            let mut next = group.value.clone();
            change(&mut next, raced);
            let commit = Commit {
                group: Some(Guarded::replacing(next.clone(), Some(&group))),
                links: link.iter().cloned().collect(),
                audit: ticket_recorded(&group.value, &next, (self.clock)()),
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => {
                    return Ok(Versioned {
                        value: next,
                        version: group.version + 1,
                    });
                }
                Err(StoreError::Conflict) => {
                    raced = true;
                    let key = group.value.key.clone();
                    group = self
                        .store
                        .get_group(&key)
                        .await?
                        .ok_or(StoreError::Conflict)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The audit entry of a ticket the tracker created, written with the write that records it on its
/// group: the "ticketed" step of the chain of custody (`ticket.requested` is when scantix decided
/// to ask for it).
fn ticket_recorded(
    before: &GroupRecord,
    after: &GroupRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<AuditEntry> {
    let Some(ticket) = after.ticket.as_ref().filter(|_| before.ticket.is_none()) else {
        return Vec::new();
    };
    let place = ticket
        .url
        .as_deref()
        .map(|url| format!(" ({url})"))
        .unwrap_or_default();
    let entry = |action: &str, reason: String| AuditEntry {
        at: now,
        group_key: after.key.clone(),
        fingerprint: None,
        actor: ticket.tracker.clone(),
        action: action.into(),
        reason,
        delivery: None,
        ticket: Some(ticket.key.clone()),
        state: None,
    };
    let mut entries = vec![entry(
        TICKET_CREATED,
        format!("{} created in {}{place}", ticket.key, ticket.tracker),
    )];
    // The repository's routes chose a tracker the deployment does not have: said on the group,
    // where its chain of custody is read, not only in a log line.
    let filed_in = TrackerSite::named(&ticket.tracker).kind;
    if let Some(routed) = after.destination.tracker
        && routed != filed_in
    {
        entries.push(entry(
            TICKET_ROUTE_UNAVAILABLE,
            format!(
                "the repository's `routes` send this group to {}, a tracker this deployment does \
                 not have (SCANTIX_ROUTE_TRACKERS); filed in {} instead",
                routed.as_str(),
                ticket.tracker
            ),
        ));
    }
    entries
}

/// The audit action saying a group's route named a tracker the deployment does not have.
pub const TICKET_ROUTE_UNAVAILABLE: &str = "ticket.route_unavailable";
/// The audit action saying an `also` route's copy could not be sent, and why.
pub const COPY_NOT_SENT: &str = "ticket.copy_not_sent";
