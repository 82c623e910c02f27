//! Builds a group's ticket content: the anatomy users expect of a security ticket.

use super::{FindingLine, TicketContent};
use crate::finding::AlertKind;
use crate::identity::GroupScope;
use crate::records::{Facet, FindingRecord, GroupContent, GroupRecord};

/// Longest title trackers accept without complaint (Jira's summary limit is 255).
const TITLE_LIMIT: usize = 200;

/// How many findings a ticket lists: the most severe and newest open ones first. The rest are
/// counted, with a link to the full listing, so a group of 10,000 findings renders in the time
/// one of 10 takes and fits any tracker's size limit.
pub const LISTED_FINDINGS: usize = 25;

/// What a ticket is rendered from: the group, its long texts, and its first findings in rank
/// order (`FindingRecord::rank`; the store's `top_findings` reads them).
#[derive(Debug, Clone, Copy)]
pub struct TicketSource<'a> {
    pub group: &'a GroupRecord,
    pub content: Option<&'a GroupContent>,
    /// The group's first findings by rank (at most `LISTED_FINDINGS` are shown).
    pub top: &'a [FindingRecord],
}

/// The ticket content for `group` as it is now.
pub fn ticket_content(source: TicketSource<'_>) -> TicketContent {
    let TicketSource {
        group,
        content,
        top,
    } = source;
    let count = group.tally.ticketed() as usize;
    let severity = group.severity();
    let facets = &group.facets;

    let what = match group.kind {
        // A Dependabot rule id is its advisory (GHSA); a group by package can hold several.
        AlertKind::Dependabot => match facets.rules.single() {
            Some(id) => format!("{id}: {}", group.rule.name),
            None => format!(
                "Vulnerable dependency: {} advisories",
                facets.rules.len().max(1)
            ),
        },
        AlertKind::SecretScanning => format!("Leaked secret: {}", group.rule.name),
        AlertKind::CodeScanning | AlertKind::Sarif => match facets.cwes.values.iter().next() {
            Some(cwe) => format!("{cwe}: {}", group.rule.name),
            None => group.rule.name.clone(),
        },
    };
    let where_ = match facets.paths.single() {
        Some(p) => format!(" in `{p}`"),
        None if facets.paths.len() > 1 => format!(" in {} files", facets.paths.len()),
        None => String::new(),
    };
    let across = match group.scope {
        GroupScope::Organization if facets.repositories.len() > 1 => {
            format!(" across {} repositories", facets.repositories.len())
        }
        _ => String::new(),
    };
    let plural = if count == 1 { "alert" } else { "alerts" };
    let mut title = format!("{what}{where_}{across} ({count} {plural})");
    if title.chars().count() > TITLE_LIMIT {
        title = title.chars().take(TITLE_LIMIT - 1).collect::<String>() + "…";
    }

    let open = group.tally.open;
    let place = match group.scope {
        GroupScope::Repository => group.repository.full_name.clone(),
        GroupScope::Organization => format!("{} repositories", facets.repositories.len()),
    };
    // A SARIF group names its scanner (its findings all share it: the tool is part of the key).
    let tool = top.iter().find_map(|r| r.finding.tool.clone());
    let scanner = match (group.kind, &tool) {
        (AlertKind::Sarif, Some(tool)) => tool.clone(),
        _ => group.kind.label().to_owned(),
    };
    let summary = format!(
        "{scanner} found {count} {plural} of `{}` in {place} ({open} open).",
        group.rule.id,
    );

    let mut facts = vec![("Severity".to_string(), severity.to_string())];
    let mut push_facet = |name: &str, facet: &Facet, shown: &dyn Fn(&str) -> String| {
        if facet.is_empty() {
            return;
        }
        let mut value = facet
            .values
            .iter()
            .map(|v| shown(v))
            .collect::<Vec<_>>()
            .join(", ");
        if facet.more > 0 {
            value.push_str(&format!(" and {} more", facet.more));
        }
        facts.push((name.to_string(), value));
    };
    match group.scope {
        GroupScope::Repository => {
            push_facet("Repository", &single_repository(group), &|r| r.to_owned())
        }
        GroupScope::Organization => {
            push_facet("Repositories", &facets.repositories, &|r| r.to_owned())
        }
    }
    push_facet("Branch", &facets.refs, &|r| {
        r.trim_start_matches("refs/heads/").to_owned()
    });
    push_facet("Commit", &facets.commits, &|c| c.to_owned());
    push_facet("CWE", &facets.cwes, &|c| c.to_owned());
    push_facet("Advisory", &facets.advisories, &|a| a.to_owned());
    facts.push(("Rule".to_string(), group.rule.id.clone()));
    if let (AlertKind::Sarif, Some(tool)) = (group.kind, tool) {
        facts.push(("Tool".to_string(), tool));
    }

    let findings: Vec<FindingLine> = top
        .iter()
        .filter(|r| r.is_ticketed())
        .take(LISTED_FINDINGS)
        .map(|r| FindingLine {
            number: r.number(),
            state: r.finding.state,
            severity: r.severity,
            rule: r.finding.rule.name.clone(),
            place: r.finding.place(),
            url: r.finding.html_url.clone(),
            flow: r.flow(),
            repository: match group.scope {
                GroupScope::Organization => Some(r.finding.repository.full_name.clone()),
                GroupScope::Repository => None,
            },
        })
        .collect();
    let more_findings = (count.saturating_sub(findings.len())) as u32;

    let verification = match group.kind {
        AlertKind::SecretScanning => "Revoke and rotate the secret, then resolve the alert as revoked. scantix marks this ticket done when GitHub reports every alert above resolved.".to_string(),
        AlertKind::Dependabot => "Upgrade the dependency to a patched version. scantix marks this ticket done when Dependabot reports every alert above fixed.".to_string(),
        AlertKind::CodeScanning => "Fix the code and let code scanning run on the default branch. scantix marks this ticket done when GitHub reports every alert above fixed, and reopens it if any comes back.".to_string(),
        AlertKind::Sarif => "Fix the code and apply the scanner's next analysis of the branch. scantix marks this ticket done when that analysis no longer reports the findings above, reopens it if any comes back, and reopens it with the list if it is closed while the next analysis still reports them.".to_string(),
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
        priority_reason: Some(priority_reason(group, top)),
        facts,
        findings,
        more_findings,
        listing_url: listing_url(group),
        description: content.and_then(|c| c.description.clone()),
        guidance: content.and_then(|c| c.help.clone()),
        references: content
            .and_then(|c| c.help_uri.clone())
            .into_iter()
            .collect(),
        verification,
        due: group.due(),
        assignee: group.assignee.clone(),
        destination: group.destination.clone(),
        repository: group.repository.full_name.clone(),
    }
}

/// Why the ticket is filed at its priority: a person's choice, else the reason triage gave for
/// the finding that sets it (the first ticketed one of that severity in rank order: open before
/// closed), else the scanner's own severity.
fn priority_reason(group: &GroupRecord, top: &[FindingRecord]) -> String {
    let severity = group.severity();
    if group.priority.is_some() {
        return format!("{severity}, set by a person in scantix");
    }
    let deciding = top
        .iter()
        .find(|r| r.is_ticketed() && r.severity == severity);
    match deciding {
        Some(r) => match &r.priority_reason {
            Some(why) => format!("{severity} — {why} (alert {})", r.number()),
            None => format!("{severity}: the scanner's severity of alert {}", r.number()),
        },
        None => format!("{severity}: the scanner's severity"),
    }
}

/// The group's repository as a one-value facet (repository-scoped groups have exactly one).
fn single_repository(group: &GroupRecord) -> Facet {
    let mut facet = Facet::default();
    facet.insert(&group.repository.full_name);
    facet
}

/// Where every finding of the group is listed: GitHub's own alert list, filtered to the group's
/// rule (or package, or secret type), in the group's repository (or, for an organisation-wide
/// group, the organisation's security overview).
pub fn listing_url(group: &GroupRecord) -> Option<String> {
    let repo = group.repository.html_url.clone().or_else(|| {
        (!group.repository.full_name.is_empty())
            .then(|| format!("https://github.com/{}", group.repository.full_name))
    })?;
    let rule = encode_query_value(&group.rule.id);
    let url = match (group.scope, group.kind) {
        // Results of a SARIF file applied to scantix are listed nowhere in GitHub.
        (_, AlertKind::Sarif) => return None,
        (GroupScope::Repository, AlertKind::CodeScanning) => {
            format!("{repo}/security/code-scanning?query=is%3Aopen+rule%3A{rule}")
        }
        (GroupScope::Repository, AlertKind::Dependabot) => {
            format!("{repo}/security/dependabot?q=is%3Aopen+advisory%3A{rule}")
        }
        (GroupScope::Repository, AlertKind::SecretScanning) => {
            format!("{repo}/security/secret-scanning?query=is%3Aopen+secret-type%3A{rule}")
        }
        (GroupScope::Organization, kind) => {
            let owner = group.repository.full_name.split('/').next()?;
            let page = match kind {
                AlertKind::CodeScanning => "code-scanning",
                AlertKind::Dependabot => "dependabot",
                AlertKind::SecretScanning => "secret-scanning",
                AlertKind::Sarif => return None,
            };
            format!("https://github.com/orgs/{owner}/security/alerts/{page}?query=is%3Aopen")
        }
    };
    Some(url)
}

/// Percent-encodes a query value (a rule id is scanner text: `js/xss`, `py/sql injection`).
fn encode_query_value(value: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // Unreserved characters (RFC 3986) and `/`, which rule ids use, stay as they are.
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(value, KEEP).to_string()
}
