//! Locally, the draft tracker stands in for Jira: this store view lets a Jira delivery that names a
//! draft ticket (`DRAFT-…`) reach that draft's group, so the Jira side of the product can be tried
//! without a Jira site.
//!
//! Why a view and not a second link: the engine finds a ticket's group by (tracker, key), and Jira
//! deliveries always say `jira` while drafts are linked as `draft`. Answering the lookup here keeps
//! the store file as the product writes it (no link that no tracker made) and touches nothing
//! else: every other call goes straight to the store. Used only while the tracker is the draft
//! one; with the Jira tracker, tickets are linked as `jira` and found directly.

use async_trait::async_trait;
use scantix::identity::{Fingerprint, GroupKey};
use scantix::state::{
    AuditEntry, DeliveryRecord, FindingRecord, GroupRecord, InstallationRecord, Versioned,
};
use scantix::store::{Commit, Guarded, Store, StoreError};
use scantix::tracker::draft::DraftTicket;
use std::sync::Arc;

/// The tracker name Jira deliveries carry.
const JIRA: &str = "jira";
/// The tracker name draft tickets are linked under.
const DRAFT: &str = "draft";

/// A store whose ticket lookups for Jira fall back to the draft tickets of the same key.
pub struct DraftAsJira {
    store: Arc<dyn Store>,
}

impl DraftAsJira {
    pub fn new(store: Arc<dyn Store>) -> DraftAsJira {
        DraftAsJira { store }
    }
}

#[async_trait]
impl Store for DraftAsJira {
    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        let linked = self.store.group_for_ticket(tracker, ticket_key).await?;
        if linked.is_some() || tracker != JIRA {
            return Ok(linked);
        }
        self.store.group_for_ticket(DRAFT, ticket_key).await
    }

    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        self.store.get_finding(fingerprint).await
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        self.store.get_group(key).await
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        self.store.get_delivery(id).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.store.commit(commit).await
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        self.store.put_group(group).await
    }

    async fn list_groups(&self) -> Result<Vec<Versioned<GroupRecord>>, StoreError> {
        self.store.list_groups().await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit_log(key).await
    }

    async fn link_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
        group: &GroupKey,
    ) -> Result<(), StoreError> {
        self.store.link_ticket(tracker, ticket_key, group).await
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        self.store.get_installation(id).await
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        self.store.put_installation(record).await
    }

    async fn list_installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        self.store.list_installations().await
    }

    async fn create_draft(&self, ticket: &DraftTicket) -> Result<bool, StoreError> {
        self.store.create_draft(ticket).await
    }

    async fn put_draft(&self, ticket: &DraftTicket) -> Result<(), StoreError> {
        self.store.put_draft(ticket).await
    }

    async fn get_draft(&self, key: &str) -> Result<Option<DraftTicket>, StoreError> {
        self.store.get_draft(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_jira_lookup_finds_a_draft_of_that_key_and_prefers_a_jira_link() {
        let store = Arc::new(MemoryStore::new());
        let drafted = GroupKey::from_stored("drafted".to_owned());
        let in_jira = GroupKey::from_stored("in-jira".to_owned());
        store
            .link_ticket(DRAFT, "DRAFT-1A2B3C4D", &drafted)
            .await
            .unwrap();
        store.link_ticket(DRAFT, "SEC-1", &drafted).await.unwrap();
        store.link_ticket(JIRA, "SEC-1", &in_jira).await.unwrap();
        let view = DraftAsJira::new(store);

        assert_eq!(
            view.group_for_ticket(JIRA, "DRAFT-1A2B3C4D").await.unwrap(),
            Some(drafted)
        );
        assert_eq!(
            view.group_for_ticket(JIRA, "SEC-1").await.unwrap(),
            Some(in_jira)
        );
        assert_eq!(view.group_for_ticket(JIRA, "SEC-2").await.unwrap(), None);
        // Only Jira's name falls back: another tracker's deliveries find their own links only.
        assert_eq!(
            view.group_for_ticket("github", "DRAFT-1A2B3C4D")
                .await
                .unwrap(),
            None
        );
    }
}
