//! Figure family `load`: the deployed shape under load, end to end. `scantix serve` (release) on a
//! DynamoDB Local table takes deliveries as the functions do (one inbox write before the answer, a
//! worker applying what arrived); this family sends it 1,000 signed `code_scanning_alert` deliveries
//! over 10 rules of one repository, 20 % of them delivered a second time with the same
//! `X-GitHub-Delivery`, from 50 concurrent senders, then waits for the worker and reads the tickets
//! back with `scantix tickets --json`.
//!
//! - `load_deliveries`, `load_redeliveries`, `load_senders`: what was sent.
//! - `load_answers_by_status`: every answer's status (`202` accepted, `200` a redelivery recognised);
//!   `load_answers_5xx`: answers ≥ 500 (the claim: 0).
//! - `load_ack_ms_p50/p99`: request sent → answer read, per delivery, under the load.
//! - `load_send_seconds`, `load_acks_per_sec`: the whole send.
//! - `load_applied_seconds`: first delivery sent → the tickets show every finding (the worker done).
//! - `load_tickets`, `load_findings`: what the table holds at the end (the claim: 10 and 1,000).
//!
//! Family `load_budget` sends the same load to `serve` under a ticket budget of 3 per repository
//! (the bundled scenario's `budget`): its figures are the same, prefixed `load_budget_`, and its
//! claim is 3 tickets of their own plus the overflow ticket, and 1,000 findings counted in
//! tickets and in the 7 groups listed in the overflow ticket (`untracked` in `tickets --json`).

use crate::measure::figure;
use anyhow::{Context, Result, bail};
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-load-secret";
const DELIVERIES: u64 = 1_000;
const RULES: u64 = 10;
/// Every fifth delivery is sent twice.
const REDELIVER_EVERY: u64 = 5;
const SENDERS: usize = 50;
/// How long the worker gets to apply everything before the family gives up.
const APPLY_TIMEOUT: Duration = Duration::from_secs(900);

/// Which load: without a budget (`load`) or under one (`load_budget`).
#[derive(Clone, Copy)]
pub struct Variant {
    /// The figures' prefix.
    pub prefix: &'static str,
    /// The settings' `budget: { per-repository: N }`, if any.
    pub per_repository: Option<u64>,
}

pub const PLAIN: Variant = Variant {
    prefix: "load",
    per_repository: None,
};

/// The bundled scenario's budget.
pub const BUDGETED: Variant = Variant {
    prefix: "load_budget",
    per_repository: Some(3),
};

pub fn run(endpoint: &str, variant: Variant) -> Result<()> {
    let name = |figure: &str| format!("{}_{figure}", variant.prefix);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scantix = build_scantix(&root)?;
    let table = format!("scantix-bench-load-{}", uuid::Uuid::new_v4().simple());
    let store_args = ["--dynamodb-endpoint", endpoint, "--table", &table];
    let (server, addr) = serve(&root, &scantix, &store_args, variant)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sends = deliveries()?;
    figure(&name("deliveries"), DELIVERIES);
    figure(&name("redeliveries"), sends.len() as u64 - DELIVERIES);
    figure(&name("senders"), SENDERS);
    let started = Instant::now();
    let answers = runtime.block_on(send_all(&addr, sends))?;
    let send_seconds = started.elapsed().as_secs_f64();

    let mut by_status = BTreeMap::<u16, usize>::new();
    for answer in &answers {
        *by_status.entry(answer.status).or_default() += 1;
    }
    figure(
        &name("answers_by_status"),
        by_status
            .iter()
            .map(|(status, n)| format!("{status}={n}"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    figure(
        &name("answers_5xx"),
        answers.iter().filter(|a| a.status >= 500).count(),
    );
    let mut millis: Vec<f64> = answers.iter().map(|a| a.millis).collect();
    millis.sort_by(f64::total_cmp);
    figure(
        &name("ack_ms_p50"),
        format!("{:.1}", percentile(&millis, 0.5)),
    );
    figure(
        &name("ack_ms_p99"),
        format!("{:.1}", percentile(&millis, 0.99)),
    );
    figure(&name("send_seconds"), format!("{send_seconds:.1}"));
    figure(
        &name("acks_per_sec"),
        format!("{:.0}", answers.len() as f64 / send_seconds),
    );

    // The worker applies in the background: read the tickets until every finding is on one (or,
    // under a budget, in a group listed in the overflow ticket).
    let (tickets, findings) = loop {
        let (tickets, findings) = tickets_and_findings(&scantix, &store_args)?;
        if findings >= DELIVERIES || started.elapsed() > APPLY_TIMEOUT {
            break (tickets, findings);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    figure(
        &name("applied_seconds"),
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    figure(&name("tickets"), tickets);
    figure(&name("findings"), findings);
    drop(server);
    // Under a budget: its tickets of their own, and the overflow ticket listing the rest.
    let expected = variant.per_repository.map_or(RULES, |n| n.min(RULES) + 1);
    if tickets != expected || findings != DELIVERIES {
        bail!(
            "{}: expected {expected} tickets and {DELIVERIES} findings, the table holds {tickets} and {findings}",
            variant.prefix
        );
    }
    Ok(())
}

/// The `scantix` binary in the bench's own profile (release for the figures, as deployed), built
/// first.
fn build_scantix(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let (flags, dir): (&[&str], _) = if cfg!(debug_assertions) {
        (&[], "debug")
    } else {
        (&["--release"], "release")
    };
    let built = Command::new(cargo)
        .arg("build")
        .args(flags)
        .args(["-p", "scantix-cli", "--bin", "scantix"])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !built.success() {
        bail!("building the scantix binary failed");
    }
    Ok(root.join("target").join(dir).join("scantix"))
}

/// The settings serve runs with: the bundled scenario's policy, which tickets the fixture's
/// branch, `code-feature` (the default policy would record these alerts only), and the variant's
/// budget. Not the scenario's settings file itself: its ticket budget (3 per repository) is the
/// `load_budget` family's alone; `load`'s claim is 10 tickets.
fn settings(root: &Path, variant: Variant) -> Result<PathBuf> {
    let policy = root
        .join("events/github/scantix.rego")
        .canonicalize()
        .context("the scenario's policy, events/github/scantix.rego")?;
    let path = std::env::temp_dir().join(format!(
        "scantix-bench-{}-{}.yml",
        variant.prefix,
        std::process::id()
    ));
    let mut text = format!("policy-file: {}\n", policy.display());
    if let Some(n) = variant.per_repository {
        text.push_str(&format!("budget:\n  per-repository: {n}\n"));
    }
    std::fs::write(&path, text).context("writing the load family's settings")?;
    Ok(path)
}

/// `scantix serve` on the table, on a free port; its address from the line it prints.
fn serve(
    root: &Path,
    scantix: &Path,
    store_args: &[&str],
    variant: Variant,
) -> Result<(Server, String)> {
    let config = settings(root, variant)?;
    let mut child = Command::new(scantix)
        .args(store_args)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("SCANTIX_WEBHOOK_SECRET", SECRET)
        .env("SCANTIX_CONFIG", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting scantix serve")?;
    let stdout = child.stdout.take().context("serve's stdout")?;
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading serve's first line")?;
    if !line.contains("inbox, then worker") {
        bail!("serve does not take deliveries through the inbox: {line}");
    }
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .with_context(|| format!("no address in {line:?}"))?
        .to_owned();
    Ok((server, addr))
}

/// `scantix serve`, stopped when the family ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One delivery to send: its id and its body.
struct Send {
    id: String,
    body: Vec<u8>,
}

/// The real `created` delivery renumbered 1..=1,000 over 10 rules; each fifth one is sent again
/// 100 sends later (as GitHub's "Redeliver" would), with the same id and body.
fn deliveries() -> Result<Vec<Send>> {
    let template: Value = serde_json::from_slice(&crate::payloads::fixture(
        "code_scanning_alert/created.payload.json",
    ))
    .context("the code scanning fixture")?;
    let one = |number: u64| -> Result<Send> {
        let mut body = template.clone();
        body["alert"]["number"] = json!(number);
        body["alert"]["rule"]["id"] = json!(format!("load/rule-{}", number % RULES));
        Ok(Send {
            id: format!("load-{number}"),
            body: serde_json::to_vec(&body)?,
        })
    };
    let mut sends = Vec::new();
    for number in 1..=DELIVERIES {
        sends.push(one(number)?);
        let earlier = number.saturating_sub(100);
        if earlier > 0 && earlier % REDELIVER_EVERY == 0 {
            sends.push(one(earlier)?);
        }
    }
    for earlier in (DELIVERIES - 99).max(1)..=DELIVERIES {
        if earlier % REDELIVER_EVERY == 0 {
            sends.push(one(earlier)?);
        }
    }
    Ok(sends)
}

struct Answered {
    status: u16,
    millis: f64,
}

/// Sends everything from `SENDERS` tasks pulling from one queue, in order.
async fn send_all(addr: &str, sends: Vec<Send>) -> Result<Vec<Answered>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let sends = Arc::new(sends);
    let next = Arc::new(AtomicUsize::new(0));
    let url = format!("http://{addr}/webhooks/github");
    let mut tasks = Vec::new();
    for _ in 0..SENDERS {
        let (client, sends, next, url) = (client.clone(), sends.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(send) = sends.get(i) else {
                    return Ok::<_, anyhow::Error>(answered);
                };
                let request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-github-event", "code_scanning_alert")
                    .header("x-github-delivery", &send.id)
                    .header("x-hub-signature-256", sign(SECRET.as_bytes(), &send.body))
                    .body(send.body.clone());
                let started = Instant::now();
                let response = request.send().await.context("sending a delivery")?;
                let status = response.status().as_u16();
                let _ = response.bytes().await.context("reading an answer")?;
                answered.push(Answered {
                    status,
                    millis: started.elapsed().as_secs_f64() * 1e3,
                });
            }
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.context("a sender")??);
    }
    Ok(answers)
}

/// Tickets, and the findings of every group with a ticket or listed in an overflow ticket
/// (`untracked`, saying why), from `scantix tickets --json` on the table. An overflow ticket counts as a ticket; it has no
/// findings of its own.
fn tickets_and_findings(scantix: &Path, store_args: &[&str]) -> Result<(u64, u64)> {
    let output = Command::new(scantix)
        .args(store_args)
        .args(["tickets", "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .output()
        .context("running scantix tickets")?;
    if !output.status.success() {
        bail!(
            "scantix tickets: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let listing: Value = serde_json::from_slice(&output.stdout).context("tickets --json")?;
    let tickets = listing["tickets"].as_array().map_or(&[][..], Vec::as_slice);
    let ticketed: u64 = tickets.iter().filter_map(|t| t["total"].as_u64()).sum();
    let untracked = listing["untracked"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    // Only groups waiting for a ticket of their own count: a recorded-only finding would not.
    let waiting: u64 = untracked
        .iter()
        .filter(|g| {
            g["why"]
                .as_str()
                .is_some_and(|why| why.contains("listed in its overflow ticket"))
        })
        .filter_map(|g| g["findings"].as_array())
        .map(|f| f.len() as u64)
        .sum();
    Ok((tickets.len() as u64, ticketed + waiting))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
