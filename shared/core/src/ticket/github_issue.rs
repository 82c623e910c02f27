//! How a ticket in GitHub Issues is named: its repository (`RepoName`), its key (`IssueKey`,
//! `owner/repo#12`), the tracker's name in `TicketRef::tracker`, and a label as GitHub sends one.
//! The GitHub Issues adapter (`scantix_github_issues`) writes these names and the `issues` webhook
//! parser (`scantix_webhooks::github::issues`) reads them back, so both take them from here.

use crate::ports::tracker::TrackerError;
use serde::Deserialize;
use std::fmt;

/// The tracker's name in `TicketRef::tracker`.
pub const TRACKER_NAME: &str = "github";

/// A repository's `owner/name`, checked to hold only the characters GitHub allows, so that it can
/// go into a URL path as it is. GitHub's names are case-insensitive; this keeps them lowercase, so
/// that a name from the settings, from an API answer and from a webhook compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    pub fn parse(full_name: &str) -> Result<RepoName, String> {
        let invalid = |why: &str| Err(format!("`{}` is not owner/name: {why}", shown(full_name)));
        let Some((owner, name)) = full_name.trim().split_once('/') else {
            return invalid("no `/`");
        };
        // GitHub logins: letters, digits and hyphens, at most 39.
        let owner_ok = (1..=39).contains(&owner.len())
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !owner_ok {
            return invalid("the owner is not a GitHub login");
        }
        // Repository names: letters, digits, `-`, `_`, `.`, at most 100; never `.` or `..`.
        let name_ok = (1..=100).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && name != "."
            && name != "..";
        if !name_ok {
            return invalid("the name is not a GitHub repository name");
        }
        Ok(RepoName {
            owner: owner.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
        })
    }

    /// `/repos/{owner}/{name}`: safe as it is, by construction.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// An issue: `owner/repo#12`, the `TicketRef::key` of a ticket in GitHub Issues.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IssueKey {
    pub repo: RepoName,
    pub number: u64,
}

impl IssueKey {
    /// Reads a ticket key. Anything else is refused rather than escaped: it did not come from
    /// this adapter.
    pub fn parse(key: &str) -> Result<IssueKey, TrackerError> {
        let not_a_key = || {
            TrackerError::Failed(format!(
                "`{}` is not a GitHub issue key (owner/repo#number)",
                shown(key)
            ))
        };
        let (repo, number) = key.rsplit_once('#').ok_or_else(not_a_key)?;
        let repo = RepoName::parse(repo).map_err(|_| not_a_key())?;
        let number = number
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(not_a_key)?;
        Ok(IssueKey { repo, number })
    }
}

impl fmt::Display for IssueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.number)
    }
}

/// Text from elsewhere as it may appear in an error: one line, at most 80 characters.
fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect()
}

/// A label: GitHub answers objects, and the description allows plain names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Label {
    Name(String),
    Object { name: String },
}

impl Label {
    pub fn name(&self) -> &str {
        match self {
            Label::Name(name) | Label::Object { name } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_checked_and_kept_lowercase() {
        let repo = RepoName::parse("Octo-Org/Hello_World.js").unwrap();
        assert_eq!(repo.to_string(), "octo-org/hello_world.js");
        assert_eq!(repo.api_path(), "/repos/octo-org/hello_world.js");
        for bad in [
            "",
            "octo",
            "octo/",
            "/repo",
            "octo/a/b",
            "octo/..",
            "octo/re po",
            "octo/repo?x=1",
            "oc_to/repo",
            "octo/%2e%2e",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn issue_keys_round_trip_and_nothing_else_passes() {
        let key = IssueKey::parse("Acme/Shop#12").unwrap();
        assert_eq!(key.number, 12);
        assert_eq!(key.to_string(), "acme/shop#12");
        for bad in [
            "SEC-12",
            "acme/shop#0",
            "acme/shop#",
            "acme/shop#12/comments",
            "acme#12",
            "../x#1",
            "acme/shop#-1",
        ] {
            assert!(IssueKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
