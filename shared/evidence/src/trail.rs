//! The chain of custody (`scantix audit`): what happened to a ticket, group, repository or
//! finding, oldest first, with the actor and time of every step — detected and triaged (the
//! verdict and its reason), ticket requested and created, findings joining, state changes,
//! verifications of closures, dismissals with their reason.
//!
//! Each subject is read through an access pattern: a group's audit log (`Store::audit_log`), a
//! ticket's group (`group_for_ticket`), a finding's record (`get_finding`), a repository's groups
//! (its `Home` list, its id known from the installations), everything in a period (the day index).

use crate::EvidenceError;
use crate::read::changes_between;
use chrono::{DateTime, Duration, Utc};
use scantix_core::identity::{Fingerprint, GroupKey};
use scantix_core::ports::store::{List, Store, read_all};
use scantix_core::records::{AuditEntry, GroupRecord};

/// What a trail is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A ticket by its tracker key (`SEC-42`, `DRAFT-1A2B3C4D`, `acme/shop#7`), or
    /// `<tracker>:<key>` when two trackers could share a key.
    Ticket(String),
    Group(GroupKey),
    /// `owner/name`, as GitHub spells it (case does not matter).
    Repository(String),
    /// A finding's id: `<repository id>/<kind>/<number>` (as `audit` and `tickets` print it).
    Finding(Fingerprint),
    /// Every change of the period.
    Everything,
}

/// The trackers a bare ticket key is looked up in (a ticket link is keyed by tracker and key).
pub const TRACKERS: &[&str] = &["draft", "jira", "github", "linear", "servicenow", "email"];

/// The period a trail covers when none is given and the subject is the whole store: the issue's
/// `--since 30d`.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// How many groups one read of a list asks for.
const PAGE: usize = 200;

/// The audit entries about `subject` from `since` (all of them without it, except for
/// `Everything`, which reads the last `DEFAULT_PERIOD_DAYS`) up to `now`, oldest first.
pub async fn trail(
    store: &dyn Store,
    subject: &Subject,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, EvidenceError> {
    let mut entries = match subject {
        Subject::Group(key) => {
            // A pull request's entries are kept under a key of their own (`<repo>/pull/<n>`),
            // with no group record: an empty log is what says the key is unknown.
            let entries = store.audit_log(key).await?;
            if entries.is_empty() && store.get_group(key).await?.is_none() {
                return Err(EvidenceError::NotFound(format!(
                    "no group `{key}` in the store"
                )));
            }
            entries
        }
        Subject::Ticket(ticket) => {
            let key = ticket_group(store, ticket).await?;
            store.audit_log(&key).await?
        }
        Subject::Finding(fingerprint) => {
            let record = store.get_finding(fingerprint).await?.ok_or_else(|| {
                EvidenceError::NotFound(format!(
                    "no finding `{fingerprint}` in the store (ids read <repository id>/<kind>/<number>)"
                ))
            })?;
            // The finding's own entries, and its ticket's (created, moved, closed): the steps
            // of the ticket it was on are steps of its custody too.
            store
                .audit_log(&record.value.group_key)
                .await?
                .into_iter()
                .filter(|e| e.fingerprint.as_ref().is_none_or(|f| f == fingerprint))
                .collect()
        }
        Subject::Repository(name) => repository_trail(store, name).await?,
        Subject::Everything => {
            let from = since.unwrap_or(now - Duration::days(DEFAULT_PERIOD_DAYS));
            changes_between(store, from, now).await?
        }
    };
    entries.retain(|e| since.is_none_or(|since| e.at >= since) && e.at <= now);
    // Stable: entries of one instant keep the order they were written in.
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}

/// The group of a ticket named by key, in whichever tracker holds it.
async fn ticket_group(store: &dyn Store, ticket: &str) -> Result<GroupKey, EvidenceError> {
    let named = ticket
        .split_once(':')
        .filter(|(tracker, _)| TRACKERS.contains(tracker));
    let candidates: Vec<(&str, &str)> = match named {
        Some((tracker, key)) => vec![(tracker, key)],
        None => TRACKERS.iter().map(|t| (*t, ticket)).collect(),
    };
    let mut found = Vec::new();
    for (tracker, key) in candidates {
        if let Some(group) = store.group_for_ticket(tracker, key).await? {
            found.push((tracker, group));
        }
    }
    match found.as_slice() {
        [(_, group)] => Ok(group.clone()),
        [] => Err(EvidenceError::NotFound(format!(
            "no ticket `{ticket}` in the store"
        ))),
        several => Err(EvidenceError::BadInput(format!(
            "ticket `{ticket}` is in several trackers ({}): name one as <tracker>:{ticket}",
            several
                .iter()
                .map(|(t, _)| *t)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Every entry about the repository `name`: its own groups' entries, and those of organisation-
/// wide groups that are about its findings (or about the ticket they share).
async fn repository_trail(store: &dyn Store, name: &str) -> Result<Vec<AuditEntry>, EvidenceError> {
    let groups = repository_groups(store, name).await?;
    if groups.is_empty() {
        return Err(EvidenceError::NotFound(format!(
            "no group of repository `{name}` in the store"
        )));
    }
    let mut entries = Vec::new();
    for group in groups {
        let ids: Vec<String> = group
            .repository_ids
            .iter()
            .map(|id| format!("{id}/"))
            .collect();
        let of_group = store.audit_log(&group.key).await?;
        entries.extend(of_group.into_iter().filter(|e| {
            group.whole
                || e.fingerprint
                    .as_ref()
                    .is_none_or(|f| ids.iter().any(|id| f.as_str().starts_with(id)))
        }));
    }
    Ok(entries)
}

/// A group with findings of the repository asked about.
struct RepositoryGroup {
    key: GroupKey,
    /// Every entry of the group is about the repository (a group of that repository alone).
    whole: bool,
    /// The repository's ids (one, unless it was deleted and recreated under the same name).
    repository_ids: Vec<u64>,
}

/// The groups of repository `name`: from the `Home` lists of its id (and of its organisation, for
/// organisation-wide groups), the id known from the installations that cover it. A store without
/// installations (a local one, filled by `scantix deliver`) is listed once instead, as
/// `scantix tickets` lists it.
async fn repository_groups(
    store: &dyn Store,
    name: &str,
) -> Result<Vec<RepositoryGroup>, EvidenceError> {
    let named = |full_name: &str| full_name.eq_ignore_ascii_case(name);
    let mut ids: Vec<u64> = store
        .installations()
        .await?
        .iter()
        .flat_map(|i| i.value.repositories.values())
        .filter(|r| named(&r.full_name))
        .map(|r| r.id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let owner = name.split('/').next().unwrap_or_default().to_lowercase();
    let candidates: Vec<GroupRecord> = if ids.is_empty() {
        read_all(
            |after: Option<String>| async move { store.all_groups(after.as_deref(), PAGE).await },
        )
        .await?
        .into_iter()
        .map(|g| g.value)
        .collect()
    } else {
        let mut lists: Vec<List> = ids.iter().map(|id| List::Home(id.to_string())).collect();
        lists.push(List::Home(format!("org:{owner}")));
        let mut groups = Vec::new();
        for list in &lists {
            let page = read_all(|after: Option<String>| async move {
                store.groups_in(list, after.as_deref(), PAGE).await
            })
            .await?;
            groups.extend(page.into_iter().map(|g| g.value));
        }
        groups
    };
    Ok(candidates
        .into_iter()
        .filter_map(|group| {
            let own = named(&group.repository.full_name);
            let shared = group.facets.repositories.values.iter().any(|r| named(r));
            if !own && !shared {
                return None;
            }
            let mut repository_ids = ids.clone();
            if own && !repository_ids.contains(&group.repository.id) {
                repository_ids.push(group.repository.id);
            }
            Some(RepositoryGroup {
                whole: own && group.scope == scantix_core::identity::GroupScope::Repository,
                key: group.key,
                repository_ids,
            })
        })
        .collect())
}
