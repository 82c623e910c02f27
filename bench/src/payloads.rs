//! Real GitHub webhook payloads (from `shared/fixtures`) turned into signed deliveries, and the
//! ingest they are signed for.
//!
//! A fixture is parsed once and then varied in place with serde_json (alert number, rule id, the
//! alert's identity), re-serialised and signed, so a run gets as many distinct events as it needs
//! while every byte but the varied fields is GitHub's.

use anyhow::{Context, Result, bail};
use http::{HeaderMap, HeaderValue};
use scantix_app::execute::Executor;
use scantix_app::ingest::{Answer, GithubIngest};
use scantix_core::config::Config;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::secret::Secret;
use scantix_webhooks::signature::sign;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The webhook secret every bench delivery is signed with.
pub const SECRET: &str = "bench-webhook-secret";

/// The GitHub event every throughput run sends: a new code scanning alert.
const CODE_SCANNING: &str = "code_scanning_alert";

/// The read-only fixtures. This crate is `<repo>/bench` and they sit beside the repo, in
/// `<repo>/../shared/fixtures`.
pub fn fixtures_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// octokit's example payloads.
fn examples_dir() -> PathBuf {
    fixtures_root().join("github-webhooks/octokit-webhooks/payload-examples/api.github.com")
}

/// One of octokit's example payloads, `<event>/<file>`, as bytes.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = examples_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A webhook as the ingest receives it: headers and the raw, signed body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: &'static str,
    /// The `X-GitHub-Delivery` id.
    pub id: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub headers: HeaderMap,
}

/// One real payload, parsed once, to be varied and re-serialised.
#[derive(Debug, Clone)]
pub struct Template {
    event: &'static str,
    payload: Value,
}

impl Template {
    /// Reads `<event>/<file>` from octokit's payload examples.
    pub fn load(event: &'static str, file: &str) -> Result<Template> {
        let path = examples_dir().join(event).join(file);
        let bytes =
            std::fs::read(&path).with_context(|| format!("while reading {}", path.display()))?;
        let payload = serde_json::from_slice(&bytes)
            .with_context(|| format!("while parsing {}", path.display()))?;
        Ok(Template { event, payload })
    }

    /// The same event about `other`'s alert: its repository, number, rule and tool. This is how
    /// `fixed` and `reopened` payloads (from other repositories in the fixtures) become later
    /// chapters of one alert's life.
    pub fn about_alert_of(mut self, other: &Template) -> Result<Template> {
        // `/ref` too: octokit's `fixed` example is on a pull request's merge ref, where a fix
        // leaves the ticket as it is until the merge; the bench measures the fix on the branch.
        for pointer in [
            "/repository",
            "/ref",
            "/alert/number",
            "/alert/rule",
            "/alert/tool",
        ] {
            let value = other
                .payload
                .pointer(pointer)
                .with_context(|| format!("{} has no {pointer}", other.event))?
                .clone();
            self.set(pointer, value)?;
        }
        Ok(self)
    }

    /// A delivery (new delivery id) of this payload about alert `number` of rule `rule`.
    pub fn deliver(&mut self, number: u64, rule: &str) -> Result<Delivery> {
        self.set("/alert/number", json!(number))?;
        self.set("/alert/rule/id", json!(rule))?;
        self.deliver_as_is()
    }

    /// A delivery (new delivery id) of this payload, unchanged.
    pub fn deliver_as_is(&self) -> Result<Delivery> {
        let body = serde_json::to_vec(&self.payload)?;
        let signature = sign(SECRET.as_bytes(), &body);
        let id = uuid::Uuid::new_v4().to_string();
        let mut headers = HeaderMap::new();
        headers.insert("x-github-event", HeaderValue::from_static(self.event));
        headers.insert("x-github-delivery", HeaderValue::from_str(&id)?);
        headers.insert("x-hub-signature-256", HeaderValue::from_str(&signature)?);
        Ok(Delivery {
            event: self.event,
            id,
            signature,
            body,
            headers,
        })
    }

    pub fn rule_id(&self) -> Result<String> {
        self.payload
            .pointer("/alert/rule/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("the fixture's alert has no rule id")
    }

    fn set(&mut self, pointer: &str, value: Value) -> Result<()> {
        *self
            .payload
            .pointer_mut(pointer)
            .with_context(|| format!("{} fixture has no {pointer}", self.event))? = value;
        Ok(())
    }
}

/// Distinct deliveries of GitHub's `code_scanning_alert` `created` example: every one a new alert
/// number, so no two are duplicates. Groups are rules (the default grouping for code scanning), named
/// `bench/<tag>/<n>` so that runs sharing a store never meet.
pub struct Deliveries {
    template: Template,
    tag: String,
    next_group: u64,
}

/// The next alert number, shared by every `Deliveries` of the process: a finding is its repository
/// and alert number, and keeps the group it was first put in, so an alert number met twice in one
/// store would join the earlier alert's group whatever its rule. Starts above the fixtures' numbers.
static NEXT_ALERT: AtomicU64 = AtomicU64::new(1_000);

impl Deliveries {
    pub fn new(tag: &str) -> Result<Deliveries> {
        Ok(Deliveries {
            template: Template::load(CODE_SCANNING, "created.payload.json")?,
            tag: tag.into(),
            next_group: 1,
        })
    }

    /// A group no delivery has named yet.
    pub fn fresh_group(&mut self) -> u64 {
        self.next_group += 1;
        self.next_group - 1
    }

    /// A new alert in `group`.
    pub fn open(&mut self, group: u64) -> Result<Delivery> {
        let number = NEXT_ALERT.fetch_add(1, Ordering::Relaxed);
        let rule = format!("bench/{}/{group}", self.tag);
        self.template.deliver(number, &rule)
    }

    /// `count` alerts that each open a group of their own.
    pub fn new_groups(&mut self, count: u64) -> Result<Vec<Delivery>> {
        (0..count)
            .map(|_| {
                let group = self.fresh_group();
                self.open(group)
            })
            .collect()
    }

    /// `count` alerts joining groups that `seeds` (to be applied first) open: `joins_per_group`
    /// joins per group, round robin, so consecutive joins land on different groups and groups
    /// grow from 1 to `1 + joins_per_group` members.
    pub fn joining(&mut self, count: u64, joins_per_group: u64) -> Result<Joining> {
        let groups: Vec<u64> = (0..count.div_ceil(joins_per_group))
            .map(|_| self.fresh_group())
            .collect();
        let seeds = groups
            .iter()
            .map(|&g| self.open(g))
            .collect::<Result<_>>()?;
        let joins = (0..count)
            .map(|i| self.open(groups[(i as usize) % groups.len()]))
            .collect::<Result<_>>()?;
        Ok(Joining { seeds, joins })
    }
}

/// Deliveries that join existing groups, and the deliveries that open those groups.
pub struct Joining {
    pub seeds: Vec<Delivery>,
    pub joins: Vec<Delivery>,
}

/// One step of a group's life: the case it measures, the delivery that makes it, the status
/// the ingest must answer (`applied`, or `duplicate` for a redelivery) and the first action the
/// engine must decide (`None`: none, as for a duplicate).
pub struct Step {
    pub case: &'static str,
    pub delivery: Delivery,
    pub first_action: Option<&'static str>,
    pub answer: &'static str,
}

/// One code scanning group's life, as GitHub would deliver it: alert A opens the group, alert B
/// joins it, B is delivered again, B is fixed (A still open), A is fixed (the group is empty: its
/// ticket goes stale), A reappears (the ticket reopens). Real `created`, `fixed` and `reopened`
/// payloads, retargeted onto the `created` example's alert and its rule.
pub fn lifecycle() -> Result<Vec<Step>> {
    let mut created = Template::load(CODE_SCANNING, "created.payload.json")?;
    let mut fixed =
        Template::load(CODE_SCANNING, "fixed.payload.json")?.about_alert_of(&created)?;
    let mut reopened =
        Template::load(CODE_SCANNING, "reopened.payload.json")?.about_alert_of(&created)?;
    let rule = created.rule_id()?;
    let (a, b) = (10, 11);
    let joining = created.deliver(b, &rule)?;
    Ok(vec![
        step("new_group", created.deliver(a, &rule)?, "create_ticket"),
        step("joining", joining.clone(), "update_ticket"),
        step("duplicate", joining, ""),
        step("fix_not_last", fixed.deliver(b, &rule)?, "update_ticket"),
        step("stale", fixed.deliver(a, &rule)?, "update_ticket"),
        step("reopen", reopened.deliver(a, &rule)?, "reopen_ticket"),
    ])
}

fn step(case: &'static str, delivery: Delivery, first_action: &'static str) -> Step {
    let answer = if case == "duplicate" {
        "duplicate"
    } else {
        "applied"
    };
    Step {
        case,
        delivery,
        answer,
        first_action: (!first_action.is_empty()).then_some(first_action),
    }
}

/// The ingest the bench deliveries are signed for, over `store` and `tracker` with the default
/// configuration.
pub fn ingest_for(store: Arc<dyn Store>, tracker: Arc<dyn Tracker>) -> GithubIngest {
    let executor = Executor::new(store, tracker, Config::default());
    GithubIngest::new(Secret::new(SECRET), Arc::new(executor))
}

/// Fails unless the ingest answered 200 with `status` (`applied` or `duplicate`): a figure about
/// events that were refused would be a figure about nothing.
pub fn expect_status(answer: &Answer, status: &str) -> Result<()> {
    if answer.status != 200 || answer.body["status"] != status {
        bail!(
            "expected a 200 `{status}` answer, got {}: {}",
            answer.status,
            answer.body
        );
    }
    Ok(())
}

/// Fails unless the ingest answered as `step` must: its status, and its first decided action (a
/// step that decided something else measures another case than its name says).
pub fn expect_step(answer: &Answer, step: &Step) -> Result<()> {
    expect_status(answer, step.answer)?;
    let first = answer.body["outcome"]["actions"][0]["action"].as_str();
    if first != step.first_action {
        bail!(
            "step `{}`: expected {:?} first, got {}",
            step.case,
            step.first_action,
            answer.body
        );
    }
    Ok(())
}
