//! Installations: an App installation's repositories recorded, so deliveries from uncovered
//! repositories are ignored.

use super::*;

impl Executor {
    /// Applies an installation event: which repositories the App covers. Idempotent (the record
    /// after an event does not depend on how often it was applied), audited under
    /// `installation/<id>`.
    pub async fn apply_installation(
        &self,
        delivery: &str,
        event: &InstallationEvent,
        actor: Option<&str>,
    ) -> Result<InstallationRecord, ExecuteError> {
        let mut conflicts = 0;
        let record = loop {
            let now = (self.clock)();
            let stored = self.store.get_installation(event.installation_id).await?;
            let next = apply_installation(stored.as_ref().map(|s| &s.value), event, now);
            let guarded = Guarded::replacing(next.clone(), stored.as_ref());
            match self.store.put_installation(guarded).await {
                Ok(_) => break next,
                Err(StoreError::Conflict) if conflicts < self.settings.max_conflicts => {
                    conflicts += 1;
                    backoff(conflicts).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let now = (self.clock)();
        let entry = AuditEntry {
            at: now,
            group_key: GroupKey::from_stored(format!("installation/{}", event.installation_id)),
            fingerprint: None,
            actor: actor.unwrap_or("github").to_owned(),
            action: "installation.changed".into(),
            reason: format!("{:?} on {}", event.change, event.account),
            delivery: Some(delivery.to_owned()),
            ticket: None,
            state: None,
        };
        match self
            .store
            .commit(Commit {
                delivery: Some(self.delivery_record(delivery, None, now)),
                audit: vec![entry],
                ..Commit::default()
            })
            .await
        {
            Ok(()) | Err(StoreError::DuplicateDelivery(_)) => Ok(record),
            Err(e) => Err(e.into()),
        }
    }
}
