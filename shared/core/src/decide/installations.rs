//! Installation events applied to the installation record (pure). Newly covered repositories start
//! with no sync progress, which is what makes the sweeper backfill their existing alerts.

use crate::event::{InstallationChange, InstallationEvent, NamedRepository};
use crate::records::{CoveredRepository, InstallationRecord};
use chrono::{DateTime, Utc};

/// The installation record after `event`.
pub fn apply_installation(
    stored: Option<&InstallationRecord>,
    event: &InstallationEvent,
    now: DateTime<Utc>,
) -> InstallationRecord {
    let mut record = stored.cloned().unwrap_or_else(|| InstallationRecord {
        id: event.installation_id,
        account: event.account.clone(),
        active: true,
        repositories: Default::default(),
        updated_at: now,
    });
    let cover = |record: &mut InstallationRecord, repos: &[NamedRepository]| {
        for repo in repos {
            let entry = record
                .repositories
                .entry(repo.id)
                .or_insert_with(|| CoveredRepository {
                    id: repo.id,
                    full_name: repo.full_name.clone(),
                    active: true,
                    sync: Default::default(),
                });
            entry.active = true;
            entry.full_name = repo.full_name.clone();
        }
    };
    match &event.change {
        InstallationChange::Created(repos) => {
            record.active = true;
            cover(&mut record, repos);
        }
        InstallationChange::Deleted | InstallationChange::Suspended => record.active = false,
        InstallationChange::Unsuspended => record.active = true,
        InstallationChange::RepositoriesAdded(repos) => cover(&mut record, repos),
        InstallationChange::RepositoriesRemoved(repos) => {
            for repo in repos {
                if let Some(entry) = record.repositories.get_mut(&repo.id) {
                    entry.active = false;
                }
            }
        }
    }
    if !event.account.is_empty() {
        record.account = event.account.clone();
    }
    record.updated_at = now;
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: u64) -> NamedRepository {
        NamedRepository {
            id,
            full_name: format!("acme/r{id}"),
        }
    }

    fn event(change: InstallationChange) -> InstallationEvent {
        InstallationEvent {
            installation_id: 7,
            account: "acme".into(),
            change,
        }
    }

    #[test]
    fn installing_covers_repositories_and_uninstalling_stops_work_but_keeps_them() {
        let now = Utc::now();
        let installed = apply_installation(
            None,
            &event(InstallationChange::Created(vec![repo(1), repo(2)])),
            now,
        );
        assert!(installed.covers(1) && installed.covers(2) && !installed.covers(3));
        assert!(
            installed.repositories[&1].sync.is_empty(),
            "a backfill is due"
        );
        let removed = apply_installation(
            Some(&installed),
            &event(InstallationChange::RepositoriesRemoved(vec![repo(2)])),
            now,
        );
        assert!(removed.covers(1) && !removed.covers(2));
        let added = apply_installation(
            Some(&removed),
            &event(InstallationChange::RepositoriesAdded(vec![
                repo(2),
                repo(3),
            ])),
            now,
        );
        assert!(added.covers(2) && added.covers(3));
        let deleted = apply_installation(Some(&added), &event(InstallationChange::Deleted), now);
        assert!(!deleted.covers(1) && deleted.repositories.len() == 3);
        let back = apply_installation(Some(&deleted), &event(InstallationChange::Unsuspended), now);
        assert!(back.covers(1));
    }
}
