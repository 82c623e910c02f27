//! Overdue tickets: the sweeper's daily pass that flags open tickets past their SLA due date.

use super::*;

impl Executor {
    /// Flags every ticket past its due date (once each) and syncs those groups; returns how many
    /// were flagged. Reads the list of open tickets by due date up to today, not every group.
    pub async fn flag_overdue(&self, now: DateTime<Utc>) -> Result<u32, ExecuteError> {
        let mut flagged = 0;
        let mut after: Option<String> = None;
        'pages: loop {
            let page = self
                .store
                .groups_in(&List::Due, after.as_deref(), PAGE)
                .await?;
            for stored in page.items {
                // The list is in due-date order: past the first one still in time, none is late.
                if stored
                    .value
                    .due()
                    .is_none_or(|due| !scantix_core::sla::is_overdue(due, now))
                {
                    break 'pages;
                }
                let Some((mut group, entry)) =
                    scantix_core::decide::alert::decide_overdue(&stored.value, now)
                else {
                    continue;
                };
                let mut decision = Decision {
                    group_key: group.key.clone(),
                    finding: None,
                    findings: vec![],
                    group: None,
                    content: None,
                    audit: vec![entry],
                    actions: vec![],
                };
                group.lease = stored.value.lease.clone();
                decision.group = Some(group);
                let lease = self.prepare_group(&mut decision, now, None, true);
                let commit = Commit {
                    group: decision
                        .group
                        .clone()
                        .map(|value| Guarded::replacing(value, Some(&stored))),
                    audit: decision.audit.clone(),
                    ..Commit::default()
                };
                match self.store.commit(commit).await {
                    Ok(()) => {
                        flagged += 1;
                        let applied = Applied {
                            group: decision.group.clone().map(|value| Versioned {
                                value,
                                version: stored.version + 1,
                            }),
                            decision,
                            lease,
                        };
                        self.sync_committed(&applied).await?;
                    }
                    // An event changed the group meanwhile; the next sweep looks again.
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(flagged)
    }
}
