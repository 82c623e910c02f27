//! A SARIF result (`scantix_sarif::Finding`, already normalised and redacted) as the core's
//! `Finding` of kind `sarif`, and how it stands in its analysis (`Presence`).
//!
//! Nothing here copies a snippet, a message or a property bag into the finding: the core keeps
//! the rule's texts (description, help), the primary location, the flow's two ends, CWE/CVE and
//! severity. So even a secret a scanner wrote where the parser's redaction did not look never
//! reaches a record, a ticket or a log.

use scantix_core::decide::analysis::{AnalysisKey, Presence, sarif_number};
use scantix_core::finding::{
    Advisory, AlertKind, AlertState, Finding, FlowStep, Location, Repository, Rule, Severity,
};
use scantix_sarif::Severity as SarifSeverity;

/// `result` of the analysis `key` of `repository`, as a core finding.
pub fn finding_of(
    result: &scantix_sarif::Finding,
    repository: &Repository,
    key: &AnalysisKey,
    commit_sha: Option<&str>,
) -> Finding {
    let rule = &result.rule;
    Finding {
        secret: None,
        assignees: None,
        kind: AlertKind::Sarif,
        repository: repository.clone(),
        number: sarif_number(&key.tool, &key.category, &result.identity.value),
        rule: Rule {
            id: rule.id.clone(),
            name: (rule.short_description.clone())
                .or_else(|| rule.name.clone())
                .unwrap_or_else(|| rule.id.clone()),
            description: rule.full_description.clone(),
            help: rule
                .help_markdown
                .clone()
                .or_else(|| rule.help_text.clone()),
            help_uri: rule.help_uri.clone(),
        },
        severity: severity_of(result.severity),
        cwes: result.cwes.clone(),
        tool: Some(key.tool.clone()),
        location: result.primary_location().and_then(location_of),
        flow: flow_steps(result),
        package: None,
        // A scanner of dependencies (Trivy, Grype, Dependency-Check) names the CVE: grouping by
        // advisory then gathers one CVE wherever it is pulled in.
        advisory: result.cves.first().map(|cve| Advisory {
            epss: None,
            ghsa_id: None,
            cve_id: Some(cve.clone()),
            cvss_score: rule.security_severity,
            references: rule.help_uri.iter().cloned().collect(),
        }),
        git_ref: Some(key.git_ref.clone()),
        commit_sha: commit_sha.map(str::to_owned),
        state: AlertState::Open,
        dismissal: None,
        html_url: None,
        created_at: None,
        updated_at: None,
    }
}

/// The two ends (source, sink) of `result`'s code flow, where they have a location.
pub fn flow_steps(result: &scantix_sarif::Finding) -> Vec<FlowStep> {
    result
        .flow
        .iter()
        .flat_map(|flow| [&flow.source, &flow.sink])
        .filter_map(|end| {
            Some(FlowStep {
                location: location_of(end)?,
                // Scrubbed by the parser already; a secret finding's are dropped all the same.
                message: end.message.clone().filter(|_| !result.secret),
            })
        })
        .collect()
}

/// Whether `result` is a problem at all (`pass`, `informational`, `notApplicable` results say
/// something was checked and is fine: not findings), and if so how it stands.
pub fn presence_of(result: &scantix_sarif::Finding) -> Option<Presence> {
    if !result.kind.is_problem() {
        return None;
    }
    Some(match result.suppressed {
        false => Presence::Open,
        true => Presence::Suppressed {
            justification: result
                .suppressions
                .iter()
                .find_map(|s| s.justification.clone())
                .or_else(|| {
                    let kind = result.suppressions.iter().find_map(|s| s.kind.clone())?;
                    Some(format!("suppressed ({kind}), no justification given"))
                }),
        },
    })
}

fn severity_of(severity: SarifSeverity) -> Severity {
    match severity {
        SarifSeverity::Note => Severity::Note,
        SarifSeverity::Low => Severity::Low,
        SarifSeverity::Medium => Severity::Medium,
        SarifSeverity::High => Severity::High,
        SarifSeverity::Critical => Severity::Critical,
    }
}

/// A SARIF location with a path (or, lacking one, a logical location such as a method).
fn location_of(location: &scantix_sarif::Location) -> Option<Location> {
    let path = location.path.clone().or_else(|| location.logical.clone())?;
    Some(Location {
        path,
        start_line: location.start_line,
        end_line: location.end_line,
    })
}
