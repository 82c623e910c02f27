//! Events as the decision engine sees them, whatever webhook or API listing they came from.

use crate::finding::Finding;
use serde::{Deserialize, Serialize};

/// What happened to an alert, reduced to what the lifecycle cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertChange {
    /// A new alert.
    Opened,
    /// A closed alert came back: reopened (by GitHub or a user), reintroduced, or appeared on a
    /// branch again.
    Reappeared,
    /// The code or dependency no longer has the problem (or a leaked secret was revoked).
    Fixed,
    /// A person (or an auto-dismiss rule) closed it without a fix.
    Dismissed,
    /// Something worth noting changed but the alert stays open (assignment, validity, a public
    /// leak of a secret).
    Updated,
}

/// One alert event, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub change: AlertChange,
    /// GitHub's own action word (`closed_by_user`, `reintroduced`, …), for the audit log.
    pub action: String,
    pub finding: Finding,
    /// Who caused it (the webhook's `sender`), when known.
    pub actor: Option<String>,
    pub installation_id: Option<u64>,
}
