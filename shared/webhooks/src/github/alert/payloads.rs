//! Payload shapes. Only the fields scantix uses; serde skips the rest. Container-level
//! `#[serde(default)]` makes every field optional; the few strict ones are checked by `required`
//! so that a missing one is reported at its own path.

use super::*;

/// The envelope every alert event shares.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Delivery<A> {
    /// Required (see `require_object`).
    pub(super) alert: Option<A>,
    /// Required (see `require_object`).
    pub(super) repository: Option<RepositoryPayload>,
    pub(super) sender: Loose<UserPayload>,
    /// Absent when the hook belongs to a repository rather than an App installation.
    pub(super) installation: Loose<InstallationPayload>,
    /// Code scanning only, and empty for the `*_by_user` actions.
    #[serde(rename = "ref")]
    pub(super) git_ref: Loose<String>,
    /// Code scanning only, and empty for the `*_by_user` actions.
    pub(super) commit_oid: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RepositoryPayload {
    pub(super) id: Option<u64>,
    pub(super) full_name: Option<String>,
    pub(super) default_branch: Loose<String>,
    pub(super) html_url: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct UserPayload {
    pub(super) login: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct InstallationPayload {
    pub(super) id: Loose<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CodeScanningAlert {
    pub(super) number: Option<u64>,
    /// `null` for alerts found off the default branch, until they are dismissed or fixed.
    pub(super) state: Loose<String>,
    pub(super) rule: Loose<CodeScanningRule>,
    pub(super) tool: Loose<ToolPayload>,
    pub(super) most_recent_instance: Loose<InstancePayload>,
    /// Older payloads list instances instead of giving the most recent one.
    pub(super) instances: Loose<Vec<InstancePayload>>,
    pub(super) dismissed_by: Loose<UserPayload>,
    pub(super) dismissed_reason: Loose<String>,
    pub(super) dismissed_comment: Loose<String>,
    pub(super) dismissed_at: Loose<DateTime<Utc>>,
    pub(super) html_url: Loose<String>,
    pub(super) created_at: Loose<DateTime<Utc>>,
    pub(super) updated_at: Loose<DateTime<Utc>>,
    /// The users the alert is assigned to (`updated_assignment` is about them).
    pub(super) assignees: Loose<Vec<UserPayload>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CodeScanningRule {
    pub(super) id: Loose<String>,
    /// Empty for most CodeQL rules; `description` is the short name then.
    pub(super) name: Loose<String>,
    pub(super) description: Loose<String>,
    pub(super) full_description: Loose<String>,
    pub(super) help: Loose<String>,
    pub(super) help_uri: Loose<String>,
    /// SARIF level: `error`, `warning`, `note` or `none`.
    pub(super) severity: Loose<String>,
    /// Not in the webhook schema, but sent for rules with a `security-severity`.
    pub(super) security_severity_level: Loose<String>,
    pub(super) tags: Loose<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ToolPayload {
    pub(super) name: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct InstancePayload {
    #[serde(rename = "ref")]
    pub(super) git_ref: Loose<String>,
    pub(super) commit_sha: Loose<String>,
    pub(super) location: Loose<LocationPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LocationPayload {
    pub(super) path: Loose<String>,
    pub(super) start_line: Loose<u64>,
    pub(super) end_line: Loose<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DependabotAlert {
    pub(super) number: Option<u64>,
    /// `open`, `fixed`, `dismissed` or `auto_dismissed`.
    pub(super) state: Loose<String>,
    pub(super) dependency: Loose<DependencyPayload>,
    pub(super) security_advisory: Loose<AdvisoryPayload>,
    /// The one vulnerable range of the advisory that this alert is about.
    pub(super) security_vulnerability: Loose<VulnerabilityPayload>,
    pub(super) dismissed_by: Loose<UserPayload>,
    pub(super) dismissed_reason: Loose<String>,
    pub(super) dismissed_comment: Loose<String>,
    pub(super) dismissed_at: Loose<DateTime<Utc>>,
    pub(super) auto_dismissed_at: Loose<DateTime<Utc>>,
    /// The users the alert is assigned to (`assignees_changed` is about them).
    pub(super) assignees: Loose<Vec<UserPayload>>,
    pub(super) html_url: Loose<String>,
    pub(super) created_at: Loose<DateTime<Utc>>,
    pub(super) updated_at: Loose<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DependencyPayload {
    pub(super) package: Loose<PackagePayload>,
    pub(super) manifest_path: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PackagePayload {
    pub(super) ecosystem: Loose<String>,
    pub(super) name: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AdvisoryPayload {
    pub(super) ghsa_id: Loose<String>,
    pub(super) cve_id: Loose<String>,
    pub(super) summary: Loose<String>,
    pub(super) description: Loose<String>,
    pub(super) severity: Loose<String>,
    /// Deprecated by GitHub in favour of `cvss_severities`, still sent.
    pub(super) cvss: Loose<CvssPayload>,
    pub(super) cvss_severities: Loose<CvssSeveritiesPayload>,
    pub(super) cwes: Loose<Vec<CwePayload>>,
    pub(super) references: Loose<Vec<ReferencePayload>>,
    pub(super) epss: Loose<EpssPayload>,
}

/// `security_advisory.epss`. GitHub's own example sends the percentile as a string
/// (`"0.16001e0"`), the live API as a number: both are read.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EpssPayload {
    pub(super) percentage: Loose<Value>,
    pub(super) percentile: Loose<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CvssPayload {
    pub(super) score: Loose<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CvssSeveritiesPayload {
    pub(super) cvss_v3: Loose<CvssPayload>,
    pub(super) cvss_v4: Loose<CvssPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct CwePayload {
    pub(super) cwe_id: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ReferencePayload {
    pub(super) url: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct VulnerabilityPayload {
    pub(super) package: Loose<PackagePayload>,
    pub(super) severity: Loose<String>,
    pub(super) vulnerable_version_range: Loose<String>,
    pub(super) first_patched_version: Loose<PatchedVersionPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PatchedVersionPayload {
    pub(super) identifier: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SecretScanningAlert {
    pub(super) number: Option<u64>,
    pub(super) secret_type: Loose<String>,
    pub(super) secret_type_display_name: Loose<String>,
    /// `open` or `resolved` in octokit's schema; absent from GitHub's own webhook schema, where
    /// only `resolution` tells.
    pub(super) state: Loose<String>,
    /// `false_positive`, `wont_fix`, `revoked`, `used_in_tests`, `pattern_edited`,
    /// `pattern_deleted`; `null` while open.
    pub(super) resolution: Loose<String>,
    pub(super) resolved_by: Loose<UserPayload>,
    pub(super) resolution_comment: Loose<String>,
    pub(super) resolved_at: Loose<DateTime<Utc>>,
    /// `active`, `inactive` or `unknown`.
    pub(super) validity: Loose<String>,
    pub(super) publicly_leaked: Loose<bool>,
    /// The one user the alert is assigned to (`assigned` / `unassigned` are about them).
    pub(super) assigned_to: Loose<UserPayload>,
    pub(super) html_url: Loose<String>,
    pub(super) created_at: Loose<DateTime<Utc>>,
    pub(super) updated_at: Loose<DateTime<Utc>>,
}
