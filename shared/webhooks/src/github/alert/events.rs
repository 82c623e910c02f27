//! Payload → event: each alert kind's shape onto a [`Finding`] and its action onto an
//! [`AlertChange`].

use super::*;

/// The parts of the envelope that do not depend on the alert kind.
pub(super) struct Envelope {
    pub(super) repository: Repository,
    pub(super) actor: Option<String>,
    pub(super) installation_id: Option<u64>,
    pub(super) git_ref: Option<String>,
    pub(super) commit_sha: Option<String>,
}

/// Splits the envelope from its alert, checking the strict fields.
pub(super) fn open_envelope<A>(delivery: Delivery<A>) -> Result<(Envelope, A), PayloadError> {
    let alert = required(delivery.alert, "alert")?;
    let repository = required(delivery.repository, "repository")?;
    let envelope = Envelope {
        repository: Repository {
            id: required(repository.id, "repository.id")?,
            full_name: required(repository.full_name, "repository.full_name")?,
            default_branch: repository.default_branch.text(),
            html_url: repository.html_url.text(),
        },
        actor: delivery.sender.or_default().login.text(),
        installation_id: delivery.installation.or_default().id.get(),
        git_ref: delivery.git_ref.text(),
        commit_sha: delivery.commit_oid.text(),
    };
    Ok((envelope, alert))
}

/// The event: the finding, what happened to it, and who did it.
pub(super) fn alert_event(
    change: AlertChange,
    action: &str,
    finding: Finding,
    actor: Option<String>,
    installation_id: Option<u64>,
) -> AlertEvent {
    AlertEvent {
        change,
        action: action.to_owned(),
        finding,
        actor,
        installation_id,
    }
}

pub(super) fn code_scanning_event(
    action: &str,
    delivery: Delivery<CodeScanningAlert>,
) -> Result<AlertEvent, PayloadError> {
    let (envelope, alert) = open_envelope(delivery)?;
    let number = required(alert.number, "alert.number")?;
    let change = known_change(AlertKind::CodeScanning, action, None)?;
    let state = state_from_word(alert.state.str()).unwrap_or(state_after(change));
    let rule = alert.rule.or_default();
    let tags = rule.tags.as_ref().map(Vec::as_slice).unwrap_or_default();
    let instance = alert
        .most_recent_instance
        .into_inner()
        .or_else(|| alert.instances.into_inner()?.into_iter().next())
        .unwrap_or_default();
    let dismissal =
        (state == AlertState::Dismissed || change == AlertChange::Dismissed).then(|| Dismissal {
            by: alert.dismissed_by.or_default().login.text(),
            reason: alert.dismissed_reason.text(),
            comment: alert.dismissed_comment.text(),
            at: alert.dismissed_at.into_inner(),
        });
    let finding = Finding {
        secret: None,
        assignees: logins(alert.assignees),
        kind: AlertKind::CodeScanning,
        number,
        severity: code_scanning_severity(&rule, tags),
        cwes: normalised_cwes(tags.iter().map(String::as_str)),
        rule: Rule {
            id: rule.id.text().unwrap_or_default(),
            name: first_text([&rule.name, &rule.description, &rule.id]).unwrap_or_default(),
            description: rule.full_description.text(),
            help: rule.help.text(),
            help_uri: rule.help_uri.text(),
        },
        tool: alert.tool.or_default().name.text(),
        location: instance.location.into_inner().and_then(location),
        // Webhooks carry no code flows; they come from the alert's instances API, if at all.
        flow: Vec::new(),
        package: None,
        advisory: None,
        // The delivery's own ref is where this event happened; the instance's is the fallback
        // for `*_by_user` actions, which leave it empty.
        git_ref: envelope.git_ref.or_else(|| instance.git_ref.text()),
        commit_sha: envelope.commit_sha.or_else(|| instance.commit_sha.text()),
        state,
        dismissal,
        html_url: alert.html_url.text(),
        created_at: alert.created_at.into_inner(),
        updated_at: alert.updated_at.into_inner(),
        repository: envelope.repository,
    };
    Ok(alert_event(
        change,
        action,
        finding,
        envelope.actor,
        envelope.installation_id,
    ))
}

pub(super) fn dependabot_event(
    action: &str,
    delivery: Delivery<DependabotAlert>,
) -> Result<AlertEvent, PayloadError> {
    let (envelope, alert) = open_envelope(delivery)?;
    let number = required(alert.number, "alert.number")?;
    let change = known_change(AlertKind::Dependabot, action, None)?;
    let state = state_from_word(alert.state.str()).unwrap_or(state_after(change));
    let advisory = alert.security_advisory.or_default();
    let vulnerability = alert.security_vulnerability.or_default();
    let dependency = alert.dependency.or_default();

    // The dependency names the package; the vulnerability repeats it, so it can stand in.
    let named = dependency.package.or_default();
    let repeated = vulnerability.package.or_default();
    let package_name = named.name.text().or_else(|| repeated.name.text());
    let first_patched = vulnerability
        .first_patched_version
        .or_default()
        .identifier
        .text();
    let package = package_name.as_ref().map(|name| Package {
        ecosystem: named
            .ecosystem
            .text()
            .or_else(|| repeated.ecosystem.text())
            .unwrap_or_default(),
        name: name.clone(),
        manifest_path: dependency.manifest_path.text().unwrap_or_default(),
        vulnerable_range: vulnerability.vulnerable_version_range.text(),
        first_patched: first_patched.clone(),
    });

    let ghsa_id = advisory.ghsa_id.text();
    let cvss_score = advisory_cvss_score(&advisory);
    let severity = advisory
        .severity
        .str()
        .or(vulnerability.severity.str())
        .and_then(Severity::parse_loose)
        .or(cvss_score.map(Severity::from_cvss))
        .unwrap_or_default();
    let help = package_name.as_ref().map(|name| match &first_patched {
        Some(version) => format!("Upgrade {name} to {version} or later"),
        None => format!("No patched version of {name} is known yet"),
    });
    let epss = advisory_epss(&advisory);
    let cwes = advisory.cwes.into_inner().unwrap_or_default();
    let references = advisory.references.into_inner().unwrap_or_default();

    let dismissal =
        (state == AlertState::Dismissed || change == AlertChange::Dismissed).then(|| {
            Dismissal {
                by: alert.dismissed_by.or_default().login.text(),
                // An auto-dismissal has no reason of its own; its state says why.
                reason: alert.dismissed_reason.text().or_else(|| {
                    (alert.state.str() == Some("auto_dismissed"))
                        .then(|| "auto_dismissed".to_owned())
                }),
                comment: alert.dismissed_comment.text(),
                at: alert
                    .dismissed_at
                    .into_inner()
                    .or(alert.auto_dismissed_at.into_inner()),
            }
        });

    let finding = Finding {
        secret: None,
        assignees: logins(alert.assignees),
        kind: AlertKind::Dependabot,
        number,
        rule: Rule {
            id: first_text([&advisory.ghsa_id, &advisory.cve_id]).unwrap_or_default(),
            name: first_text([&advisory.summary, &advisory.ghsa_id, &advisory.cve_id])
                .unwrap_or_default(),
            description: advisory.description.text(),
            help,
            help_uri: ghsa_id
                .as_ref()
                .map(|id| format!("https://github.com/advisories/{id}")),
        },
        severity,
        cwes: normalised_cwes(cwes.iter().filter_map(|cwe| cwe.cwe_id.str())),
        tool: Some("Dependabot".to_owned()),
        // The package (its manifest) is the place; Dependabot alerts point at no line.
        location: None,
        flow: Vec::new(),
        package,
        advisory: Some(Advisory {
            epss,
            ghsa_id,
            cve_id: advisory.cve_id.text(),
            cvss_score,
            references: references.iter().filter_map(|r| r.url.text()).collect(),
        }),
        git_ref: envelope.git_ref,
        commit_sha: envelope.commit_sha,
        state,
        dismissal,
        html_url: alert.html_url.text(),
        created_at: alert.created_at.into_inner(),
        updated_at: alert.updated_at.into_inner(),
        repository: envelope.repository,
    };
    Ok(alert_event(
        change,
        action,
        finding,
        envelope.actor,
        envelope.installation_id,
    ))
}

pub(super) fn secret_scanning_event(
    action: &str,
    delivery: Delivery<SecretScanningAlert>,
) -> Result<AlertEvent, PayloadError> {
    let (envelope, alert) = open_envelope(delivery)?;
    let number = required(alert.number, "alert.number")?;
    let resolution = alert.resolution.str();
    let change = known_change(AlertKind::SecretScanning, action, resolution)?;
    let resolved = if resolution == Some("revoked") {
        AlertState::Fixed
    } else {
        AlertState::Dismissed
    };
    // GitHub's webhook schema has no `state` for secrets; a resolution means resolved.
    let state = match alert.state.str() {
        Some("open") => AlertState::Open,
        Some("resolved") => resolved,
        _ if resolution.is_some() => resolved,
        _ => state_after(change),
    };
    // How exposed the secret is; the triage policy makes an active or public one critical. A
    // `publicly_leaked` delivery says so even if its alert lags.
    let exposure = SecretExposure {
        validity: alert.validity.str().and_then(SecretValidity::parse),
        publicly_leaked: action == "publicly_leaked" || alert.publicly_leaked.get() == Some(true),
    };
    // The assignee, on the deliveries about it: `assigned_to` on the alert (the top-level
    // `assignee` names who was (un)assigned, which for `unassigned` is the one no longer there).
    let assignees = match action {
        "assigned" | "unassigned" => Some(
            alert
                .assigned_to
                .into_inner()
                .and_then(|user| user.login.text())
                .into_iter()
                .collect(),
        ),
        _ => alert
            .assigned_to
            .into_inner()
            .map(|user| user.login.text().into_iter().collect()),
    };
    let dismissal =
        (state == AlertState::Dismissed || change == AlertChange::Dismissed).then(|| Dismissal {
            by: alert.resolved_by.or_default().login.text(),
            reason: alert.resolution.text(),
            comment: alert.resolution_comment.text(),
            at: alert.resolved_at.into_inner(),
        });
    let finding = Finding {
        secret: Some(exposure),
        assignees,
        kind: AlertKind::SecretScanning,
        number,
        rule: Rule {
            id: alert.secret_type.text().unwrap_or_default(),
            name: first_text([&alert.secret_type_display_name, &alert.secret_type])
                .unwrap_or_default(),
            description: None,
            help: None,
            help_uri: None,
        },
        // GitHub rates no secret; the policy raises or lowers this by the exposure.
        severity: Severity::High,
        cwes: Vec::new(),
        tool: Some("Secret scanning".to_owned()),
        // The webhook carries only a `locations_url`; where the secret sits needs an API call.
        location: None,
        flow: Vec::new(),
        package: None,
        advisory: None,
        git_ref: envelope.git_ref,
        commit_sha: envelope.commit_sha,
        state,
        dismissal,
        html_url: alert.html_url.text(),
        created_at: alert.created_at.into_inner(),
        updated_at: alert.updated_at.into_inner(),
        repository: envelope.repository,
    };
    Ok(alert_event(
        change,
        action,
        finding,
        envelope.actor,
        envelope.installation_id,
    ))
}

/// `change_for`, for an action `parse_delivery` has already accepted (so never an error in
/// practice; an error rather than a panic all the same).
pub(super) fn known_change(
    kind: AlertKind,
    action: &str,
    resolution: Option<&str>,
) -> Result<AlertChange, PayloadError> {
    change_for(kind, action, resolution).ok_or_else(|| PayloadError::Invalid {
        path: "action".to_owned(),
        message: format!("unexpected {kind} action `{action}`"),
    })
}

/// An alert state word, as code scanning and Dependabot spell them.
pub(super) fn state_from_word(word: Option<&str>) -> Option<AlertState> {
    match word? {
        "open" => Some(AlertState::Open),
        "fixed" => Some(AlertState::Fixed),
        "dismissed" | "auto_dismissed" => Some(AlertState::Dismissed),
        _ => None,
    }
}

/// The state an action leaves the alert in, for payloads that give none.
pub(super) fn state_after(change: AlertChange) -> AlertState {
    match change {
        AlertChange::Fixed => AlertState::Fixed,
        AlertChange::Dismissed => AlertState::Dismissed,
        AlertChange::Opened | AlertChange::Reappeared | AlertChange::Updated => AlertState::Open,
    }
}

/// A code scanning rule's severity: GitHub's `security_severity_level` when the rule has one, else
/// a severity word among the tags (Trivy tags its rules `"MEDIUM"`), else the SARIF level.
pub(super) fn code_scanning_severity(rule: &CodeScanningRule, tags: &[String]) -> Severity {
    let from_tags = || {
        tags.iter()
            .filter(|tag| {
                // Only the security words: a tag such as "error" is not a severity.
                matches!(
                    tag.to_ascii_lowercase().as_str(),
                    "critical" | "high" | "medium" | "moderate" | "low"
                )
            })
            .find_map(|tag| Severity::parse_loose(tag))
    };
    rule.security_severity_level
        .str()
        .and_then(Severity::parse_loose)
        .or_else(from_tags)
        .or_else(|| rule.severity.str().and_then(Severity::parse_loose))
        .unwrap_or_default()
}

/// The advisory's CVSS base score. GitHub sends `{"score": 0.0, "vector_string": null}` for an
/// advisory without one, so a zero score means "none".
pub(super) fn advisory_cvss_score(advisory: &AdvisoryPayload) -> Option<f64> {
    let score = |cvss: &Loose<CvssPayload>| cvss.as_ref()?.score.get().filter(|s| *s > 0.0);
    let severities = advisory.cvss_severities.as_ref();
    score(&advisory.cvss)
        .or_else(|| score(&severities?.cvss_v3))
        .or_else(|| score(&severities?.cvss_v4))
}

/// `security_advisory.epss` as fractions of 1, when it carries a usable probability.
pub(super) fn advisory_epss(advisory: &AdvisoryPayload) -> Option<Epss> {
    let epss = advisory.epss.as_ref()?;
    let percentage = epss.percentage.as_ref().and_then(fraction)?;
    Some(Epss {
        percentage,
        percentile: epss.percentile.as_ref().and_then(fraction),
    })
}

/// A number between 0 and 1, sent as a JSON number or as a numeric string (`"0.16001e0"`).
fn fraction(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (number.is_finite() && (0.0..=1.0).contains(&number)).then_some(number)
}

/// The logins of `users`, when the payload listed them.
pub(super) fn logins(users: Loose<Vec<UserPayload>>) -> Option<Vec<String>> {
    users
        .into_inner()
        .map(|users| users.into_iter().filter_map(|u| u.login.text()).collect())
}

/// `CWE-<n>` for each CWE named, in order, without duplicates: code scanning tags spell them
/// `external/cwe/cwe-079`, advisories `CWE-79`.
pub(super) fn normalised_cwes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut cwes: Vec<String> = Vec::new();
    for id in names.filter_map(normalised_cwe) {
        if !cwes.contains(&id) {
            cwes.push(id);
        }
    }
    cwes
}

pub(super) fn normalised_cwe(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("external/cwe/").unwrap_or(&name);
    let number: u32 = name.strip_prefix("cwe-")?.parse().ok()?;
    Some(format!("CWE-{number}"))
}

pub(super) fn location(payload: LocationPayload) -> Option<Location> {
    Some(Location {
        path: payload.path.text()?,
        start_line: payload.start_line.get(),
        end_line: payload.end_line.get(),
    })
}

/// The first of `fields` that has text.
pub(super) fn first_text<const N: usize>(fields: [&Loose<String>; N]) -> Option<String> {
    fields.iter().find_map(|field| field.text())
}
