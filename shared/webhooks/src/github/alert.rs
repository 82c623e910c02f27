//! GitHub alert webhooks (`code_scanning_alert`, `dependabot_alert`, `secret_scanning_alert`) →
//! [`AlertEvent`]s. This module owns two mappings: GitHub's action words onto [`AlertChange`], and
//! each event's payload shape onto [`Finding`]. It sees a body whose signature was already checked
//! and decides nothing about what happens next.
//!
//! Real payloads drift from their schemas: older examples lack fields, `alert.state` is `null` for
//! code scanning alerts off the default branch, the `*_by_user` actions send empty `ref`s, the
//! webhook form of a secret scanning alert has no `state` at all. So only what scantix cannot do
//! without is strict: the alert number and the repository's id and full name. Every other field is
//! [`Loose`]: absent, `null` or of an unexpected type, it reads as `None`, and the finding loses
//! that detail rather than the delivery failing (a failed delivery is an alert nobody tracks).

use chrono::{DateTime, Utc};
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::finding::{
    Advisory, AlertKind, AlertState, Dismissal, Finding, Location, Package, Repository, Rule,
    Severity,
};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer};
use serde_json::Value;

/// What one webhook delivery means to scantix.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per request, matched and moved once; the agreed API is `Alert(AlertEvent)`"
)]
pub enum ParsedDelivery {
    /// An alert event to act on.
    Alert(AlertEvent),
    /// GitHub's `ping`, sent when the webhook is set up: answer 2xx and do nothing.
    Ping,
    /// A delivery scantix does not act on (another event, or an action it does not know). Answer
    /// 2xx all the same, so GitHub does not mark the hook as failing.
    Ignored { reason: String },
}

/// A body scantix cannot read. Always the sender's fault: retrying the same body cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON at all.
    #[error("body is not JSON (line {line}, column {column}): {message}")]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// The body is JSON, but a field scantix cannot do without is missing or of the wrong type.
    /// `path` is where, in `serde_path_to_error`'s spelling (`alert.number`; `.` for the root).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Reads one webhook delivery. `event_name` is the `X-GitHub-Event` header, `body` the raw body
/// (whose signature the caller has already checked).
///
/// Alert events with an action scantix knows become [`ParsedDelivery::Alert`]; `ping` becomes
/// [`ParsedDelivery::Ping`]; every other event or action is [`ParsedDelivery::Ignored`], never an
/// error. Errors are kept for bodies that are not JSON objects, and for alerts without a usable
/// number or repository.
pub fn parse_delivery(event_name: &str, body: &[u8]) -> Result<ParsedDelivery, PayloadError> {
    let payload = parse_json_object(body)?;
    let kind = match event_name {
        "ping" => return Ok(ParsedDelivery::Ping),
        "code_scanning_alert" => AlertKind::CodeScanning,
        "dependabot_alert" => AlertKind::Dependabot,
        "secret_scanning_alert" => AlertKind::SecretScanning,
        "" => return Ok(ignored("the delivery names no event".to_owned())),
        other => return Ok(ignored(format!("`{other}` is not an alert event"))),
    };
    let Some(action) = payload.get("action").and_then(Value::as_str) else {
        return Ok(ignored(format!(
            "`{event_name}` delivery without an action"
        )));
    };
    // Decide on the action before reading the alert, so that an action GitHub adds later (with a
    // payload shape of its own) is ignored rather than refused.
    if change_for(kind, action, None).is_none() {
        return Ok(ignored(format!(
            "`{event_name}` action `{action}` is not one scantix acts on"
        )));
    }
    require_object(&payload, "alert")?;
    require_object(&payload, "repository")?;
    let event = match kind {
        AlertKind::CodeScanning => code_scanning_event(action, read(&payload)?)?,
        AlertKind::Dependabot => dependabot_event(action, read(&payload)?)?,
        AlertKind::SecretScanning => secret_scanning_event(action, read(&payload)?)?,
        // No webhook carries SARIF results (`change_for` has no action for them).
        AlertKind::Sarif => return Ok(ignored(format!("`{event_name}` is not an alert event"))),
    };
    Ok(ParsedDelivery::Alert(event))
}

/// One alert object of GitHub's REST API (`GET .../alerts`, `GET .../alerts/{n}`) as a
/// [`Finding`] of `repository`. REST alerts have the webhook `alert`'s shape, so this is the same
/// mapping, read as for an action that changes nothing: the alert's own `state` (and, for
/// secrets, `resolution`) decides the finding's state, and no state reads as open.
pub fn finding_from_alert(
    kind: AlertKind,
    alert: Value,
    repository: &Repository,
) -> Result<Finding, PayloadError> {
    let payload = serde_json::json!({
        "alert": alert,
        "repository": {
            "id": repository.id,
            "full_name": repository.full_name,
            "default_branch": repository.default_branch,
            "html_url": repository.html_url,
        },
    });
    require_object(&payload, "alert")?;
    let event = match kind {
        AlertKind::CodeScanning => code_scanning_event("updated_assignment", read(&payload)?)?,
        AlertKind::Dependabot => dependabot_event("assignees_changed", read(&payload)?)?,
        AlertKind::SecretScanning => secret_scanning_event("validated", read(&payload)?)?,
        // GitHub's REST API lists no SARIF results applied to scantix.
        AlertKind::Sarif => {
            return Err(PayloadError::Invalid {
                path: ".".into(),
                message: "SARIF findings are not GitHub alerts".into(),
            });
        }
    };
    Ok(event.finding)
}

fn ignored(reason: String) -> ParsedDelivery {
    ParsedDelivery::Ignored { reason }
}

/// What an action means for the alert's lifecycle; `None` for actions scantix does not act on.
///
/// `resolution` matters only for a resolved secret: revoking it is the fix (the secret is dead),
/// any other resolution closes the alert without one.
fn change_for(kind: AlertKind, action: &str, resolution: Option<&str>) -> Option<AlertChange> {
    use AlertChange::{Dismissed, Fixed, Opened, Reappeared, Updated};
    let change = match kind {
        AlertKind::CodeScanning => match action {
            "created" => Opened,
            "reopened" | "reopened_by_user" | "appeared_in_branch" => Reappeared,
            "closed_by_user" => Dismissed,
            "fixed" => Fixed,
            "updated_assignment" => Updated,
            _ => return None,
        },
        AlertKind::Dependabot => match action {
            "created" => Opened,
            "reopened" | "reintroduced" | "auto_reopened" => Reappeared,
            "dismissed" | "auto_dismissed" => Dismissed,
            "fixed" => Fixed,
            "assignees_changed" => Updated,
            _ => return None,
        },
        AlertKind::SecretScanning => match action {
            "created" => Opened,
            "reopened" => Reappeared,
            "resolved" if resolution == Some("revoked") => Fixed,
            "resolved" => Dismissed,
            // Not in today's schema, but octokit's older schemas have it: a revoked secret.
            "revoked" => Fixed,
            "validated" | "publicly_leaked" | "assigned" | "unassigned" => Updated,
            _ => return None,
        },
        AlertKind::Sarif => return None,
    };
    Some(change)
}

// ---------------------------------------------------------------------------------------------
// Reading the body
// ---------------------------------------------------------------------------------------------

/// Parses the body once into a tree: syntax errors get a line and column here, and the action can
/// be looked at before the alert is read.
pub(crate) fn parse_json_object(body: &[u8]) -> Result<Value, PayloadError> {
    let payload: Value = serde_json::from_slice(body).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let message = err.to_string();
        // serde_json appends the position to its message; it is already in the fields.
        let message = message
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&message)
            .to_owned();
        PayloadError::NotJson {
            line,
            column,
            message,
        }
    })?;
    if !payload.is_object() {
        return Err(PayloadError::Invalid {
            path: ".".to_owned(),
            message: "expected a JSON object".to_owned(),
        });
    }
    Ok(payload)
}

/// Reads the payload tree into one of the shapes below, reporting where a strict field failed.
fn read<T: DeserializeOwned>(payload: &Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(payload).map_err(|err| PayloadError::Invalid {
        path: err.path().to_string(),
        message: err.inner().to_string(),
    })
}

/// An object the envelope cannot do without. Checked on the tree because serde's derive would
/// also accept a JSON array for a struct, reading its elements as the fields in order.
fn require_object(payload: &Value, field: &str) -> Result<(), PayloadError> {
    match payload.get(field) {
        Some(value) if value.is_object() => Ok(()),
        Some(Value::Null) | None => required(None::<()>, field),
        Some(_) => Err(PayloadError::Invalid {
            path: field.to_owned(),
            message: "expected a JSON object".to_owned(),
        }),
    }
}

/// A field that must be present; `path` names it in the error.
fn required<T>(value: Option<T>, path: &str) -> Result<T, PayloadError> {
    value.ok_or_else(|| PayloadError::Invalid {
        path: path.to_owned(),
        message: "required field is missing or null".to_owned(),
    })
}

/// A field scantix can do without: absent, `null` or of an unexpected type, it reads as `None`, so
/// a payload that drifts from the schema loses that detail instead of failing the delivery.
///
/// This is also the lenient timestamp reader: `Loose<DateTime<Utc>>` is `None` for anything that is
/// not an RFC 3339 string.
struct Loose<T>(Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The body is already a valid JSON tree, so reading a `Value` here cannot fail; only the
        // conversion to `T` can, and that failure is the detail we choose to lose.
        let value = Value::deserialize(deserializer)?;
        Ok(Loose(serde_json::from_value(value).ok()))
    }
}

impl<T> Loose<T> {
    fn as_ref(&self) -> Option<&T> {
        self.0.as_ref()
    }

    fn into_inner(self) -> Option<T> {
        self.0
    }

    fn or_default(self) -> T
    where
        T: Default,
    {
        self.0.unwrap_or_default()
    }
}

impl<T: Copy> Loose<T> {
    fn get(&self) -> Option<T> {
        self.0
    }
}

impl Loose<String> {
    /// The text, unless absent or blank: GitHub sends `""` for values it does not have (`ref` on
    /// `*_by_user` actions, `rule.name` of most CodeQL rules).
    fn text(&self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn str(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.trim().is_empty())
    }
}

// ---------------------------------------------------------------------------------------------
// Payload shapes. Only the fields scantix uses; serde skips the rest. Container-level
// `#[serde(default)]` makes every field optional; the few strict ones are checked by `required`
// so that a missing one is reported at its own path.
// ---------------------------------------------------------------------------------------------

/// The envelope every alert event shares.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Delivery<A> {
    /// Required (see `require_object`).
    alert: Option<A>,
    /// Required (see `require_object`).
    repository: Option<RepositoryPayload>,
    sender: Loose<UserPayload>,
    /// Absent when the hook belongs to a repository rather than an App installation.
    installation: Loose<InstallationPayload>,
    /// Code scanning only, and empty for the `*_by_user` actions.
    #[serde(rename = "ref")]
    git_ref: Loose<String>,
    /// Code scanning only, and empty for the `*_by_user` actions.
    commit_oid: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RepositoryPayload {
    id: Option<u64>,
    full_name: Option<String>,
    default_branch: Loose<String>,
    html_url: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserPayload {
    login: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstallationPayload {
    id: Loose<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeScanningAlert {
    number: Option<u64>,
    /// `null` for alerts found off the default branch, until they are dismissed or fixed.
    state: Loose<String>,
    rule: Loose<CodeScanningRule>,
    tool: Loose<ToolPayload>,
    most_recent_instance: Loose<InstancePayload>,
    /// Older payloads list instances instead of giving the most recent one.
    instances: Loose<Vec<InstancePayload>>,
    dismissed_by: Loose<UserPayload>,
    dismissed_reason: Loose<String>,
    dismissed_comment: Loose<String>,
    dismissed_at: Loose<DateTime<Utc>>,
    html_url: Loose<String>,
    created_at: Loose<DateTime<Utc>>,
    updated_at: Loose<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeScanningRule {
    id: Loose<String>,
    /// Empty for most CodeQL rules; `description` is the short name then.
    name: Loose<String>,
    description: Loose<String>,
    full_description: Loose<String>,
    help: Loose<String>,
    help_uri: Loose<String>,
    /// SARIF level: `error`, `warning`, `note` or `none`.
    severity: Loose<String>,
    /// Not in the webhook schema, but sent for rules with a `security-severity`.
    security_severity_level: Loose<String>,
    tags: Loose<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ToolPayload {
    name: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InstancePayload {
    #[serde(rename = "ref")]
    git_ref: Loose<String>,
    commit_sha: Loose<String>,
    location: Loose<LocationPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LocationPayload {
    path: Loose<String>,
    start_line: Loose<u64>,
    end_line: Loose<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DependabotAlert {
    number: Option<u64>,
    /// `open`, `fixed`, `dismissed` or `auto_dismissed`.
    state: Loose<String>,
    dependency: Loose<DependencyPayload>,
    security_advisory: Loose<AdvisoryPayload>,
    /// The one vulnerable range of the advisory that this alert is about.
    security_vulnerability: Loose<VulnerabilityPayload>,
    dismissed_by: Loose<UserPayload>,
    dismissed_reason: Loose<String>,
    dismissed_comment: Loose<String>,
    dismissed_at: Loose<DateTime<Utc>>,
    auto_dismissed_at: Loose<DateTime<Utc>>,
    html_url: Loose<String>,
    created_at: Loose<DateTime<Utc>>,
    updated_at: Loose<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DependencyPayload {
    package: Loose<PackagePayload>,
    manifest_path: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PackagePayload {
    ecosystem: Loose<String>,
    name: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdvisoryPayload {
    ghsa_id: Loose<String>,
    cve_id: Loose<String>,
    summary: Loose<String>,
    description: Loose<String>,
    severity: Loose<String>,
    /// Deprecated by GitHub in favour of `cvss_severities`, still sent.
    cvss: Loose<CvssPayload>,
    cvss_severities: Loose<CvssSeveritiesPayload>,
    cwes: Loose<Vec<CwePayload>>,
    references: Loose<Vec<ReferencePayload>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CvssPayload {
    score: Loose<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CvssSeveritiesPayload {
    cvss_v3: Loose<CvssPayload>,
    cvss_v4: Loose<CvssPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CwePayload {
    cwe_id: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReferencePayload {
    url: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VulnerabilityPayload {
    package: Loose<PackagePayload>,
    severity: Loose<String>,
    vulnerable_version_range: Loose<String>,
    first_patched_version: Loose<PatchedVersionPayload>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PatchedVersionPayload {
    identifier: Loose<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SecretScanningAlert {
    number: Option<u64>,
    secret_type: Loose<String>,
    secret_type_display_name: Loose<String>,
    /// `open` or `resolved` in octokit's schema; absent from GitHub's own webhook schema, where
    /// only `resolution` tells.
    state: Loose<String>,
    /// `false_positive`, `wont_fix`, `revoked`, `used_in_tests`, `pattern_edited`,
    /// `pattern_deleted`; `null` while open.
    resolution: Loose<String>,
    resolved_by: Loose<UserPayload>,
    resolution_comment: Loose<String>,
    resolved_at: Loose<DateTime<Utc>>,
    /// `active`, `inactive` or `unknown`.
    validity: Loose<String>,
    publicly_leaked: Loose<bool>,
    html_url: Loose<String>,
    created_at: Loose<DateTime<Utc>>,
    updated_at: Loose<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// Payload → event
// ---------------------------------------------------------------------------------------------

/// The parts of the envelope that do not depend on the alert kind.
struct Envelope {
    repository: Repository,
    actor: Option<String>,
    installation_id: Option<u64>,
    git_ref: Option<String>,
    commit_sha: Option<String>,
}

/// Splits the envelope from its alert, checking the strict fields.
fn open_envelope<A>(delivery: Delivery<A>) -> Result<(Envelope, A), PayloadError> {
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
fn alert_event(
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

fn code_scanning_event(
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

fn dependabot_event(
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

fn secret_scanning_event(
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
    // A secret that works, or that anyone can read, is an incident rather than a chore.
    let exposed = action == "publicly_leaked"
        || alert.publicly_leaked.get() == Some(true)
        || alert.validity.str() == Some("active");
    let dismissal =
        (state == AlertState::Dismissed || change == AlertChange::Dismissed).then(|| Dismissal {
            by: alert.resolved_by.or_default().login.text(),
            reason: alert.resolution.text(),
            comment: alert.resolution_comment.text(),
            at: alert.resolved_at.into_inner(),
        });
    let finding = Finding {
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
        severity: if exposed {
            Severity::Critical
        } else {
            Severity::High
        },
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
fn known_change(
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
fn state_from_word(word: Option<&str>) -> Option<AlertState> {
    match word? {
        "open" => Some(AlertState::Open),
        "fixed" => Some(AlertState::Fixed),
        "dismissed" | "auto_dismissed" => Some(AlertState::Dismissed),
        _ => None,
    }
}

/// The state an action leaves the alert in, for payloads that give none.
fn state_after(change: AlertChange) -> AlertState {
    match change {
        AlertChange::Fixed => AlertState::Fixed,
        AlertChange::Dismissed => AlertState::Dismissed,
        AlertChange::Opened | AlertChange::Reappeared | AlertChange::Updated => AlertState::Open,
    }
}

/// A code scanning rule's severity: GitHub's `security_severity_level` when the rule has one, else
/// a severity word among the tags (Trivy tags its rules `"MEDIUM"`), else the SARIF level.
fn code_scanning_severity(rule: &CodeScanningRule, tags: &[String]) -> Severity {
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
fn advisory_cvss_score(advisory: &AdvisoryPayload) -> Option<f64> {
    let score = |cvss: &Loose<CvssPayload>| cvss.as_ref()?.score.get().filter(|s| *s > 0.0);
    let severities = advisory.cvss_severities.as_ref();
    score(&advisory.cvss)
        .or_else(|| score(&severities?.cvss_v3))
        .or_else(|| score(&severities?.cvss_v4))
}

/// `CWE-<n>` for each CWE named, in order, without duplicates: code scanning tags spell them
/// `external/cwe/cwe-079`, advisories `CWE-79`.
fn normalised_cwes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut cwes: Vec<String> = Vec::new();
    for id in names.filter_map(normalised_cwe) {
        if !cwes.contains(&id) {
            cwes.push(id);
        }
    }
    cwes
}

fn normalised_cwe(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("external/cwe/").unwrap_or(&name);
    let number: u32 = name.strip_prefix("cwe-")?.parse().ok()?;
    Some(format!("CWE-{number}"))
}

fn location(payload: LocationPayload) -> Option<Location> {
    Some(Location {
        path: payload.path.text()?,
        start_line: payload.start_line.get(),
        end_line: payload.end_line.get(),
    })
}

/// The first of `fields` that has text.
fn first_text<const N: usize>(fields: [&Loose<String>; N]) -> Option<String> {
    fields.iter().find_map(|field| field.text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::{Path, PathBuf};

    /// The real third-party deliveries, read where they are (see `shared/fixtures/SOURCES.md`).
    const WEBHOOKS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/github-webhooks"
    );
    const EXAMPLES: &str = "octokit-webhooks/payload-examples/api.github.com";

    fn fixture(relative: &str) -> Value {
        let path = Path::new(WEBHOOKS).join(relative);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        serde_json::from_slice(&bytes).expect("fixtures are JSON")
    }

    fn example(event: &str, file: &str) -> Value {
        fixture(&format!("{EXAMPLES}/{event}/{file}"))
    }

    fn parse(event: &str, payload: &Value) -> Result<ParsedDelivery, PayloadError> {
        let body = serde_json::to_vec(payload).expect("a Value serialises");
        parse_delivery(event, &body)
    }

    fn alert(event: &str, payload: &Value) -> AlertEvent {
        match parse(event, payload) {
            Ok(ParsedDelivery::Alert(alert)) => alert,
            other => panic!("expected an alert from {event}, got {other:?}"),
        }
    }

    fn invalid_at(event: &str, payload: &Value) -> (String, String) {
        match parse(event, payload) {
            Err(PayloadError::Invalid { path, message }) => (path, message),
            other => panic!("expected an invalid payload, got {other:?}"),
        }
    }

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(text.parse().expect("test timestamps are RFC 3339"))
    }

    // --- every real delivery -----------------------------------------------------------------

    /// Every `.json` delivery under `fixtures/github-webhooks`, schemas left out.
    fn fixture_deliveries() -> Vec<PathBuf> {
        fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
            let entries = std::fs::read_dir(dir)
                .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
            for entry in entries {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    if path
                        .file_name()
                        .is_some_and(|name| name == "payload-schemas")
                    {
                        continue;
                    }
                    walk(&path, found);
                } else if path.extension().is_some_and(|ext| ext == "json") {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        walk(Path::new(WEBHOOKS), &mut found);
        found.sort();
        found
    }

    /// The `X-GitHub-Event` a fixture was delivered with: its folder in octokit's examples
    /// (`.../api.github.com/<event>/<action>.payload.json`), else the start of its file name
    /// (`code_scanning_alert.created....json`, octocrab's `pull_request_closed_webhook_event.json`).
    fn event_name_of(path: &Path) -> &'static str {
        const EVENTS: [&str; 11] = [
            "code_scanning_alert",
            "dependabot_alert",
            "secret_scanning_alert",
            "ping",
            "installation_repositories",
            "installation",
            "pull_request",
            "issue_comment",
            "issues",
            "check_run",
            "check_suite",
        ];
        let text = path.to_string_lossy();
        let name = match text.split_once("/api.github.com/") {
            Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
            None => path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default(),
        };
        // Longest first, so `installation_repositories_removed` is not read as `installation`.
        let mut events = EVENTS;
        events.sort_by_key(|event| std::cmp::Reverse(event.len()));
        events
            .into_iter()
            .find(|event| {
                name == *event
                    || name.starts_with(&format!("{event}_"))
                    || name.starts_with(&format!("{event}."))
            })
            .unwrap_or_else(|| panic!("no known event for {}", path.display()))
    }

    #[test]
    fn every_fixture_delivery_parses_to_what_its_event_calls_for() {
        let deliveries = fixture_deliveries();
        assert!(
            deliveries.len() >= 48,
            "expected the 48 fixture deliveries, found {}",
            deliveries.len()
        );
        let mut alerts = 0;
        for path in &deliveries {
            let event = event_name_of(path);
            let body = std::fs::read(path).expect("fixture is readable");
            let parsed = parse_delivery(event, &body)
                .unwrap_or_else(|err| panic!("{} ({event}): {err}", path.display()));
            match (event, &parsed) {
                (
                    "code_scanning_alert" | "dependabot_alert" | "secret_scanning_alert",
                    ParsedDelivery::Alert(alert),
                ) => {
                    alerts += 1;
                    let payload: Value = serde_json::from_slice(&body).expect("JSON");
                    assert_eq!(alert.action, payload["action"], "{}", path.display());
                    assert_eq!(
                        Some(alert.finding.number),
                        payload["alert"]["number"].as_u64()
                    );
                    assert_eq!(
                        Some(alert.finding.repository.id),
                        payload["repository"]["id"].as_u64()
                    );
                    assert_eq!(alert.actor.as_deref(), payload["sender"]["login"].as_str());
                }
                ("ping", ParsedDelivery::Ping) => {}
                (_, ParsedDelivery::Ignored { reason }) if !event.ends_with("_alert") => {
                    assert!(reason.contains(event), "{reason}");
                }
                _ => panic!("{} ({event}) parsed as {parsed:?}", path.display()),
            }
        }
        assert_eq!(
            alerts, 9,
            "alert fixtures: 5 code scanning, 2 Dependabot, 1 secret, 1 Trivy"
        );
    }

    // --- code scanning -----------------------------------------------------------------------

    #[test]
    fn codeql_created_example_becomes_an_opened_finding() {
        let event = alert(
            "code_scanning_alert",
            &example("code_scanning_alert", "created.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Opened);
        assert_eq!(event.action, "created");
        assert_eq!(event.actor.as_deref(), Some("github"));
        assert_eq!(event.installation_id, Some(14662836));
        let finding = event.finding;
        assert_eq!(finding.kind, AlertKind::CodeScanning);
        assert_eq!(
            finding.repository,
            Repository {
                id: 337911632,
                full_name: "Codertocat/Hello-World".into(),
                default_branch: Some("master".into()),
                html_url: Some("https://github.com/Codertocat/Hello-World".into()),
            }
        );
        assert_eq!(finding.number, 10);
        assert_eq!(finding.rule.id, "java/sql-injection");
        // `rule.name` is "" here, as for most CodeQL rules: the short description names it.
        assert_eq!(
            finding.rule.name,
            "Query built from user-controlled sources"
        );
        assert!(
            finding
                .rule
                .description
                .as_deref()
                .is_some_and(|d| d.starts_with("Building a SQL or Java Persistence query"))
        );
        assert_eq!(finding.rule.help, None, "`help: null` reads as none");
        // No security_severity_level and `tags: null`: the SARIF level `error` decides.
        assert_eq!(finding.severity, Severity::High);
        assert!(finding.cwes.is_empty());
        assert_eq!(finding.tool.as_deref(), Some("CodeQL"));
        assert_eq!(
            finding.location,
            Some(Location {
                path: "src/main/java/com/github/demo/service/BookService.java".into(),
                start_line: Some(84),
                end_line: Some(84),
            })
        );
        assert_eq!(
            finding.place(),
            "src/main/java/com/github/demo/service/BookService.java:84"
        );
        assert_eq!(finding.git_ref.as_deref(), Some("refs/heads/code-feature"));
        assert_eq!(
            finding.commit_sha.as_deref(),
            Some("788437584c2522f27feab10d8e631bab3e9e783a")
        );
        assert_eq!(finding.state, AlertState::Open);
        assert_eq!(finding.dismissal, None);
        assert_eq!(
            finding.html_url.as_deref(),
            Some("https://github.com/Codertocat/Hello-World/security/code-scanning/10")
        );
        assert_eq!(finding.created_at, at("2021-02-11T03:10:43Z"));
        assert_eq!(finding.updated_at, None);
        assert!(finding.flow.is_empty() && finding.package.is_none() && finding.advisory.is_none());
    }

    #[test]
    fn trivy_alert_with_null_state_is_open_with_its_security_severity() {
        let payload = fixture(
            "octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json",
        );
        assert!(payload["alert"]["state"].is_null());
        let event = alert("code_scanning_alert", &payload);
        assert_eq!(event.change, AlertChange::Opened);
        assert_eq!(
            event.installation_id, None,
            "this delivery has no installation"
        );
        let finding = event.finding;
        assert_eq!(finding.state, AlertState::Open);
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.rule.id, "CVE-2026-42496");
        assert_eq!(finding.rule.name, "OsPackageVulnerability");
        assert_eq!(
            finding.rule.help_uri.as_deref(),
            Some("https://avd.aquasec.com/nvd/cve-2026-42496")
        );
        assert!(
            finding
                .rule
                .help
                .as_deref()
                .is_some_and(|h| h.contains("perl-base"))
        );
        assert_eq!(finding.tool.as_deref(), Some("Trivy (docker)"));
        assert_eq!(finding.git_ref.as_deref(), Some("refs/pull/1/merge"));
        assert_eq!(finding.pull_request(), Some(1));
        assert_eq!(finding.commit_sha.as_deref(), Some("abc123def456789"));
        assert_eq!(
            finding.repository.default_branch.as_deref(),
            Some("develop")
        );
        assert_eq!(
            finding
                .location
                .as_ref()
                .map(|l| (l.path.as_str(), l.start_line)),
            Some((
                "artifact/container-ExampleService.Api-0.1.0-PullRequest.1-1-merge-abc123d-0001.tar",
                Some(1)
            ))
        );
        assert_eq!(finding.updated_at, at("2026-06-26T03:52:44Z"));
    }

    #[test]
    fn trivy_severity_falls_back_to_its_tags_then_to_the_sarif_level() {
        let mut payload = fixture(
            "octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json",
        );
        let rule = &mut payload["alert"]["rule"];
        rule.as_object_mut()
            .map(|r| r.remove("security_severity_level"));
        rule["tags"] = json!(["security", "HIGH", "vulnerability"]);
        assert_eq!(
            alert("code_scanning_alert", &payload).finding.severity,
            Severity::High
        );

        // Without a severity word among the tags, `severity: warning` decides.
        payload["alert"]["rule"]["tags"] = json!(["security", "vulnerability"]);
        assert_eq!(
            alert("code_scanning_alert", &payload).finding.severity,
            Severity::Medium
        );

        payload["alert"]["rule"]["severity"] = Value::Null;
        assert_eq!(
            alert("code_scanning_alert", &payload).finding.severity,
            Severity::Unknown
        );
    }

    #[test]
    fn codeql_cwe_tags_become_cwe_ids() {
        let mut payload = example("code_scanning_alert", "created.payload.json");
        payload["alert"]["rule"]["tags"] = json!([
            "security",
            "external/cwe/cwe-089",
            "external/cwe/cwe-564",
            "external/cwe/cwe-089",
            "external/cwe/cwe-oops",
        ]);
        payload["alert"]["rule"]["security_severity_level"] = json!("high");
        let finding = alert("code_scanning_alert", &payload).finding;
        assert_eq!(finding.cwes, ["CWE-89", "CWE-564"]);
        assert_eq!(finding.severity, Severity::High);
    }

    #[test]
    fn closed_by_user_example_is_a_dismissal_by_codertocat() {
        let event = alert(
            "code_scanning_alert",
            &example("code_scanning_alert", "closed-by-user.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Dismissed);
        assert_eq!(event.actor.as_deref(), Some("Codertocat"));
        let finding = event.finding;
        assert_eq!(finding.state, AlertState::Dismissed);
        assert_eq!(
            finding.dismissal,
            Some(Dismissal {
                by: Some("Codertocat".into()),
                reason: Some("false positive".into()),
                comment: None,
                at: at("2021-02-11T02:59:08Z"),
            })
        );
        // `ref` and `commit_oid` are "" for `*_by_user` actions: the instance's stand in.
        assert_eq!(finding.git_ref.as_deref(), Some("refs/heads/master"));
        assert_eq!(
            finding.commit_sha.as_deref(),
            Some("b30b5f3b935825766a22ab1bce14788bf9627f6c")
        );
        // Anchore's rule has `name: ""`; the description names it.
        assert_eq!(
            finding.rule.name,
            "CVE-2020-27218 Severity=Medium Package=http2-hpack Version=9.4.27.v20200227"
        );
        assert_eq!(
            finding.tool.as_deref(),
            Some("Anchore Container Vulnerability Report (T0)")
        );
        assert_eq!(
            finding.location.map(|l| l.path),
            Some("/usr/local/jetty/lib/http2/http2-hpack-9.4.27.v20200227.jar".into())
        );
    }

    #[test]
    fn fixed_example_prefers_the_deliverys_commit_over_the_instances() {
        let finding = alert(
            "code_scanning_alert",
            &example("code_scanning_alert", "fixed.payload.json"),
        )
        .finding;
        assert_eq!(finding.state, AlertState::Fixed);
        assert_eq!(finding.git_ref.as_deref(), Some("refs/pull/11/merge"));
        assert_eq!(
            finding.commit_sha.as_deref(),
            Some("c5bf87afac650dbcb5fd97cfc22fcae5303da8e1")
        );
        assert_eq!(finding.dismissal, None);
    }

    #[test]
    fn reopened_example_without_a_location_or_installation_still_reads() {
        let event = alert(
            "code_scanning_alert",
            &example("code_scanning_alert", "reopened.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Reappeared);
        assert_eq!(event.installation_id, None);
        let finding = event.finding;
        assert_eq!(finding.location, None, "its only instance has no location");
        assert_eq!(finding.rule.id, "Style/FrozenStringLiteralComment");
        assert!(
            finding
                .rule
                .name
                .starts_with("Add the frozen_string_literal comment")
        );
        assert_eq!(finding.severity, Severity::Note);
        assert_eq!(finding.tool.as_deref(), Some("Rubocop"));
        assert_eq!(finding.repository.id, 186853002);
    }

    #[test]
    fn every_code_scanning_action_maps_onto_its_change() {
        use AlertChange as C;
        use AlertState as S;
        let base = example("code_scanning_alert", "created.payload.json");
        let cases = [
            ("created", "open", C::Opened, S::Open),
            ("reopened", "open", C::Reappeared, S::Open),
            ("reopened_by_user", "open", C::Reappeared, S::Open),
            ("appeared_in_branch", "open", C::Reappeared, S::Open),
            ("closed_by_user", "dismissed", C::Dismissed, S::Dismissed),
            ("fixed", "fixed", C::Fixed, S::Fixed),
            ("updated_assignment", "open", C::Updated, S::Open),
        ];
        for (action, state, change, expected_state) in cases {
            let mut payload = base.clone();
            payload["action"] = json!(action);
            payload["alert"]["state"] = json!(state);
            if action.ends_with("_by_user") {
                payload["ref"] = json!("");
                payload["commit_oid"] = json!("");
            }
            if action == "updated_assignment" {
                // Its schema has no `ref` or `commit_oid` at all.
                let top = payload.as_object_mut().expect("object");
                top.remove("ref");
                top.remove("commit_oid");
            }
            let event = alert("code_scanning_alert", &payload);
            assert_eq!(event.change, change, "{action}");
            assert_eq!(event.action, action);
            assert_eq!(event.finding.state, expected_state, "{action}");
            assert_eq!(
                event.finding.git_ref.as_deref(),
                Some("refs/heads/code-feature"),
                "{action}: the delivery's ref, or the instance's when it gives none"
            );
        }
    }

    #[test]
    fn a_missing_state_follows_the_action() {
        let base = example("code_scanning_alert", "created.payload.json");
        for (action, expected) in [
            ("fixed", AlertState::Fixed),
            ("closed_by_user", AlertState::Dismissed),
            ("appeared_in_branch", AlertState::Open),
        ] {
            let mut payload = base.clone();
            payload["action"] = json!(action);
            payload["alert"]["state"] = Value::Null;
            assert_eq!(
                alert("code_scanning_alert", &payload).finding.state,
                expected
            );
            payload["alert"].as_object_mut().map(|a| a.remove("state"));
            assert_eq!(
                alert("code_scanning_alert", &payload).finding.state,
                expected
            );
        }
    }

    // --- Dependabot --------------------------------------------------------------------------

    #[test]
    fn dependabot_created_example_describes_the_vulnerable_package() {
        let event = alert(
            "dependabot_alert",
            &example("dependabot_alert", "created.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Opened);
        assert_eq!(event.installation_id, Some(13986380));
        let finding = event.finding;
        assert_eq!(finding.kind, AlertKind::Dependabot);
        assert_eq!(finding.number, 20);
        assert_eq!(finding.repository.full_name, "wolfy1339/pika-pack");
        assert_eq!(finding.rule.id, "GHSA-c2qf-rxjj-qqgw");
        assert_eq!(
            finding.rule.name,
            "semver vulnerable to Regular Expression Denial of Service"
        );
        assert!(
            finding
                .rule
                .description
                .as_deref()
                .is_some_and(|d| d.starts_with("Versions of the package semver before 7.5.2"))
        );
        assert_eq!(
            finding.rule.help.as_deref(),
            Some("Upgrade semver to 7.5.2 or later")
        );
        assert_eq!(
            finding.rule.help_uri.as_deref(),
            Some("https://github.com/advisories/GHSA-c2qf-rxjj-qqgw")
        );
        assert_eq!(finding.severity, Severity::Medium);
        assert_eq!(finding.cwes, ["CWE-1333"]);
        assert_eq!(finding.tool.as_deref(), Some("Dependabot"));
        assert_eq!(
            finding.package,
            Some(Package {
                ecosystem: "npm".into(),
                name: "semver".into(),
                manifest_path: "package-lock.json".into(),
                vulnerable_range: Some("< 7.5.2".into()),
                first_patched: Some("7.5.2".into()),
            })
        );
        let advisory = finding.advisory.as_ref().expect("an advisory");
        assert_eq!(advisory.ghsa_id.as_deref(), Some("GHSA-c2qf-rxjj-qqgw"));
        assert_eq!(advisory.cve_id.as_deref(), Some("CVE-2022-25883"));
        assert_eq!(advisory.cvss_score, Some(5.3));
        assert_eq!(advisory.references.len(), 8);
        assert_eq!(
            advisory.references[0],
            "https://nvd.nist.gov/vuln/detail/CVE-2022-25883"
        );
        assert_eq!(finding.location, None);
        assert_eq!(finding.place(), "package-lock.json");
        assert_eq!(finding.git_ref, None);
        assert_eq!(finding.state, AlertState::Open);
        assert_eq!(finding.dismissal, None);
        assert_eq!(
            finding.html_url.as_deref(),
            Some("https://github.com/wolfy1339/pika-pack/security/dependabot/20")
        );
        assert_eq!(finding.created_at, at("2023-06-24T13:57:12Z"));
        assert_eq!(finding.updated_at, at("2023-06-24T13:57:12Z"));
    }

    #[test]
    fn dependabot_fixed_example_takes_the_alerts_own_vulnerable_range() {
        let event = alert(
            "dependabot_alert",
            &example("dependabot_alert", "fixed.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Fixed);
        assert_eq!(event.installation_id, None);
        let finding = event.finding;
        assert_eq!(finding.state, AlertState::Fixed);
        assert_eq!(finding.rule.id, "GHSA-8f4m-hccc-8qph");
        assert_eq!(finding.cwes, ["CWE-532"]);
        // The advisory lists three ranges; `security_vulnerability` is the one this alert is on.
        let package = finding.package.expect("a package");
        assert_eq!(package.ecosystem, "pip");
        assert_eq!(package.manifest_path, "path/to/requirements.txt");
        assert_eq!(package.vulnerable_range.as_deref(), Some("< 2.8.19"));
        assert_eq!(package.first_patched.as_deref(), Some("2.8.19"));
        assert_eq!(finding.advisory.and_then(|a| a.cvss_score), Some(5.5));
        assert_eq!(finding.updated_at, at("2022-06-15T13:55:40Z"));
    }

    #[test]
    fn every_dependabot_action_maps_onto_its_change() {
        use AlertChange as C;
        use AlertState as S;
        let base = example("dependabot_alert", "created.payload.json");
        let cases = [
            ("created", "open", C::Opened, S::Open),
            ("dismissed", "dismissed", C::Dismissed, S::Dismissed),
            ("fixed", "fixed", C::Fixed, S::Fixed),
            ("reintroduced", "open", C::Reappeared, S::Open),
            ("reopened", "open", C::Reappeared, S::Open),
            (
                "auto_dismissed",
                "auto_dismissed",
                C::Dismissed,
                S::Dismissed,
            ),
            ("auto_reopened", "open", C::Reappeared, S::Open),
            ("assignees_changed", "open", C::Updated, S::Open),
        ];
        for (action, state, change, expected_state) in cases {
            let mut payload = base.clone();
            payload["action"] = json!(action);
            payload["alert"]["state"] = json!(state);
            let event = alert("dependabot_alert", &payload);
            assert_eq!(event.change, change, "{action}");
            assert_eq!(event.finding.state, expected_state, "{action}");
            assert_eq!(
                event.finding.dismissal.is_some(),
                expected_state == S::Dismissed,
                "{action}"
            );
        }
    }

    #[test]
    fn a_dependabot_dismissal_keeps_githubs_reason_and_an_auto_dismissal_says_so() {
        let mut payload = example("dependabot_alert", "created.payload.json");
        payload["action"] = json!("dismissed");
        payload["alert"]["state"] = json!("dismissed");
        payload["alert"]["dismissed_by"] = json!({"login": "wolfy1339", "id": 1});
        payload["alert"]["dismissed_reason"] = json!("tolerable_risk");
        payload["alert"]["dismissed_comment"] = json!("dev dependency only");
        payload["alert"]["dismissed_at"] = json!("2023-06-25T10:00:00Z");
        assert_eq!(
            alert("dependabot_alert", &payload).finding.dismissal,
            Some(Dismissal {
                by: Some("wolfy1339".into()),
                reason: Some("tolerable_risk".into()),
                comment: Some("dev dependency only".into()),
                at: at("2023-06-25T10:00:00Z"),
            })
        );

        let mut payload = example("dependabot_alert", "created.payload.json");
        payload["action"] = json!("auto_dismissed");
        payload["alert"]["state"] = json!("auto_dismissed");
        payload["alert"]["auto_dismissed_at"] = json!("2023-06-25T11:00:00Z");
        assert_eq!(
            alert("dependabot_alert", &payload).finding.dismissal,
            Some(Dismissal {
                by: None,
                reason: Some("auto_dismissed".into()),
                comment: None,
                at: at("2023-06-25T11:00:00Z"),
            })
        );
    }

    #[test]
    fn dependabot_severity_falls_back_to_the_cvss_score() {
        let mut payload = example("dependabot_alert", "created.payload.json");
        let alert_json = &mut payload["alert"];
        alert_json["security_advisory"]
            .as_object_mut()
            .map(|a| a.remove("severity"));
        alert_json["security_vulnerability"]["severity"] = Value::Null;
        alert_json["security_advisory"]["cvss"] = json!({"vector_string": "x", "score": 9.8});
        assert_eq!(
            alert("dependabot_alert", &payload).finding.severity,
            Severity::Critical
        );

        // A zero score with no vector is GitHub's "no CVSS"; the newer `cvss_severities` decide.
        payload["alert"]["security_advisory"]["cvss"] =
            json!({"vector_string": null, "score": 0.0});
        payload["alert"]["security_advisory"]["cvss_severities"] = json!({
            "cvss_v3": {"vector_string": null, "score": 0.0},
            "cvss_v4": {"vector_string": "CVSS:4.0/...", "score": 7.1},
        });
        let finding = alert("dependabot_alert", &payload).finding;
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(finding.advisory.and_then(|a| a.cvss_score), Some(7.1));

        payload["alert"]["security_advisory"]["cvss_severities"] = Value::Null;
        let finding = alert("dependabot_alert", &payload).finding;
        assert_eq!(finding.severity, Severity::Unknown);
        assert_eq!(finding.advisory.and_then(|a| a.cvss_score), None);
    }

    #[test]
    fn a_dependabot_alert_without_a_patch_says_so() {
        let mut payload = example("dependabot_alert", "created.payload.json");
        payload["alert"]["security_vulnerability"]["first_patched_version"] = Value::Null;
        let finding = alert("dependabot_alert", &payload).finding;
        assert_eq!(
            finding.rule.help.as_deref(),
            Some("No patched version of semver is known yet")
        );
        assert_eq!(finding.package.and_then(|p| p.first_patched), None);
    }

    // --- secret scanning ---------------------------------------------------------------------

    #[test]
    fn secret_scanning_reopened_example_reads_despite_its_missing_fields() {
        let event = alert(
            "secret_scanning_alert",
            &example("secret_scanning_alert", "reopened.payload.json"),
        );
        assert_eq!(event.change, AlertChange::Reappeared);
        assert_eq!(event.action, "reopened");
        assert_eq!(event.actor.as_deref(), Some("Codertocat"));
        assert_eq!(event.installation_id, None);
        let finding = event.finding;
        assert_eq!(finding.kind, AlertKind::SecretScanning);
        assert_eq!(finding.number, 191);
        assert_eq!(finding.repository.id, 257423561);
        assert_eq!(finding.rule.id, "adafruit_io_key");
        assert_eq!(
            finding.rule.name, "adafruit_io_key",
            "no display name in this example"
        );
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(finding.tool.as_deref(), Some("Secret scanning"));
        assert_eq!(finding.state, AlertState::Open);
        assert_eq!(finding.dismissal, None);
        assert_eq!(finding.location, None);
        // This example has no html_url, created_at or updated_at.
        assert_eq!(finding.html_url, None);
        assert_eq!(finding.created_at, None);
        assert_eq!(finding.updated_at, None);
    }

    #[test]
    fn every_secret_scanning_action_maps_onto_its_change() {
        use AlertChange as C;
        use AlertState as S;
        let base = example("secret_scanning_alert", "reopened.payload.json");
        let cases = [
            ("created", None, C::Opened, S::Open),
            ("reopened", None, C::Reappeared, S::Open),
            ("resolved", Some("revoked"), C::Fixed, S::Fixed),
            (
                "resolved",
                Some("false_positive"),
                C::Dismissed,
                S::Dismissed,
            ),
            ("resolved", Some("wont_fix"), C::Dismissed, S::Dismissed),
            (
                "resolved",
                Some("used_in_tests"),
                C::Dismissed,
                S::Dismissed,
            ),
            (
                "resolved",
                Some("pattern_edited"),
                C::Dismissed,
                S::Dismissed,
            ),
            (
                "resolved",
                Some("pattern_deleted"),
                C::Dismissed,
                S::Dismissed,
            ),
            ("revoked", Some("revoked"), C::Fixed, S::Fixed),
            ("validated", None, C::Updated, S::Open),
            ("publicly_leaked", None, C::Updated, S::Open),
            ("assigned", None, C::Updated, S::Open),
            ("unassigned", None, C::Updated, S::Open),
        ];
        for (action, resolution, change, expected_state) in cases {
            let mut payload = base.clone();
            payload["action"] = json!(action);
            payload["alert"]["resolution"] = json!(resolution);
            if resolution.is_some() {
                payload["alert"]["resolved_by"] = json!({"login": "Codertocat", "id": 21031067});
                payload["alert"]["resolved_at"] = json!("2024-01-02T03:04:05Z");
            }
            // GitHub's own webhook schema has no `state`; octokit's has `open`/`resolved`. Both
            // forms must read the same.
            for state in [
                None,
                Some(if resolution.is_some() {
                    "resolved"
                } else {
                    "open"
                }),
            ] {
                match state {
                    Some(state) => payload["alert"]["state"] = json!(state),
                    None => {
                        payload["alert"].as_object_mut().map(|a| a.remove("state"));
                    }
                }
                let event = alert("secret_scanning_alert", &payload);
                assert_eq!(event.change, change, "{action} {resolution:?} {state:?}");
                assert_eq!(
                    event.finding.state, expected_state,
                    "{action} {resolution:?}"
                );
                let dismissal = event.finding.dismissal;
                if expected_state == S::Dismissed {
                    let dismissal = dismissal.expect("a dismissal");
                    assert_eq!(dismissal.reason.as_deref(), resolution);
                    assert_eq!(dismissal.by.as_deref(), Some("Codertocat"));
                    assert_eq!(dismissal.at, at("2024-01-02T03:04:05Z"));
                } else {
                    assert_eq!(dismissal, None, "{action} {resolution:?}");
                }
            }
        }
    }

    #[test]
    fn a_secret_that_works_or_leaked_publicly_is_critical() {
        let base = example("secret_scanning_alert", "reopened.payload.json");
        let severity = |edit: &dyn Fn(&mut Value)| {
            let mut payload = base.clone();
            edit(&mut payload);
            alert("secret_scanning_alert", &payload).finding.severity
        };
        assert_eq!(severity(&|_| {}), Severity::High);
        assert_eq!(
            severity(&|p| p["action"] = json!("publicly_leaked")),
            Severity::Critical
        );
        assert_eq!(
            severity(&|p| p["alert"]["publicly_leaked"] = json!(true)),
            Severity::Critical
        );
        assert_eq!(
            severity(&|p| p["alert"]["validity"] = json!("active")),
            Severity::Critical
        );
        assert_eq!(
            severity(&|p| p["alert"]["validity"] = json!("inactive")),
            Severity::High
        );
        assert_eq!(
            severity(&|p| p["alert"]["publicly_leaked"] = json!(false)),
            Severity::High
        );
    }

    #[test]
    fn a_secrets_display_name_names_its_rule() {
        let mut payload = example("secret_scanning_alert", "reopened.payload.json");
        payload["alert"]["secret_type_display_name"] = json!("Adafruit IO Key");
        payload["alert"]["html_url"] =
            json!("https://github.com/Codertocat/Hello-World/security/secret-scanning/191");
        payload["alert"]["created_at"] = json!("2024-01-02T03:04:05Z");
        let finding = alert("secret_scanning_alert", &payload).finding;
        assert_eq!(finding.rule.id, "adafruit_io_key");
        assert_eq!(finding.rule.name, "Adafruit IO Key");
        assert!(finding.html_url.is_some());
        assert_eq!(finding.created_at, at("2024-01-02T03:04:05Z"));
    }

    // --- what is ignored, and what is refused -------------------------------------------------

    #[test]
    fn unknown_actions_of_alert_events_are_ignored() {
        for (event, file) in [
            ("code_scanning_alert", "created.payload.json"),
            ("dependabot_alert", "created.payload.json"),
            ("secret_scanning_alert", "reopened.payload.json"),
        ] {
            let mut payload = example(event, file);
            payload["action"] = json!("teleported");
            // The shape of a future action is unknown too: it must not matter.
            payload["alert"] = json!("something new");
            let Ok(ParsedDelivery::Ignored { reason }) = parse(event, &payload) else {
                panic!("{event} teleported should be ignored");
            };
            assert!(reason.contains("teleported"), "{reason}");

            payload.as_object_mut().map(|p| p.remove("action"));
            assert!(matches!(
                parse(event, &payload),
                Ok(ParsedDelivery::Ignored { .. })
            ));
        }
    }

    #[test]
    fn other_events_are_ignored_whatever_their_body() {
        let payload = example("code_scanning_alert", "created.payload.json");
        for event in [
            "pull_request",
            "installation",
            "check_run",
            "secret_scanning_alert_location",
            "",
            "CODE_SCANNING_ALERT",
        ] {
            assert!(
                matches!(parse(event, &payload), Ok(ParsedDelivery::Ignored { .. })),
                "{event:?}"
            );
        }
        assert_eq!(
            parse_delivery("push", b"{}"),
            Ok(ParsedDelivery::Ignored {
                reason: "`push` is not an alert event".into()
            })
        );
    }

    #[test]
    fn ping_is_ping() {
        assert_eq!(
            parse("ping", &example("ping", "payload.json")),
            Ok(ParsedDelivery::Ping)
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_refused_with_its_position() {
        assert_eq!(
            parse_delivery("code_scanning_alert", b"{"),
            Err(PayloadError::NotJson {
                line: 1,
                column: 1,
                message: "EOF while parsing an object".into(),
            })
        );
        assert!(matches!(
            parse_delivery("ping", b"{\n  \"zen\": nope }"),
            Err(PayloadError::NotJson { line: 2, .. })
        ));
        assert!(matches!(
            parse_delivery("pull_request", b""),
            Err(PayloadError::NotJson { .. })
        ));
        assert!(matches!(
            parse_delivery("dependabot_alert", &[0xff, 0xfe]),
            Err(PayloadError::NotJson { .. })
        ));
        let Err(err) = parse_delivery("code_scanning_alert", b"{") else {
            panic!("`{{` is not JSON");
        };
        assert_eq!(
            err.to_string(),
            "body is not JSON (line 1, column 1): EOF while parsing an object"
        );
    }

    #[test]
    fn json_that_is_not_an_object_is_refused() {
        for body in [&b"[]"[..], b"null", b"42", b"\"created\""] {
            assert_eq!(
                parse_delivery("code_scanning_alert", body),
                Err(PayloadError::Invalid {
                    path: ".".into(),
                    message: "expected a JSON object".into(),
                })
            );
        }
    }

    #[test]
    fn a_mistyped_alert_number_is_refused_at_its_path() {
        let payload = json!({
            "action": "created",
            "alert": {"number": "x"},
            "repository": {"id": 1, "full_name": "o/r"},
        });
        let (path, message) = invalid_at("code_scanning_alert", &payload);
        assert_eq!(path, "alert.number");
        assert_eq!(message, r#"invalid type: string "x", expected u64"#);
        let Err(err) = parse("dependabot_alert", &payload) else {
            panic!("refused");
        };
        assert_eq!(
            err.to_string(),
            r#"alert.number: invalid type: string "x", expected u64"#
        );
    }

    #[test]
    fn the_fields_scantix_cannot_do_without_are_refused_at_their_paths() {
        let base = example("code_scanning_alert", "created.payload.json");
        type Edit = fn(&mut Value);
        let cases: [(&str, Edit); 8] = [
            ("alert", |p| p["alert"] = Value::Null),
            ("alert.number", |p| p["alert"]["number"] = Value::Null),
            ("alert.number", |p| p["alert"]["number"] = json!(-3)),
            ("repository", |p| {
                p.as_object_mut().map(|o| o.remove("repository"));
            }),
            ("repository.id", |p| {
                p["repository"]["id"] = json!("337911632")
            }),
            ("repository.full_name", |p| {
                p["repository"]
                    .as_object_mut()
                    .map(|r| r.remove("full_name"));
            }),
            // serde's derive would read these arrays as structs, field by field.
            ("alert", |p| p["alert"] = json!([10])),
            ("repository", |p| p["repository"] = json!([1, "o/r"])),
        ];
        for (expected_path, edit) in cases {
            let mut payload = base.clone();
            edit(&mut payload);
            let (path, message) = invalid_at("code_scanning_alert", &payload);
            assert_eq!(path, expected_path, "{message}");
        }
    }

    #[test]
    fn fields_scantix_can_do_without_never_fail_a_delivery() {
        let mut payload = example("code_scanning_alert", "created.payload.json");
        let alert_json = &mut payload["alert"];
        alert_json["created_at"] = json!("last Tuesday");
        alert_json["updated_at"] = json!(1_700_000_000);
        alert_json["html_url"] = json!(42);
        alert_json["rule"]["tags"] = json!("external/cwe/cwe-089");
        alert_json["rule"]["help"] = json!({"text": "markdown moved"});
        alert_json["tool"] = json!("CodeQL");
        alert_json["dismissed_at"] = json!(false);
        alert_json["instances"][0]["location"]["start_line"] = json!("84");
        payload["installation"] = json!({"id": "14662836"});
        payload["sender"] = Value::Null;
        payload["repository"]["default_branch"] = json!(null);
        let event = alert("code_scanning_alert", &payload);
        let finding = &event.finding;
        assert_eq!(finding.created_at, None);
        assert_eq!(finding.updated_at, None);
        assert_eq!(finding.html_url, None);
        assert!(finding.cwes.is_empty());
        assert_eq!(finding.rule.help, None);
        assert_eq!(finding.tool, None);
        assert_eq!(
            finding.severity,
            Severity::High,
            "the SARIF level still reads"
        );
        assert_eq!(
            finding
                .location
                .as_ref()
                .map(|l| (l.start_line, l.end_line)),
            Some((None, Some(84)))
        );
        assert_eq!(event.installation_id, None);
        assert_eq!(event.actor, None);
        assert_eq!(finding.repository.default_branch, None);
        assert_eq!(finding.rule.id, "java/sql-injection");
    }

    #[test]
    fn a_rule_that_is_not_an_object_leaves_an_empty_rule() {
        let mut payload = example("code_scanning_alert", "created.payload.json");
        payload["alert"]["rule"] = json!("java/sql-injection");
        let finding = alert("code_scanning_alert", &payload).finding;
        assert_eq!(finding.rule, Rule::default());
        assert_eq!(finding.severity, Severity::Unknown);
    }

    #[test]
    fn cwe_names_normalise_to_one_spelling() {
        assert_eq!(
            normalised_cwe("external/cwe/cwe-079").as_deref(),
            Some("CWE-79")
        );
        assert_eq!(normalised_cwe("CWE-1333").as_deref(), Some("CWE-1333"));
        assert_eq!(normalised_cwe(" cwe-020 ").as_deref(), Some("CWE-20"));
        assert_eq!(normalised_cwe("external/cwe/cwe-"), None);
        assert_eq!(normalised_cwe("external/owasp/a1"), None);
        assert_eq!(normalised_cwe("security"), None);
    }
}
