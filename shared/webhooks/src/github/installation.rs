//! `installation` and `installation_repositories` deliveries → `InstallationEvent`s: which
//! repositories the App covers. Lenient like the alert parser: only the ids are required.

use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use serde::Deserialize;

#[derive(Deserialize)]
struct Delivery {
    action: String,
    installation: Installation,
    #[serde(default)]
    repositories: Option<Vec<NamedRepository>>,
    #[serde(default)]
    repositories_added: Vec<NamedRepository>,
    #[serde(default)]
    repositories_removed: Vec<NamedRepository>,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    login: String,
}

/// Reads an `installation` or `installation_repositories` delivery. `Ok(None)`: an action scantix
/// does not act on (`new_permissions_accepted`, …). Errors carry the JSON path.
pub fn parse_installation(
    event_name: &str,
    body: &[u8],
) -> Result<Option<InstallationEvent>, (String, String)> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let delivery: Delivery = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| (e.path().to_string(), e.inner().to_string()))?;
    let change = match (event_name, delivery.action.as_str()) {
        ("installation", "created") => {
            InstallationChange::Created(delivery.repositories.unwrap_or_default())
        }
        ("installation", "deleted") => InstallationChange::Deleted,
        ("installation", "suspend") => InstallationChange::Suspended,
        ("installation", "unsuspend") => InstallationChange::Unsuspended,
        ("installation_repositories", "added") => {
            InstallationChange::RepositoriesAdded(delivery.repositories_added)
        }
        ("installation_repositories", "removed") => {
            InstallationChange::RepositoriesRemoved(delivery.repositories_removed)
        }
        _ => return Ok(None),
    };
    let account = delivery
        .installation
        .account
        .map(|a| a.login)
        .unwrap_or_default();
    Ok(Some(InstallationEvent {
        installation_id: delivery.installation.id,
        account,
        change,
    }))
}
