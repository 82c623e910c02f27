//! Identity of findings and of the units of work they are grouped into.
//!
//! A `Fingerprint` names one alert forever; a `GroupKey` names the ticket it belongs to. Both are
//! plain strings so they can be DynamoDB keys and tracker labels, and both are built only here.

use crate::finding::{AlertKind, Finding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Stable identity of one alert: repository id + kind + alert number.
///
/// The repository's numeric id is used, not its name, so that a rename or transfer does not turn
/// every known alert into a new one (and a second ticket).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of(finding: &Finding) -> Fingerprint {
        Fingerprint::new(finding.repository.id, finding.kind, finding.number)
    }

    pub fn new(repository_id: u64, kind: AlertKind, number: u64) -> Fingerprint {
        Fingerprint(format!("{repository_id}/{kind}/{number}"))
    }

    /// Rebuilds a fingerprint read back from a store's list entry.
    pub fn from_stored(fingerprint: impl Into<String>) -> Fingerprint {
        Fingerprint(fingerprint.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a group gathers findings of one repository or of a whole organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum GroupScope {
    #[default]
    Repository,
    /// One ticket for findings across an organisation's repositories (one advisory everywhere).
    Organization,
}

/// How findings are gathered into units of work (one ticket each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupingMode {
    /// Every alert of one rule (code scanning), advisory or package (Dependabot) or secret type.
    Rule,
    /// Every alert in one file (or manifest).
    File,
    /// Every advisory of one package in one manifest: one upgrade fixes them all.
    Package,
    /// Every alert of one advisory (GHSA / CVE), whichever manifest pulls it in.
    Advisory,
    /// No grouping: one ticket per alert.
    Alert,
}

/// Identity of a group, and so of its ticket: within one repository, or (organisation-wide
/// grouping) within one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupKey(String);

impl GroupKey {
    /// The key of `finding`'s group under `mode`. A mode that does not apply to the finding's kind
    /// (by package for a code scanning alert) falls back to grouping by rule.
    pub fn for_finding(finding: &Finding, mode: GroupingMode) -> GroupKey {
        GroupKey::for_finding_in(finding, mode, GroupScope::Repository)
    }

    /// The key of `finding`'s group under `mode`, within `scope`: its repository (`<repository
    /// id>/…`), or its organisation (`org:<owner login>/…`, lowercased: logins are
    /// case-insensitive). An organisation-wide key names the owner by login, not id (alerts carry
    /// no owner id): a renamed organisation starts new groups.
    pub fn for_finding_in(finding: &Finding, mode: GroupingMode, scope: GroupScope) -> GroupKey {
        let repo = match scope {
            GroupScope::Repository => finding.repository.id.to_string(),
            GroupScope::Organization => format!(
                "org:{}",
                finding
                    .repository
                    .full_name
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_lowercase()
            ),
        };
        let kind = finding.kind;
        let rule = || {
            format!(
                "rule:{}:{}",
                finding.tool.as_deref().unwrap_or("-"),
                finding.rule.id
            )
        };
        let detail = match (mode, kind, &finding.package) {
            (GroupingMode::Alert, _, _) => format!("alert:{}", finding.number),
            (GroupingMode::Package, AlertKind::Dependabot, Some(p)) => {
                format!("package:{}:{}:{}", p.ecosystem, p.name, p.manifest_path)
            }
            (GroupingMode::File, AlertKind::Dependabot, Some(p)) => {
                format!("file:{}", p.manifest_path)
            }
            (GroupingMode::File, _, _) => match &finding.location {
                Some(loc) => format!("file:{}", loc.path),
                None => rule(),
            },
            (GroupingMode::Advisory, _, _) => match &finding.advisory {
                Some(a) => match a.ghsa_id.as_ref().or(a.cve_id.as_ref()) {
                    Some(id) => format!("advisory:{id}"),
                    None => rule(),
                },
                None => rule(),
            },
            _ => rule(),
        };
        GroupKey(format!("{repo}/{kind}/{detail}"))
    }

    /// Whether the key names an organisation-wide group.
    pub fn scope(&self) -> GroupScope {
        match self.0.starts_with("org:") {
            true => GroupScope::Organization,
            false => GroupScope::Repository,
        }
    }

    /// Rebuilds a key read back from the store or a tracker label.
    pub fn from_stored(key: impl Into<String>) -> GroupKey {
        GroupKey(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short, label-safe digest of the key (`scantix-3f2a9c1b0d4e`), for trackers whose labels
    /// cannot hold the key itself (spaces, length limits).
    pub fn label(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        format!("{LABEL_PREFIX}{}", hex::encode(&digest[..6]))
    }

    /// Whether `name` has the shape of some group's `label` (its group unknown: a digest).
    pub fn is_label(name: &str) -> bool {
        name.strip_prefix(LABEL_PREFIX).is_some_and(|digest| {
            digest.len() == 12 && digest.bytes().all(|b| b.is_ascii_hexdigit())
        })
    }
}

const LABEL_PREFIX: &str = "scantix-";

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
