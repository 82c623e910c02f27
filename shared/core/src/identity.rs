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
        // The tool's `:` and `%` are escaped, so the first `:` after `rule:` ends the tool: tool
        // `a:b` and rule `c` is not tool `a` and rule `b:c`. A tool named without either (every
        // scanner seen so far) keeps the key it always had, so no stored group changes key.
        let rule = || {
            format!(
                "rule:{}:{}",
                escape_colons(finding.tool.as_deref().unwrap_or("-")),
                finding.rule.id
            )
        };
        let detail = match (mode, kind, &finding.package) {
            (GroupingMode::Alert, _, _) => format!("alert:{}", finding.number),
            // Package names hold `:` (Maven's `group:artifact`) and ecosystems none, so the
            // manifest's `:` and `%` are escaped instead: the last `:` then starts the manifest.
            (GroupingMode::Package, AlertKind::Dependabot, Some(p)) => format!(
                "package:{}:{}:{}",
                p.ecosystem,
                p.name,
                escape_colons(&p.manifest_path)
            ),
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

/// `part` with `%` and `:` percent-encoded (`%25`, `%3A`), so that it can sit between `:`
/// separators of a group key without being read as two parts. Text without either is unchanged.
fn escape_colons(part: &str) -> std::borrow::Cow<'_, str> {
    if !part.contains([':', '%']) {
        return std::borrow::Cow::Borrowed(part);
    }
    std::borrow::Cow::Owned(part.replace('%', "%25").replace(':', "%3A"))
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Package;
    use crate::testing::code_alert;

    fn by_tool(number: u64, tool: &str, rule: &str) -> Finding {
        let mut finding = code_alert(number, rule, "src/a.js");
        finding.tool = Some(tool.to_owned());
        finding
    }

    #[test]
    fn a_colon_in_a_tool_name_does_not_join_two_rules_in_one_group() {
        let a = GroupKey::for_finding(&by_tool(1, "a:b", "c"), GroupingMode::Rule);
        let b = GroupKey::for_finding(&by_tool(2, "a", "b:c"), GroupingMode::Rule);
        assert_ne!(a, b);
        assert_eq!(a.as_str(), "42/code-scanning/rule:a%3Ab:c");
        assert_eq!(b.as_str(), "42/code-scanning/rule:a:b:c");
        // `%` is escaped too, or tool `a%3Ab` would be tool `a:b`.
        let percent = GroupKey::for_finding(&by_tool(3, "a%3Ab", "c"), GroupingMode::Rule);
        assert_ne!(percent, a);
    }

    /// Keys already stored keep naming their groups: a tool without `:` or `%` has the key it
    /// always had (and a finding already recorded keeps its stored group whatever its key).
    #[test]
    fn tools_without_a_colon_keep_the_keys_they_always_had() {
        let codeql = GroupKey::for_finding(&by_tool(1, "CodeQL", "js/xss"), GroupingMode::Rule);
        assert_eq!(codeql.as_str(), "42/code-scanning/rule:CodeQL:js/xss");
        let semgrep = GroupKey::for_finding(
            &by_tool(1, "Semgrep OSS", "python.flask.sqli:v2"),
            GroupingMode::Rule,
        );
        assert_eq!(
            semgrep.as_str(),
            "42/code-scanning/rule:Semgrep OSS:python.flask.sqli:v2"
        );
    }

    #[test]
    fn a_colon_in_a_manifest_path_does_not_join_two_packages_in_one_group() {
        let dependabot = |name: &str, manifest: &str| {
            let mut finding = code_alert(1, "GHSA-xxxx", "pom.xml");
            finding.kind = AlertKind::Dependabot;
            finding.package = Some(Package {
                ecosystem: "maven".into(),
                name: name.into(),
                manifest_path: manifest.into(),
                vulnerable_range: None,
                first_patched: None,
            });
            GroupKey::for_finding(&finding, GroupingMode::Package)
        };
        let maven = dependabot("org.apache:log4j", "pom.xml");
        assert_eq!(
            maven.as_str(),
            "42/dependabot/package:maven:org.apache:log4j:pom.xml",
            "a Maven name keeps its key"
        );
        assert_ne!(maven, dependabot("org.apache", "log4j:pom.xml"));
    }
}
