//! `scantix deliver`: payload files delivered as GitHub (or Jira) would deliver them (signed raw
//! bytes, the event and delivery headers) to the same `GithubIngest` (or `JiraIngest`) the Lambda
//! functions use, in-process. Prints one JSON line per decided action, so a reader (or `jq`) sees
//! what each delivery did.

use crate::local::LocalApp;
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use http::{HeaderMap, HeaderValue};
use scantix_app::ingest::Answer;
use scantix_webhooks::servicenow::sign_servicenow;
use scantix_webhooks::signature::sign;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `scantix deliver`.
#[derive(Debug, Args)]
#[command(after_help = "\
The event (X-GitHub-Event) of each file, unless --event is given, comes from its name:
  - `<NN>-<event>.<anything>.json` or `<event>.<anything>.json`: the part before the first dot,
    after an optional number prefix (`03-code_scanning_alert.fixed.json` -> code_scanning_alert);
  - `<event>/<action>.payload.json` or `<event>/payload.json` (the octokit/webhooks examples'
    layout): the folder's name (`code_scanning_alert/fixed.payload.json` -> code_scanning_alert).
An event name is lowercase letters and underscores; a file that yields none needs --event.

The delivery id (X-GitHub-Delivery) is derived from a hash of the event name and the file's bytes:
delivering the same file twice is a redelivery, and scantix answers it as a duplicate without
deciding anything again. Use --delivery-id to send a file under another id.

With --source jira, each file is the body of a Jira webhook delivery (its event is its
`webhookEvent`), signed as a Jira Cloud admin webhook signs (X-Hub-Signature: sha256=..., with
SCANTIX_JIRA_WEBHOOK_SECRET), under an X-Atlassian-Webhook-Identifier derived from the file's bytes.
Deliveries about issues scantix did not create are answered, and ignored: \"... is not a scantix
ticket\". With the draft tracker, a Jira delivery may name a draft (DRAFT-...) in `issue.key`: the
draft stands in for the Jira issue (see events/jira/README.md).

With --source servicenow, each file is the body scantix's ServiceNow business rule posts (see
infra/servicenow/), signed as the rule signs (X-Scantix-Signature, with
SCANTIX_SERVICENOW_WEBHOOK_SECRET), under an X-Scantix-Delivery derived from the file's bytes.

Output: one JSON line per action on stdout, {\"file\", \"event\", \"delivery\", \"http\", \"status\",
\"action\", \"ticket\", \"ticket_state\"}; a delivery without actions (ignored, duplicate, ping) prints
one line with its status and reason; a refused delivery prints one line with the answer's error,
detail and, for a payload missing a field scantix needs, its JSON path. Every file is delivered;
the command then exits non-zero if any answer was not 2xx. Each event is committed to the store as
it is applied.
Tracker calls an earlier run left queued (the tracker was unreachable then) are made first.
A pull request's summary comment (pull_request deliveries, alerts on refs/pull/N/...) has no
GitHub to go to locally: it is shown on stderr as GitHub would show it.")]
pub struct DeliverArgs {
    /// Who sends the files.
    #[arg(long, value_enum, default_value_t = Source::Github)]
    source: Source,

    /// The X-GitHub-Event header for every file (default: inferred from each file's name).
    #[arg(long, value_name = "EVENT")]
    event: Option<String>,

    /// The delivery id header (X-GitHub-Delivery, X-Atlassian-Webhook-Identifier), instead of the
    /// id derived from the file (one file only).
    #[arg(long, value_name = "ID")]
    delivery_id: Option<String>,

    /// Payload files (JSON bodies of webhook deliveries), delivered in the order given.
    #[arg(required = true, value_name = "PAYLOAD.json")]
    files: Vec<PathBuf>,
}

/// The sender of the deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// GitHub alert, ping and installation webhooks.
    Github,
    /// Jira issue and comment webhooks (Cloud or Data Center bodies).
    Jira,
    /// What scantix's ServiceNow business rule posts (a record moved, commented, deleted).
    #[value(name = "servicenow")]
    ServiceNow,
}

/// One file, read, named and signed, ready to deliver.
struct Delivery {
    file: PathBuf,
    source: Source,
    event: String,
    id: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Delivers every file in order and prints the lines; fails (exit 1) if any answer
/// was not 2xx.
pub async fn run(app: &LocalApp, args: DeliverArgs) -> anyhow::Result<ExitCode> {
    if args.delivery_id.is_some() && args.files.len() > 1 {
        bail!(
            "--delivery-id names one delivery, but {} files were given",
            args.files.len()
        );
    }
    match (args.source, args.event.is_some()) {
        (Source::Jira, true) => bail!(
            "--event is GitHub's header; a Jira delivery names its event in its body (webhookEvent)"
        ),
        (Source::ServiceNow, true) => bail!(
            "--event is GitHub's header; a ServiceNow delivery names its event in its body (event)"
        ),
        _ => {}
    }
    // Read, name and sign every file before delivering any, so a typo in the last name does not
    // leave half a scenario delivered.
    let deliveries = args
        .files
        .iter()
        .map(|file| {
            let id = args.delivery_id.as_deref();
            match args.source {
                Source::Github => prepare(app, file, args.event.as_deref(), id),
                Source::Jira => prepare_jira(app, file, id),
                Source::ServiceNow => prepare_servicenow(app, file, id),
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Work an earlier run left queued goes first (as the sweeper would have done it by now).
    app.finish_queued_work().await?;

    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    // A closed stdout must not stop the deliveries or lose the store. A reader that went away
    // (`| head`) wanted no more lines: that is not an error. Any other write error is reported
    // after saving.
    let mut printing = true;
    let mut write_error = None;
    for delivery in &deliveries {
        let answer = match delivery.source {
            Source::Github => app.ingest.handle(&delivery.headers, &delivery.body).await,
            // No query string: deliveries are signed, so no `?token=` is needed.
            Source::Jira => {
                app.jira
                    .handle(&delivery.headers, None, &delivery.body)
                    .await
            }
            Source::ServiceNow => {
                app.servicenow
                    .handle(&delivery.headers, &delivery.body)
                    .await
            }
        };
        if !(200..300).contains(&answer.status) {
            failed += 1;
        }
        for line in lines(delivery, &answer) {
            if !printing {
                break;
            }
            let written = serde_json::to_string(&line)
                .map_err(std::io::Error::other)
                .and_then(|json| writeln!(out, "{json}"));
            if let Err(e) = written {
                printing = false;
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    write_error = Some(e);
                }
            }
        }
        show_pull_request_summaries(&answer);
    }
    if let Some(e) = write_error {
        return Err(e).context("writing to stdout");
    }
    if failed > 0 {
        eprintln!(
            "scantix: {failed} of {} deliveries were refused or failed (see their lines above)",
            deliveries.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn prepare(
    app: &LocalApp,
    file: &Path,
    event: Option<&str>,
    id: Option<&str>,
) -> anyhow::Result<Delivery> {
    let body =
        std::fs::read(file).with_context(|| format!("reading payload file {}", file.display()))?;
    let event = match event {
        Some(event) => event.to_owned(),
        None => event_from_file_name(file).with_context(|| {
            format!(
                "cannot tell the event of {} from its name; pass --event (see --help)",
                file.display()
            )
        })?,
    };
    let id = id.map_or_else(|| delivery_id(&event, &body), str::to_owned);
    let headers = headers(&event, &id, app, &body)?;
    Ok(Delivery {
        file: file.to_owned(),
        source: Source::Github,
        event,
        id,
        headers,
        body,
    })
}

fn prepare_jira(app: &LocalApp, file: &Path, id: Option<&str>) -> anyhow::Result<Delivery> {
    let body =
        std::fs::read(file).with_context(|| format!("reading payload file {}", file.display()))?;
    let id = id.map_or_else(|| delivery_id(JIRA_DELIVERY, &body), str::to_owned);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-atlassian-webhook-identifier",
        header_value(&id, "the delivery id")?,
    );
    let signature = sign(app.jira_secret.expose().as_bytes(), &body);
    headers.insert(
        "x-hub-signature",
        header_value(&signature, "the signature")?,
    );
    Ok(Delivery {
        file: file.to_owned(),
        source: Source::Jira,
        event: jira_event(&body),
        id,
        headers,
        body,
    })
}

fn prepare_servicenow(app: &LocalApp, file: &Path, id: Option<&str>) -> anyhow::Result<Delivery> {
    let body =
        std::fs::read(file).with_context(|| format!("reading payload file {}", file.display()))?;
    let id = id.map_or_else(|| delivery_id(SERVICENOW_DELIVERY, &body), str::to_owned);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-scantix-delivery", header_value(&id, "the delivery id")?);
    let signature = sign_servicenow(app.servicenow_secret.expose().as_bytes(), &body);
    headers.insert(
        "x-scantix-signature",
        header_value(&signature, "the signature")?,
    );
    let event = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["event"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "servicenow".to_owned());
    Ok(Delivery {
        file: file.to_owned(),
        source: Source::ServiceNow,
        event,
        id,
        headers,
        body,
    })
}

/// What the delivery ids of ServiceNow files are derived under.
const SERVICENOW_DELIVERY: &str = "servicenow";

/// What the delivery ids of Jira files are derived under (Jira sends no event header to mix in).
const JIRA_DELIVERY: &str = "jira";

/// The `webhookEvent` a Jira body names, for the output lines only: the ingest reads the body
/// itself (and refuses it, with a reason, if it is unreadable).
fn jira_event(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Named {
        #[serde(rename = "webhookEvent")]
        webhook_event: String,
    }
    serde_json::from_slice::<Named>(body)
        .map_or_else(|_| "jira".to_owned(), |named| named.webhook_event)
}

fn header_value(v: &str, name: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::from_str(v).with_context(|| format!("{name} {v:?} is not a valid header value"))
}

/// The headers GitHub sends with a delivery (those scantix reads).
fn headers(event: &str, id: &str, app: &LocalApp, body: &[u8]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-github-event", header_value(event, "the event")?);
    headers.insert("x-github-delivery", header_value(id, "the delivery id")?);
    let signature = sign(app.secret.expose().as_bytes(), body);
    headers.insert(
        "x-hub-signature-256",
        header_value(&signature, "the signature")?,
    );
    Ok(headers)
}

/// The event a payload file is named after (see the rules in `--help`), if its name tells.
pub fn event_from_file_name(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    if name == "payload.json" || name.ends_with(".payload.json") {
        let folder = file.parent()?.file_name().and_then(|f| f.to_str());
        if let Some(folder) = folder.filter(|f| is_event_name(f)) {
            return Some(folder.to_owned());
        }
    }
    let name = name.strip_suffix(".json")?;
    // An optional ordering prefix: digits and a dash.
    let name = match name.split_once('-') {
        Some((number, rest))
            if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) =>
        {
            rest
        }
        _ => name,
    };
    let event = name.split('.').next()?;
    is_event_name(event).then(|| event.to_owned())
}

fn is_event_name(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// A delivery id derived from the event and the exact bytes: the same file is the same delivery.
/// Shaped like GitHub's ids (a UUID; version 8, the RFC 9562 version for ids made this way).
pub fn delivery_id(event: &str, body: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(event.as_bytes())
        // A separator, so that ("ab", "c…") and ("a", "bc…") hash differently.
        .chain_update([0u8])
        .chain_update(body)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Locally there is no GitHub to post a pull request's summary comment to: it is shown on stderr
/// as GitHub would show it (stdout stays one JSON line per action).
fn show_pull_request_summaries(answer: &Answer) {
    let actions = answer.body["outcome"]["actions"].as_array();
    for action in actions.into_iter().flatten() {
        if action["action"] != "pull_request_summary" || action["comment"] != "rendered" {
            continue;
        }
        let pull_request = format!(
            "{}#{}",
            action["repository"].as_str().unwrap_or("?"),
            action["pull_request"]
        );
        eprintln!(
            "--- summary comment on pull request {pull_request} (not posted: no GitHub) ---\n{}---",
            action["body"].as_str().unwrap_or_default()
        );
    }
}

/// One line of output. Fields in this order, so that a person reading the lines sees the file
/// first and what happened next.
#[derive(Debug, Clone, Serialize)]
struct Line {
    file: String,
    event: String,
    delivery: String,
    http: u16,
    /// `applied`, `duplicate`, `ignored`, `pong`; `refused` (4xx) or `failed` (5xx).
    status: String,
    /// One decided action, as the engine describes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<Value>,
    /// Why a delivery decided nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// On answered deliveries: the group's ticket key (null when the group has no ticket).
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_state: Option<Value>,
    /// On refusals and failures: the answer's own fields (`error`, `detail`, and `path`, where
    /// in the payload, or `retryable`).
    #[serde(flatten)]
    answer: Map<String, Value>,
}

/// The lines for one answer: one per action, or one for the whole delivery.
fn lines(delivery: &Delivery, answer: &Answer) -> Vec<Line> {
    let body = &answer.body;
    let mut line = Line {
        file: delivery.file.display().to_string(),
        event: delivery.event.clone(),
        delivery: delivery.id.clone(),
        http: answer.status,
        status: String::new(),
        action: None,
        reason: None,
        ticket: None,
        ticket_state: None,
        answer: Map::new(),
    };

    if !(200..300).contains(&answer.status) {
        line.status = if answer.status < 500 {
            "refused"
        } else {
            "failed"
        }
        .into();
        if let Some(fields) = body.as_object() {
            // `delivery` is already on the line (5xx answers repeat it).
            line.answer = fields
                .iter()
                .filter(|(key, _)| key.as_str() != "delivery")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
        }
        return vec![line];
    }

    let status = body["status"].as_str().unwrap_or("applied");
    line.status = status.into();
    let outcome = &body["outcome"];
    let ticket = outcome["ticket"]["key"].as_str();
    line.ticket = Some(json!(ticket));
    // A group without a ticket still has a `ticket_state` (its initial one): not worth showing.
    line.ticket_state = Some(json!(ticket.and(outcome["ticket_state"].as_str())));
    let actions = outcome["actions"].as_array().cloned().unwrap_or_default();
    if actions.is_empty() {
        line.reason = Some(match status {
            "duplicate" => "delivered before: nothing decided again".to_owned(),
            "pong" => "ping: the webhook is set up".to_owned(),
            _ => body["reason"]
                .as_str()
                .unwrap_or("nothing to do")
                .to_owned(),
        });
        return vec![line];
    }
    actions
        .into_iter()
        .map(|action| Line {
            action: Some(action),
            ..line.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(path: &str) -> Option<String> {
        event_from_file_name(Path::new(path))
    }

    #[test]
    fn the_event_comes_from_a_numbered_or_plain_file_name() {
        let cases = [
            (
                "events/github/scenario/03-code_scanning_alert.fixed.json",
                "code_scanning_alert",
            ),
            ("01-ping.json", "ping"),
            ("dependabot_alert.created.json", "dependabot_alert"),
            ("secret_scanning_alert.json", "secret_scanning_alert"),
            // octokit/webhooks.net names its files this way, in a folder that is no event.
            (
                "octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json",
                "code_scanning_alert",
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(event(path).as_deref(), Some(expected), "{path}");
        }
    }

    #[test]
    fn the_event_comes_from_the_folder_in_the_octokit_layout() {
        assert_eq!(
            event("api.github.com/code_scanning_alert/fixed.payload.json").as_deref(),
            Some("code_scanning_alert")
        );
        assert_eq!(
            event("api.github.com/ping/payload.json").as_deref(),
            Some("ping")
        );
    }

    #[test]
    fn a_name_that_tells_no_event_gives_none() {
        for path in [
            "Payload.json",
            "-x.json",
            "12-.json",
            "notes.txt",
            "my alert.json",
            "",
            "/",
        ] {
            assert_eq!(event(path), None, "{path:?}");
        }
    }

    #[test]
    fn delivery_ids_depend_on_event_and_bytes_only() {
        let id = delivery_id("code_scanning_alert", b"{}");
        assert_eq!(id, delivery_id("code_scanning_alert", b"{}"));
        assert_ne!(id, delivery_id("code_scanning_alert", b"{} "));
        assert_ne!(id, delivery_id("dependabot_alert", b"{}"));
        assert_ne!(delivery_id("ab", b"c"), delivery_id("a", b"bc"));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8", "a version 8 UUID: {id}");
    }
}
