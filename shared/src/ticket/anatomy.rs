//! Builds a group's ticket content: the anatomy users expect of a security ticket.

use super::{FindingLine, TicketContent};
use crate::finding::{AlertKind, AlertState};
use crate::state::GroupRecord;
use std::collections::BTreeSet;

/// Longest title trackers accept without complaint (Jira's summary limit is 255).
const TITLE_LIMIT: usize = 200;

/// The ticket content for `group` as it is now.
pub fn ticket_content(group: &GroupRecord) -> TicketContent {
    let members: Vec<_> = group.ticketed().map(|(_, m)| m).collect();
    let count = members.len();
    let severity = group.severity();

    let cwes: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.cwes.iter().map(String::as_str))
        .collect();
    let advisories: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.advisories.iter().map(String::as_str))
        .collect();
    let places: BTreeSet<&str> = members.iter().map(|m| path_of(&m.place)).collect();
    let refs: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.git_ref.as_deref())
        .collect();
    let commits: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.commit_sha.as_deref())
        .collect();

    let what = match group.kind {
        // A Dependabot rule id is its advisory (GHSA); a group by package can hold several.
        AlertKind::Dependabot => {
            let ghsa: BTreeSet<&str> = members.iter().map(|m| m.rule_id.as_str()).collect();
            match ghsa.iter().next() {
                Some(id) if ghsa.len() == 1 => format!("{id}: {}", group.rule.name),
                _ => format!("Vulnerable dependency: {} advisories", ghsa.len()),
            }
        }
        AlertKind::SecretScanning => format!("Leaked secret: {}", group.rule.name),
        AlertKind::CodeScanning => match cwes.iter().next() {
            Some(cwe) => format!("{cwe}: {}", group.rule.name),
            None => group.rule.name.clone(),
        },
    };
    let where_ = match places.iter().next() {
        Some(p) if places.len() == 1 && !p.is_empty() => format!(" in `{p}`"),
        _ if places.len() > 1 => format!(" in {} files", places.len()),
        _ => String::new(),
    };
    let plural = if count == 1 { "alert" } else { "alerts" };
    let mut title = format!("{what}{where_} ({count} {plural})");
    if title.chars().count() > TITLE_LIMIT {
        title = title.chars().take(TITLE_LIMIT - 1).collect::<String>() + "…";
    }

    let open = members.iter().filter(|m| m.is_open()).count();
    let summary = format!(
        "{} found {count} {plural} of `{}` in {} ({open} open).",
        group.kind.label(),
        group.rule.id,
        group.repository.full_name
    );

    let mut facts = vec![
        ("Severity".to_string(), severity.to_string()),
        ("Repository".to_string(), group.repository.full_name.clone()),
    ];
    let mut push_set = |name: &str, set: &BTreeSet<&str>| {
        if !set.is_empty() {
            facts.push((
                name.to_string(),
                set.iter().copied().collect::<Vec<_>>().join(", "),
            ));
        }
    };
    push_set(
        "Branch",
        &refs
            .iter()
            .map(|r| r.trim_start_matches("refs/heads/"))
            .collect(),
    );
    push_set("Commit", &commits);
    push_set("CWE", &cwes);
    push_set("Advisory", &advisories);
    facts.push(("Rule".to_string(), group.rule.id.clone()));

    let findings = members
        .iter()
        .map(|m| FindingLine {
            number: m.number,
            state: m.state,
            severity: m.severity,
            rule: m.rule_name.clone(),
            place: m.place.clone(),
            url: m.html_url.clone(),
            flow: m.flow.clone(),
        })
        .collect();

    let verification = match group.kind {
        AlertKind::SecretScanning => "Revoke and rotate the secret, then resolve the alert as revoked. scantix marks this ticket done when GitHub reports every alert above resolved.".to_string(),
        AlertKind::Dependabot => "Upgrade the dependency to a patched version. scantix marks this ticket done when Dependabot reports every alert above fixed.".to_string(),
        AlertKind::CodeScanning => "Fix the code and let code scanning run on the default branch. scantix marks this ticket done when GitHub reports every alert above fixed, and reopens it if any comes back.".to_string(),
    };

    let mut labels = vec![
        "scantix".to_string(),
        format!("severity:{severity}"),
        group.kind.as_str().to_string(),
        group.key.label(),
    ];
    if group.overdue_flagged {
        labels.push("scantix-overdue".to_string());
    }
    // The repository's own labels, for every tracker (labels mean the same everywhere).
    for label in &group.destination.labels {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    labels.dedup();

    TicketContent {
        group_key: group.key.clone(),
        title,
        severity,
        labels,
        summary,
        facts,
        findings,
        description: group.rule.description.clone(),
        guidance: group.rule.help.clone(),
        references: group.rule.help_uri.iter().cloned().collect(),
        verification,
        due: group.due(),
        // The owner of the first open finding (members are in fingerprint order: stable).
        assignee: members
            .iter()
            .filter(|m| m.is_open())
            .find_map(|m| m.owner.clone()),
        destination: group.destination.clone(),
        repository: group.repository.full_name.clone(),
    }
}

fn path_of(place: &str) -> &str {
    place
        .rsplit_once(':')
        .filter(|(_, line)| line.parse::<u64>().is_ok())
        .map_or(place, |(p, _)| p)
}

/// Counts of a group's ticketed members by state, for comments.
pub fn state_counts(group: &GroupRecord) -> (usize, usize, usize) {
    group
        .ticketed()
        .fold((0, 0, 0), |(open, fixed, dismissed), (_, m)| {
            match m.state {
                AlertState::Open => (open + 1, fixed, dismissed),
                AlertState::Fixed => (open, fixed + 1, dismissed),
                AlertState::Dismissed => (open, fixed, dismissed + 1),
            }
        })
}
