//! Reading a store whole, for tests: every group, a group's findings, a group's ticket as it reads
//! now. (The product reads lists page by page; tests want it all at once.)

use scantix_core::identity::GroupKey;
use scantix_core::ports::store::{Members, Store, read_all};
use scantix_core::records::{FindingRecord, GroupRecord, Versioned};
use scantix_core::ticket::listing::TicketView;

/// Every group of `store`.
pub async fn groups(store: &dyn Store) -> Vec<Versioned<GroupRecord>> {
    read_all(|after| async move { store.all_groups(after.as_deref(), 500).await })
        .await
        .expect("listing the groups")
}

/// Every finding of group `key`, in rank order.
pub async fn findings(store: &dyn Store, key: &GroupKey) -> Vec<FindingRecord> {
    read_all(|after| async move {
        store
            .group_findings(key, Members::All, after.as_deref(), 500)
            .await
    })
    .await
    .expect("listing a group's findings")
    .into_iter()
    .map(|f| f.value)
    .collect()
}

/// The alert numbers of group `key`'s findings, sorted.
pub async fn numbers(store: &dyn Store, key: &GroupKey) -> Vec<u64> {
    let mut numbers: Vec<u64> = findings(store, key)
        .await
        .iter()
        .map(|f| f.number())
        .collect();
    numbers.sort_unstable();
    numbers
}

/// Group `key`'s ticket as it reads now (a draft's title, body, labels and comments).
pub async fn ticket(store: &dyn Store, key: &GroupKey) -> TicketView {
    scantix_core::ticket::listing::ticket(store, key)
        .await
        .expect("reading the ticket")
        .expect("the group has a ticket")
}

/// The ticket of the group that ticket `ticket_key` (a draft's key) belongs to.
pub async fn ticket_by_key(store: &dyn Store, tracker: &str, ticket_key: &str) -> TicketView {
    let key = store
        .group_for_ticket(tracker, ticket_key)
        .await
        .expect("reading the ticket link")
        .expect("the ticket is linked to a group");
    ticket(store, &key).await
}
