//! An in-process fake Jira on a free local port, for testing the Jira tracker adapter against
//! something that refuses what Jira refuses.
//!
//! # What it checks
//! Every request is checked against Atlassian's official Jira Cloud REST v3 description
//! (`../shared/fixtures/jira-openapi`, through [`crate::openapi`], plus `GET /myself`, which the
//! subset leaves out, transcribed in [`myself_item`]) before anything else. Data
//! Center requests (REST v2, under `/rest/api/2`) are checked against the same description at the
//! corresponding `/rest/api/3` path: it is the closest official description available here, and
//! the v2 bodies differ only in `description` and comment `body` being wiki-markup strings instead
//! of ADF documents, which the description leaves untyped. The fake then enforces that difference
//! itself (ADF on Cloud, strings on Data Center), and behaves like Jira for what the adapter uses:
//! issue create/get/edit, comments, transitions through a configurable workflow, JQL search with
//! Cloud's `nextPageToken` or Data Center's `startAt` paging, entity properties, the credentials'
//! own user (`GET /myself`: an accountId on Cloud, a name and key on Data Center, whom deliveries
//! of changes made [`Actor::Scantix`] name), auth, faults, and the create metadata
//! (`issue/createmeta/{project}/issuetypes[/{id}]`: Cloud pages them as `issueTypes` and
//! `fields`, Data Center, since 8.4, as `values` with `isLast`), which lists each project's
//! screen, its required fields and its custom fields.
//!
//! # Violations
//! [`FakeJira::violations`] lists the requests refused as *wrong on any Jira*: OpenAPI violations,
//! non-JSON bodies, the wrong REST version, the removed `/rest/api/3/search`, ADF/wiki mix-ups,
//! fields not on the screen, invalid summaries or labels, JQL the fake does not understand, and
//! endpoints it does not model (501), each answered 400/404/410/415/501. Refusals that a correct
//! client must expect and handle (an unknown project, issue type, priority or resolution, a
//! transition not available from the current status, an unknown issue, bad credentials) are
//! answered as Jira answers them and are not violations.
//!
//! # Not modelled
//! Permissions beyond the credentials, users and assignee lookup, custom fields beyond date,
//! date-time and text ones, screens other than one per project (create and edit alike), issue
//! links and remote links (501), watchers, attachments, changelog/history, rendered fields,
//! `expand`, ADF beyond its outline (a `doc` of typed nodes, no empty text), wiki markup rendering,
//! the rich JQL language (see [`FakeJira`] for the subset), rate limits other than injected ones,
//! and outgoing webhook HTTP calls (tests get delivery bodies to post themselves). The search
//! index's delay is modelled for new issues only ([`FakeJiraConfig::search_lag`]): an edit shows
//! in search at once.

use crate::openapi::{OpenApi, query_pairs};
use crate::webhooks::fixture_path;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The email of the Cloud API user (Basic auth is `email:api-token`).
pub const CLOUD_EMAIL: &str = "scantix-bot@example.com";
/// The Cloud API token.
pub const CLOUD_API_TOKEN: &str = "fake-jira-cloud-api-token";
/// The Data Center personal access token (sent as `Authorization: Bearer <pat>`).
pub const DC_PERSONAL_ACCESS_TOKEN: &str = "fake-jira-dc-personal-access-token";

/// Which Jira the fake plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Jira Cloud: REST v3 under `/rest/api/3`, ADF bodies, Basic auth with an API token.
    Cloud,
    /// Jira Data Center: REST v2 under `/rest/api/2`, wiki-markup bodies, a bearer PAT.
    DataCenter,
}

impl Flavor {
    /// Where the REST API lives, below the base URL.
    pub fn rest_base(self) -> &'static str {
        match self {
            Flavor::Cloud => "/rest/api/3",
            Flavor::DataCenter => "/rest/api/2",
        }
    }

    /// The `Authorization` header value the fake accepts.
    pub fn authorization(self) -> String {
        match self {
            Flavor::Cloud => {
                format!(
                    "Basic {}",
                    base64(format!("{CLOUD_EMAIL}:{CLOUD_API_TOKEN}").as_bytes())
                )
            }
            Flavor::DataCenter => format!("Bearer {DC_PERSONAL_ACCESS_TOKEN}"),
        }
    }
}

/// Jira's three status categories; what "open" and "done" mean, whatever the statuses are called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    New,
    Indeterminate,
    Done,
}

impl Category {
    /// `new`, `indeterminate` or `done`: what a webhook's `statusCategory.key` says.
    pub fn key(self) -> &'static str {
        match self {
            Category::New => "new",
            Category::Indeterminate => "indeterminate",
            Category::Done => "done",
        }
    }

    fn id(self) -> u64 {
        match self {
            Category::New => 2,
            Category::Indeterminate => 4,
            Category::Done => 3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Category::New => "To Do",
            Category::Indeterminate => "In Progress",
            Category::Done => "Done",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Category::New => "blue-gray",
            Category::Indeterminate => "yellow",
            Category::Done => "green",
        }
    }
}

/// A workflow status.
#[derive(Clone, Debug)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: Category,
}

/// A workflow transition: from any of `from` (every other status when empty, as Jira's global
/// transitions) to `to`.
#[derive(Clone, Debug)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub from: Vec<String>,
    pub to: String,
}

/// The statuses an issue moves through and the transitions between them. New issues start in the
/// first status.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub statuses: Vec<Status>,
    pub transitions: Vec<Transition>,
}

impl Workflow {
    /// Statuses without transitions; add them with [`Workflow::transition`].
    pub fn new(statuses: &[(&str, Category)]) -> Self {
        let statuses = statuses
            .iter()
            .enumerate()
            .map(|(i, (name, category))| Status {
                id: (10000 + i).to_string(),
                name: (*name).to_owned(),
                category: *category,
            })
            .collect();
        Self {
            statuses,
            transitions: Vec::new(),
        }
    }

    /// Like Jira's simplified workflow: a global transition into each status, named after it,
    /// with ids 11, 21, 31, …
    pub fn simple(statuses: &[(&str, Category)]) -> Self {
        let mut workflow = Self::new(statuses);
        for (i, (name, _)) in statuses.iter().enumerate() {
            workflow = workflow.transition(&(11 + 10 * i).to_string(), name, &[], name);
        }
        workflow
    }

    /// Adds a transition from the statuses named in `from` (any other status if empty) to `to`.
    pub fn transition(mut self, id: &str, name: &str, from: &[&str], to: &str) -> Self {
        self.transitions.push(Transition {
            id: id.to_owned(),
            name: name.to_owned(),
            from: from.iter().map(|s| (*s).to_owned()).collect(),
            to: to.to_owned(),
        });
        self
    }

    fn status_index(&self, name: &str) -> Option<usize> {
        self.statuses
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name) || s.id == name)
    }
}

impl Default for Workflow {
    /// To Do → In Progress → Done, as a new Jira software project has.
    fn default() -> Self {
        Self::simple(&[
            ("To Do", Category::New),
            ("In Progress", Category::Indeterminate),
            ("Done", Category::Done),
        ])
    }
}

/// How this Jira is set up.
#[derive(Clone, Debug)]
pub struct FakeJiraConfig {
    /// The project every default points at (`SEC`, id 10000).
    pub project_key: String,
    /// Further projects (none by default), with the same issue types, screens, priorities and
    /// workflow; ids 10100, 10101, … in order. Where a repository files its own tickets.
    pub other_projects: Vec<String>,
    /// Issue types of the project (ids 10001, 10002, … in order).
    pub issue_types: Vec<String>,
    /// Fields on the create and edit screens; any other field is refused as Jira refuses it.
    pub fields_on_screen: Vec<String>,
    /// A project's own screen (by project key), instead of `fields_on_screen` there.
    pub screens: BTreeMap<String, Vec<String>>,
    /// Fields a create must set (Jira answers "<Name> is required."), besides project, issue type
    /// and summary; listed as required, without a default, in the create metadata.
    pub required_fields: Vec<String>,
    /// Custom fields this Jira has (a screen lists them by id, like any other field).
    pub custom_fields: Vec<CustomField>,
    pub priorities: Vec<String>,
    /// Resolutions; the first is set when an issue enters a done status without one.
    pub resolutions: Vec<String>,
    pub workflow: Workflow,
    /// Issue properties JQL can search (`issue.property[key].path`). Jira indexes a property only
    /// when an app declares it (Connect `jiraEntityProperties`, Forge `jira:entityProperty`, a DC
    /// plugin's `index-document-configuration`); without that the JQL is accepted and finds
    /// nothing. Empty it to model a plain API-token integration.
    pub indexed_properties: Vec<String>,
    /// The most issues one search page returns, whatever `maxResults` asks for.
    pub max_results: usize,
    /// How long a new issue stays out of search results (Jira Cloud's search is eventually
    /// consistent: "the delay might vary from a few seconds to minutes",
    /// developer.atlassian.com/cloud/jira/platform/search-and-reconcile/). Issues named in a
    /// Cloud search's `reconcileIssues` (at most 50 ids) are searched as they are now, as Jira
    /// does. Zero (the default): every write shows at once.
    pub search_lag: Duration,
}

impl Default for FakeJiraConfig {
    fn default() -> Self {
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            project_key: "SEC".to_owned(),
            other_projects: Vec::new(),
            issue_types: strings(&["Bug", "Task", "Story"]),
            fields_on_screen: strings(&[
                "summary",
                "description",
                "issuetype",
                "project",
                "labels",
                "priority",
                "components",
                "duedate",
                "assignee",
            ]),
            screens: BTreeMap::new(),
            required_fields: Vec::new(),
            custom_fields: Vec::new(),
            priorities: strings(&["Highest", "High", "Medium", "Low", "Lowest"]),
            resolutions: strings(&["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]),
            workflow: Workflow::default(),
            indexed_properties: strings(&["scantix"]),
            max_results: 100,
            search_lag: Duration::ZERO,
        }
    }
}

/// A custom field: `customfield_<n>`, its name, and the type of its values.
#[derive(Clone, Debug)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    /// `date` (`2025-04-01`), `datetime` (`2025-04-01T00:00:00.000+0000`) or `string`.
    pub kind: String,
}

/// A fault to answer with instead of (or besides) the real answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>`; nothing happens.
    RateLimited { retry_after_secs: u64 },
    /// This status (500, 502, 503, …) with a body like Jira's or its proxy's; nothing happens.
    Status(u16),
    /// Waits, then answers 503; nothing happens. Longer than the client's timeout, it is a timeout.
    Hang(Duration),
    /// Does what was asked, then waits before answering: the client times out on a request that
    /// took effect (the crash-between-create-and-record case).
    LostResponse(Duration),
}

/// A lasting rate-limit storm: of every `of` requests, the first `refused` are answered 429
/// (nothing happens), each asking to wait `retry_after_secs` except every `long_every`-th refusal,
/// which asks for a second more; every answer, refused or not, takes `latency`. Deterministic, so
/// a run's share of refusals is the configured one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Storm {
    pub refused: u64,
    pub of: u64,
    pub retry_after_secs: u64,
    pub long_every: u64,
    pub latency: Duration,
}

/// One request as the fake received it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The full path, with the REST base (`/rest/api/3/issue/SEC-1`).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The JSON body; a body that is not JSON is kept as a JSON string.
    pub body: Option<Value>,
    /// The status answered.
    pub status: u16,
}

/// What the tests see of an issue.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueSnapshot {
    pub key: String,
    /// Its project's key.
    pub project: String,
    pub summary: String,
    pub labels: Vec<String>,
    pub status: String,
    pub category: Category,
    pub resolution: Option<String>,
    pub properties: BTreeMap<String, Value>,
    /// Comment bodies, oldest first (ADF documents on Cloud, strings on Data Center).
    pub comments: Vec<Value>,
    /// The fields as stored (what was sent, priority normalised).
    pub fields: Map<String, Value>,
}

/// A fake Jira serving on `127.0.0.1:<free port>` until dropped.
///
/// JQL understood: clauses joined by `AND`, each `field = v`, `field != v`, `field in (v, …)` or
/// `field not in (v, …)` on `project`, `key`/`issuekey`, `labels`, `status`, `statusCategory`,
/// `issuetype`/`type` and `issue.property[key].path`, then optionally `ORDER BY` `key`,
/// `created` or `updated`. Values are quoted strings or bare words; a bare word with a JQL
/// reserved character is refused as Jira refuses it. As in Jira, `!=` and `not in` do not match
/// issues where the field is empty.
pub struct FakeJira {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    flavor: Flavor,
    config: FakeJiraConfig,
    api: &'static OpenApi,
    base_url: String,
    state: Mutex<JiraState>,
}

#[derive(Default)]
struct JiraState {
    issues: Vec<Issue>,
    issues_created: u64,
    comments_created: u64,
    changelogs: u64,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    faults: Vec<Injection>,
    /// A rate-limit storm (see [`FakeJira::storm`]) how many requests it has seen, and how many it refused.
    storm: Option<(Storm, u64, u64)>,
    /// Screens changed since the start (`FakeJira::change_screen`), by project key.
    changed_screens: BTreeMap<String, Vec<String>>,
}

struct Issue {
    id: String,
    key: String,
    /// Its project: (key, id).
    project: (String, String),
    issue_type: usize,
    /// User-set fields as stored: summary, description, labels, priority, …
    fields: Map<String, Value>,
    status: usize,
    resolution: Option<String>,
    properties: BTreeMap<String, Value>,
    comments: Vec<Comment>,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    resolved: Option<DateTime<Utc>>,
    /// When the search index has it (see `FakeJiraConfig::search_lag`).
    searchable_from: std::time::Instant,
}

struct Comment {
    id: String,
    body: Value,
    properties: Vec<Value>,
    created: DateTime<Utc>,
}

struct Injection {
    method: String,
    path: String,
    fault: Fault,
    remaining: usize,
}

fn jira_description() -> &'static OpenApi {
    static JIRA: OnceLock<OpenApi> = OnceLock::new();
    JIRA.get_or_init(|| {
        OpenApi::load(fixture_path("jira-openapi/jira-openapi-subset.json"))
            .expect("the Jira OpenAPI subset in ../shared/fixtures loads")
            .with_path("/rest/api/3/myself", myself_item())
    })
}

/// `GET /rest/api/3/myself` ("Get current user", operationId `getCurrentUser`, tag `Myself`) as
/// Atlassian's Jira Cloud platform REST v3 description gives it, transcribed because the subset
/// leaves it out: one optional query parameter, `expand` (`groups`, `applicationRoles`), no body;
/// the response (a `User`) is not checked. Data Center's `GET /rest/api/2/myself` takes the same
/// request, and is checked against it as every Data Center path is (see the module docs).
pub fn myself_item() -> Value {
    json!({
        "get": {
            "summary": "Get current user",
            "description": "Returns details for the current user.",
            "operationId": "getCurrentUser",
            "tags": ["Myself"],
            "parameters": [
                {
                    "name": "expand",
                    "in": "query",
                    "description": "Use expand to include additional information about user in the response. This parameter accepts a comma-separated list. Expand options include:\n\n *  `groups` Returns all groups, including nested groups, the user belongs to.\n *  `applicationRoles` Returns the application roles the user is assigned to.",
                    "schema": { "type": "string" }
                }
            ],
            "responses": {
                "200": { "description": "Returned if the request is successful." },
                "401": { "description": "Returned if the authentication credentials are incorrect or missing." }
            }
        }
    })
}

impl FakeJira {
    /// Starts a fake with the default setup: project `SEC`, To Do / In Progress / Done.
    pub async fn start(flavor: Flavor) -> Self {
        Self::start_with(flavor, FakeJiraConfig::default()).await
    }

    /// Starts a fake with this setup.
    pub async fn start_with(flavor: Flavor, config: FakeJiraConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a local port for the fake Jira");
        let address = listener.local_addr().expect("the fake Jira's address");
        let shared = Arc::new(Shared {
            flavor,
            config,
            api: jira_description(),
            base_url: format!("http://{address}"),
            state: Mutex::new(JiraState::default()),
        });
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared, server }
    }

    /// `http://127.0.0.1:<port>`: what the adapter is configured with as the Jira site.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn flavor(&self) -> Flavor {
        self.shared.flavor
    }

    /// The `Authorization` header value this fake accepts.
    pub fn authorization(&self) -> String {
        self.shared.flavor.authorization()
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many requests match `method` (`*` for any) and `path`, a path below the REST base
    /// (`/issue/*/comment`) or a full one (`/rest/api/3/issue`), where `*` is one segment and a
    /// final `**` any rest.
    pub fn count(&self, method: &str, path: &str) -> usize {
        let base = self.shared.flavor.rest_base();
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| request_matches(method, path, &r.method, &r.path, base))
            .count()
    }

    /// As [`FakeJira::count`], the requests that took effect only (answered 2xx).
    pub fn count_done(&self, method: &str, path: &str) -> usize {
        let base = self.shared.flavor.rest_base();
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| {
                (200..300).contains(&r.status)
                    && request_matches(method, path, &r.method, &r.path, base)
            })
            .count()
    }

    /// Forgets the requests received so far (not the violations), to count a later phase alone.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The requests refused as wrong on any Jira, as sentences naming method, path and why.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Fails the test if any request was refused as wrong on any Jira.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the fake Jira refused {} request(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }

    /// Answers the next `count` requests with `fault`.
    pub fn inject(&self, fault: Fault, count: usize) {
        self.inject_on("*", "**", fault, count);
    }

    /// Answers the next `count` requests matching `method` and `path` (as in [`FakeJira::count`])
    /// with `fault`.
    pub fn inject_on(&self, method: &str, path: &str, fault: Fault, count: usize) {
        self.shared.lock().faults.push(Injection {
            method: method.to_owned(),
            path: path.to_owned(),
            fault,
            remaining: count,
        });
    }

    /// Starts a rate-limit storm that lasts until [`FakeJira::calm`]. Injected faults come first.
    pub fn storm(&self, storm: Storm) {
        self.shared.lock().storm = Some((storm, 0, 0));
    }

    /// Ends the storm.
    pub fn calm(&self) {
        self.shared.lock().storm = None;
    }

    /// Requests answered 429, whatever the reason.
    pub fn rate_limited(&self) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.status == 429)
            .count()
    }

    /// Changes the create and edit screen of `project`, as a Jira admin would.
    pub fn change_screen(&self, project: &str, fields: &[&str]) {
        self.shared.lock().changed_screens.insert(
            project.to_owned(),
            fields.iter().map(|f| (*f).to_owned()).collect(),
        );
    }

    /// Drops every fault not yet used up: the outage is over.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The keys of all issues, in creation order.
    pub fn issue_keys(&self) -> Vec<String> {
        self.shared
            .lock()
            .issues
            .iter()
            .map(|i| i.key.clone())
            .collect()
    }

    /// An issue as the tests inspect it, `None` if there is no such issue.
    pub fn snapshot(&self, key: &str) -> Option<IssueSnapshot> {
        let state = self.shared.lock();
        let issue = state.issues.iter().find(|i| i.key == key)?;
        let status = &self.shared.config.workflow.statuses[issue.status];
        Some(IssueSnapshot {
            key: issue.key.clone(),
            project: issue.project.0.clone(),
            summary: issue.fields["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            labels: labels_of(issue),
            status: status.name.clone(),
            category: status.category,
            resolution: issue.resolution.clone(),
            properties: issue.properties.clone(),
            comments: issue.comments.iter().map(|c| c.body.clone()).collect(),
            fields: issue.fields.clone(),
        })
    }

    /// Creates an issue as if someone (or an earlier run) had, without recording a request.
    /// `body` is a create request body (`{"fields": …, "properties": […]}`); panics if Jira
    /// would refuse it. Returns the key.
    pub fn seed_issue(&self, body: Value) -> String {
        let mut state = self.shared.lock();
        let reply = self.shared.create_issue(&mut state, &body);
        match &reply.body {
            ReplyBody::Json(created) if reply.status == 201 => {
                // Made a while ago: the search index has it.
                if let Some(issue) = state.issues.last_mut() {
                    issue.searchable_from = std::time::Instant::now();
                }
                created["key"].as_str().unwrap_or_default().to_owned()
            }
            other => panic!("seed_issue: the fake Jira refused the issue: {other:?}"),
        }
    }

    /// The issue as webhook deliveries carry it: REST v2 style (`self` under `/rest/api/2`,
    /// plain-text description, `fields.status.statusCategory.key`). Panics if there is no issue.
    pub fn issue_json(&self, key: &str) -> Value {
        let state = self.shared.lock();
        let issue = self
            .shared
            .find_issue(&state, key)
            .expect("issue_json: no such issue");
        self.shared
            .issue_view(issue, Api::Webhook, &FieldChoice::All, &[])
    }

    /// Moves an issue to `status` as a person would in Jira's UI (whatever the transitions), with
    /// `resolution` if given (leaving a done status clears it), and returns the
    /// `jira:issue_updated` delivery Jira would send, changelog included.
    pub fn set_status(&self, key: &str, status: &str, resolution: Option<&str>) -> Value {
        self.set_status_by(Actor::Person, key, status, resolution)
    }

    /// [`FakeJira::set_status`], done by `actor`: the delivery's `user` is who made the change.
    pub fn set_status_by(
        &self,
        actor: Actor,
        key: &str,
        status: &str,
        resolution: Option<&str>,
    ) -> Value {
        let shared = &self.shared;
        let mut state = shared.lock();
        let workflow = &shared.config.workflow;
        let target = workflow.status_index(status).unwrap_or_else(|| {
            let names: Vec<&str> = workflow.statuses.iter().map(|s| s.name.as_str()).collect();
            panic!("set_status: no status {status:?} in the workflow {names:?}")
        });
        if let Some(name) = resolution {
            assert!(
                shared.config.resolutions.iter().any(|r| r == name),
                "set_status: no resolution {name:?} in {:?}",
                shared.config.resolutions
            );
        }
        state.changelogs += 1;
        let changelog_id = (10000 + state.changelogs).to_string();
        let index = shared
            .issue_index(&state, key)
            .expect("set_status: no such issue");
        let issue = &mut state.issues[index];
        let (old_status, old_resolution) = (issue.status, issue.resolution.clone());
        let new_resolution = match resolution {
            Some(name) => Some(name.to_owned()),
            None if workflow.statuses[target].category == Category::Done => old_resolution.clone(),
            None => None,
        };
        shared.move_issue(issue, target, new_resolution.clone());

        let mut items = Vec::new();
        if new_resolution != old_resolution {
            let id_of = |r: &Option<String>| r.as_ref().map(|name| shared.resolution_id(name));
            items.push(json!({
                "field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
                "from": id_of(&old_resolution), "fromString": old_resolution,
                "to": id_of(&new_resolution), "toString": new_resolution,
            }));
        }
        if target != old_status {
            let (from, to) = (&workflow.statuses[old_status], &workflow.statuses[target]);
            items.push(json!({
                "field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": from.id, "fromString": from.name, "to": to.id, "toString": to.name,
            }));
        }
        let event_type = match (shared.flavor, &new_resolution, &old_resolution) {
            (Flavor::DataCenter, Some(_), None) => "issue_resolved",
            (Flavor::DataCenter, None, Some(_)) => "issue_reopened",
            _ => "issue_generic",
        };
        let issue = &state.issues[index];
        json!({
            "timestamp": Utc::now().timestamp_millis(),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": event_type,
            "user": shared.user(actor),
            "issue": shared.issue_view(issue, Api::Webhook, &FieldChoice::All, &[]),
            "changelog": {"id": changelog_id, "items": items},
        })
    }

    /// Assigns an issue to `user` (an accountId on Cloud, a user name on Data Center; `None`:
    /// unassigned) as `actor` would in Jira's UI, and returns the `jira:issue_updated` delivery
    /// Jira sends, its changelog naming the assignee as Jira does (`to`: the id, `toString`: the
    /// display name).
    pub fn assign_by(&self, actor: Actor, key: &str, user: Option<&str>) -> Value {
        let shared = &self.shared;
        let mut state = shared.lock();
        state.changelogs += 1;
        let changelog_id = (10000 + state.changelogs).to_string();
        let index = shared
            .issue_index(&state, key)
            .expect("assign_by: no such issue");
        let field = |who: &str| match shared.flavor {
            Flavor::Cloud => json!({"accountId": who}),
            Flavor::DataCenter => json!({"name": who}),
        };
        let id_of = |value: &Value| {
            value["accountId"]
                .as_str()
                .or(value["name"].as_str())
                .map(str::to_owned)
        };
        let issue = &mut state.issues[index];
        let old = issue.fields.get("assignee").and_then(id_of);
        match user {
            Some(who) => {
                issue.fields.insert("assignee".into(), field(who));
            }
            None => {
                issue.fields.remove("assignee");
            }
        }
        issue.updated = Utc::now();
        let issue = &state.issues[index];
        json!({
            "timestamp": Utc::now().timestamp_millis(),
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_assigned",
            "user": shared.user(actor),
            "issue": shared.issue_view(issue, Api::Webhook, &FieldChoice::All, &[]),
            "changelog": {"id": changelog_id, "items": [{
                "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                "from": old, "fromString": old.as_ref().map(|o| format!("User {o}")),
                "to": user, "toString": user.map(|u| format!("User {u}")),
            }]},
        })
    }

    /// The assignee's id (accountId on Cloud, user name on Data Center) an issue has now.
    pub fn assignee(&self, key: &str) -> Option<String> {
        let state = self.shared.lock();
        let issue = state.issues.iter().find(|i| i.key == key)?;
        let value = issue.fields.get("assignee")?;
        value["accountId"]
            .as_str()
            .or(value["name"].as_str())
            .map(str::to_owned)
    }

    /// Deletes an issue as a person would; returns the `jira:issue_deleted` delivery.
    pub fn delete_issue(&self, key: &str) -> Value {
        let mut state = self.shared.lock();
        let index = self
            .shared
            .issue_index(&state, key)
            .expect("delete_issue: no such issue");
        let issue = state.issues.remove(index);
        json!({
            "timestamp": Utc::now().timestamp_millis(),
            "webhookEvent": "jira:issue_deleted",
            "user": self.shared.person(),
            "issue": self.shared.issue_view(&issue, Api::Webhook, &FieldChoice::All, &[]),
        })
    }
}

impl Drop for FakeJira {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The one handler: every request goes through [`Shared::respond`].
async fn serve(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let incoming = Incoming {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: axum::body::to_bytes(body, 16 << 20)
            .await
            .unwrap_or_default()
            .to_vec(),
    };
    let reply = shared.respond(&incoming);
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    reply.into_response()
}

struct Incoming {
    method: String,
    path: String,
    query: String,
    authorization: String,
    content_type: String,
    body: Vec<u8>,
}

/// A request once authenticated and parsed: what the route handlers read.
struct Call {
    method: String,
    /// The path below the REST base: `/issue/SEC-1`.
    api_path: String,
    query: Vec<(String, String)>,
    body: Value,
}

impl Call {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A list parameter: comma-separated and/or repeated.
    fn list_param(&self, name: &str) -> Vec<String> {
        let values = self.query.iter().filter(|(n, _)| n == name);
        values
            .flat_map(|(_, v)| v.split(',').map(str::to_owned))
            .collect()
    }
}

#[derive(Debug)]
enum ReplyBody {
    Empty,
    Json(Value),
    Html(String),
}

struct Reply {
    status: u16,
    body: ReplyBody,
    retry_after: Option<u64>,
    delay: Option<Duration>,
    /// Why this request is wrong on any Jira; recorded as violations.
    violations: Vec<String>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: ReplyBody::Json(body),
            retry_after: None,
            delay: None,
            violations: vec![],
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            body: ReplyBody::Empty,
            ..Self::json(status, Value::Null)
        }
    }

    /// Jira's error shape, for a refusal a correct client must handle.
    fn error(status: u16, messages: &[&str], errors: Value) -> Self {
        Self::json(status, json!({"errorMessages": messages, "errors": errors}))
    }

    /// Jira's error shape, for a request that is wrong on any Jira: recorded as a violation.
    fn violation(status: u16, messages: Vec<String>) -> Self {
        let mut reply = Self::json(status, json!({"errorMessages": messages, "errors": {}}));
        reply.violations = messages;
        reply
    }

    fn not_found() -> Self {
        Self::error(
            404,
            &["Issue does not exist or you do not have permission to see it."],
            json!({}),
        )
    }

    fn into_response(self) -> Response {
        let mut builder = Response::builder().status(self.status);
        if let Some(seconds) = self.retry_after {
            builder = builder.header("retry-after", seconds.to_string());
        }
        let built = match self.body {
            ReplyBody::Empty => builder.body(Body::empty()),
            ReplyBody::Json(value) => builder
                .header("content-type", "application/json;charset=UTF-8")
                .body(Body::from(value.to_string())),
            ReplyBody::Html(html) => builder
                .header("content-type", "text/html")
                .body(Body::from(html)),
        };
        built.unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// Field errors of a create, edit or transition, in Jira's `errors` map; each either wrong on any
/// Jira (recorded) or a refusal of this Jira's setup (not recorded).
#[derive(Default)]
struct FieldErrors {
    errors: Map<String, Value>,
    violations: Vec<String>,
}

impl FieldErrors {
    fn malformed(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        self.violations.push(format!("{field}: {message}"));
        self.errors.insert(field.to_owned(), Value::String(message));
    }

    fn refused(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .insert(field.to_owned(), Value::String(message.into()));
    }

    fn not_on_screen(&mut self, field: &str) {
        self.malformed(
            field,
            format!(
                "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."
            ),
        );
    }

    fn into_reply(self) -> Option<Reply> {
        if self.errors.is_empty() {
            return None;
        }
        let mut reply = Reply::error(400, &[], Value::Object(self.errors));
        reply.violations = self.violations;
        Some(reply)
    }
}

/// Which representation: the REST API of this flavor, or webhook deliveries (REST v2 style).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Rest,
    Webhook,
}

/// Who changes an issue in a test's story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A person, in Jira's UI.
    Person,
    /// scantix, through the API with the fake's credentials: the account `GET /myself` names.
    Scantix,
}

/// Which fields an issue representation carries.
enum FieldChoice {
    /// Only `id` (Cloud `/search/jql` without `fields`).
    IdOnly,
    All,
    /// Named fields, with `*all`/`*navigable` and `-name` exclusions.
    Some(Vec<String>),
}

impl FieldChoice {
    fn parse(requested: Vec<String>, default: FieldChoice) -> FieldChoice {
        let requested: Vec<String> = requested.into_iter().filter(|f| !f.is_empty()).collect();
        if requested.is_empty() {
            default
        } else if requested.iter().all(|f| f == "id") {
            FieldChoice::IdOnly
        } else {
            FieldChoice::Some(requested)
        }
    }

    fn wants(&self, field: &str) -> bool {
        match self {
            FieldChoice::IdOnly => false,
            FieldChoice::All => true,
            FieldChoice::Some(list) => {
                let all = list.iter().any(|f| f == "*all" || f == "*navigable");
                let excluded = list.iter().any(|f| f.strip_prefix('-') == Some(field));
                !excluded && (all || list.iter().any(|f| f == field))
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, JiraState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the request, decides the answer, records violations. No await: the lock is held
    /// throughout, so requests apply one at a time, as if Jira were one consistent database.
    fn respond(&self, incoming: &Incoming) -> Reply {
        let mut state = self.lock();
        let text = String::from_utf8_lossy(&incoming.body).into_owned();
        let json_body = (!incoming.body.is_empty()).then(|| {
            serde_json::from_slice::<Value>(&incoming.body).map_err(|e| (e, text.clone()))
        });
        state.requests.push(RecordedRequest {
            method: incoming.method.clone(),
            path: incoming.path.clone(),
            query: incoming.query.clone(),
            body: json_body
                .as_ref()
                .map(|b| b.as_ref().map_or_else(|(_, t)| json!(t), Value::clone)),
            status: 0,
        });
        let recorded = state.requests.len() - 1;
        let reply = self.decide(&mut state, incoming, json_body);
        state.requests[recorded].status = reply.status;
        let at = format!("{} {}", incoming.method, incoming.path);
        state
            .violations
            .extend(reply.violations.iter().map(|v| format!("{at}: {v}")));
        reply
    }

    fn decide(
        &self,
        state: &mut JiraState,
        incoming: &Incoming,
        body: Option<Result<Value, (serde_json::Error, String)>>,
    ) -> Reply {
        if incoming.authorization != self.flavor.authorization() {
            let message =
                "You are not authenticated. Authentication required to perform this operation.";
            return Reply::error(401, &[message], json!({}));
        }
        let base = self.flavor.rest_base();
        let Some(api_path) = incoming
            .path
            .strip_prefix(base)
            .filter(|p| p.starts_with('/'))
        else {
            return Reply::violation(
                404,
                vec![format!(
                    "not a REST path of Jira {:?}, which serves {base}",
                    self.flavor
                )],
            );
        };
        let body = match body {
            None => None,
            Some(_) if !incoming.content_type.starts_with("application/json") => {
                let message = format!(
                    "Content-Type {:?} is not application/json (Jira answers 415)",
                    incoming.content_type
                );
                return Reply::violation(415, vec![message]);
            }
            Some(Err((error, _))) => {
                return Reply::violation(400, vec![format!("the body is not JSON: {error}")]);
            }
            Some(Ok(value)) => Some(value),
        };

        // Data Center's v2 paths are checked at the same v3 path: see the module docs.
        let described = format!("/rest/api/3{api_path}");
        let contract =
            self.api
                .check_request(&incoming.method, &described, &incoming.query, body.as_ref());

        let mut delay = None;
        if let Some(fault) = take_fault(state, &incoming.method, &incoming.path, base) {
            match fault {
                Fault::RateLimited { retry_after_secs } => {
                    let mut reply = Reply::error(429, &["Rate limit exceeded."], json!({}));
                    reply.retry_after = Some(retry_after_secs);
                    return reply;
                }
                Fault::Status(status) => return fault_reply(status),
                Fault::Hang(wait) => {
                    let mut reply = fault_reply(503);
                    reply.delay = Some(wait);
                    return reply;
                }
                Fault::LostResponse(wait) => delay = Some(wait),
            }
        }
        if let Err(violations) = contract {
            return Reply::violation(400, violations);
        }
        if let Some((storm, seen, refusals)) = &mut state.storm {
            let position = *seen % storm.of.max(1);
            *seen += 1;
            let latency = storm.latency;
            if position < storm.refused {
                *refusals += 1;
                let long = storm.long_every > 0 && *refusals % storm.long_every == 0;
                let mut reply = Reply::error(429, &["Rate limit exceeded."], json!({}));
                reply.retry_after = Some(storm.retry_after_secs + u64::from(long));
                reply.delay = Some(latency);
                return reply;
            }
            delay = Some(delay.unwrap_or_default().max(latency));
        }
        let call = Call {
            method: incoming.method.clone(),
            api_path: api_path.to_owned(),
            query: query_pairs(&incoming.query),
            body: body.unwrap_or(Value::Null),
        };
        let mut reply = self.route(state, &call);
        reply.delay = delay.filter(|d| !d.is_zero());
        reply
    }

    fn route(&self, state: &mut JiraState, call: &Call) -> Reply {
        let segments: Vec<&str> = call.api_path.trim_start_matches('/').split('/').collect();
        let cloud = self.flavor == Flavor::Cloud;
        match (call.method.as_str(), segments.as_slice()) {
            ("POST", ["issue"]) => self.create_issue(state, &call.body),
            ("GET", ["issue", "createmeta", project, "issuetypes"]) => {
                self.createmeta_types(project, call)
            }
            ("GET", ["issue", "createmeta", project, "issuetypes", id]) => {
                self.createmeta_fields(state, project, id, call)
            }
            ("GET", ["issue", key]) => self.get_issue(state, key, call),
            ("PUT", ["issue", key]) => self.edit_issue(state, key, call),
            ("GET", ["issue", key, "comment"]) => self.list_comments(state, key, call),
            ("POST", ["issue", key, "comment"]) => self.add_comment(state, key, &call.body),
            ("GET", ["issue", key, "transitions"]) => self.list_transitions(state, key),
            // The account the credentials belong to: scantix's own.
            ("GET", ["myself"]) => Reply::json(200, self.api_user()),
            ("POST", ["issue", key, "transitions"]) => self.transition(state, key, &call.body),
            ("GET" | "POST", ["search", "jql"]) if cloud => self.search(state, call),
            ("GET" | "POST", ["search"]) if !cloud => self.search(state, call),
            ("GET" | "POST", ["search"]) => Reply::violation(
                410,
                vec![
                    "The requested API has been removed. Please migrate to the \
                     /rest/api/3/search/jql API. A full migration guideline is available at \
                     https://developer.atlassian.com/changelog/#CHANGE-2046"
                        .to_owned(),
                ],
            ),
            ("GET" | "POST", ["search", "jql"]) => Reply::violation(
                404,
                vec![
                    "Jira Data Center has no /search/jql; search with /rest/api/2/search"
                        .to_owned(),
                ],
            ),
            _ => Reply::violation(
                501,
                vec![format!(
                    "the fake Jira does not model {} {} (it is in the description)",
                    call.method, call.api_path
                )],
            ),
        }
    }

    // ----- issues -----

    fn create_issue(&self, state: &mut JiraState, body: &Value) -> Reply {
        let fields = body["fields"].as_object().cloned().unwrap_or_default();
        let update = body["update"].as_object().cloned().unwrap_or_default();
        let mut errors = FieldErrors::default();
        let config = &self.config;

        let project = fields.get("project").and_then(|p| self.project_of(p));
        if project.is_none() {
            errors.refused("project", "valid project is required");
        }
        let issue_type = match fields.get("issuetype") {
            None => {
                errors.refused("issuetype", "Specify an issue type");
                None
            }
            Some(given) => {
                let found = config.issue_types.iter().enumerate().position(|(i, name)| {
                    given["name"].as_str() == Some(name.as_str())
                        || given["id"].as_str() == Some(&(10001 + i).to_string())
                });
                if found.is_none() {
                    errors.refused("issuetype", "The issue type selected is invalid.");
                }
                found
            }
        };
        let screen = self.screen(state, project.as_ref().map(|(key, _)| key.as_str()));
        let on_screen = |field: &str| screen.iter().any(|f| f == field);
        let mut stored = Map::new();
        for (name, value) in &fields {
            if !on_screen(name) {
                errors.not_on_screen(name);
            } else if name != "project" && name != "issuetype" {
                self.set_field(&mut stored, name, value, &mut errors);
            }
        }
        let mut comments = Vec::new();
        self.apply_update(&mut stored, &update, &mut errors, &mut comments, on_screen);
        if !stored.contains_key("summary") && !errors.errors.contains_key("summary") {
            errors.malformed("summary", "You must specify a summary of the issue.");
        }
        // A required field this Jira's setup asks for: a refusal a client must handle.
        for required in &config.required_fields {
            if !stored.contains_key(required) && !errors.errors.contains_key(required) {
                let name = self.field_meta(required).0;
                errors.refused(required, format!("{name} is required."));
            }
        }
        let properties = check_properties(&body["properties"], &mut errors);
        if let Some(reply) = errors.into_reply() {
            return reply;
        }

        state.issues_created += 1;
        let number = state.issues_created;
        let now = Utc::now();
        let mut issue = Issue {
            id: (10000 + number).to_string(),
            key: format!(
                "{}-{number}",
                project.as_ref().map_or("", |(key, _)| key.as_str())
            ),
            project: project.unwrap_or_default(),
            issue_type: issue_type.unwrap_or_default(),
            fields: stored,
            status: 0,
            resolution: None,
            properties,
            comments: Vec::new(),
            created: now,
            updated: now,
            resolved: None,
            searchable_from: std::time::Instant::now() + config.search_lag,
        };
        for body in comments {
            add_comment_to(state, &mut issue, body);
        }
        let created =
            json!({"id": issue.id, "key": issue.key, "self": self.issue_url(&issue, Api::Rest)});
        state.issues.push(issue);
        Reply::json(201, created)
    }

    fn get_issue(&self, state: &JiraState, key: &str, call: &Call) -> Reply {
        let Some(issue) = self.find_issue(state, key) else {
            return Reply::not_found();
        };
        let fields = FieldChoice::parse(call.list_param("fields"), FieldChoice::All);
        let fields = if matches!(fields, FieldChoice::IdOnly) {
            FieldChoice::All
        } else {
            fields
        };
        let properties = call.list_param("properties");
        Reply::json(200, self.issue_view(issue, Api::Rest, &fields, &properties))
    }

    fn edit_issue(&self, state: &mut JiraState, key: &str, call: &Call) -> Reply {
        let Some(index) = self.issue_index(state, key) else {
            return Reply::not_found();
        };
        let body = &call.body;
        let mut errors = FieldErrors::default();
        let mut stored = state.issues[index].fields.clone();
        // Moving an issue to another project is its own operation; the edit screen has no project.
        let screen = self.screen(state, Some(&state.issues[index].project.0));
        let editable = |name: &str| name != "project" && screen.iter().any(|f| f == name);
        let mut issue_type = state.issues[index].issue_type;
        for (name, value) in body["fields"].as_object().into_iter().flatten() {
            if !editable(name) {
                errors.not_on_screen(name);
            } else if name == "issuetype" {
                match self
                    .config
                    .issue_types
                    .iter()
                    .position(|t| value["name"] == t.as_str())
                {
                    Some(found) => issue_type = found,
                    None => errors.refused("issuetype", "The issue type selected is invalid."),
                }
            } else {
                self.set_field(&mut stored, name, value, &mut errors);
            }
        }
        let update = body["update"].as_object().cloned().unwrap_or_default();
        let mut comments = Vec::new();
        self.apply_update(&mut stored, &update, &mut errors, &mut comments, editable);
        let properties = check_properties(&body["properties"], &mut errors);
        if let Some(reply) = errors.into_reply() {
            return reply;
        }
        let mut issue = state.issues.remove(index);
        issue.fields = stored;
        issue.issue_type = issue_type;
        issue.properties.extend(properties);
        issue.updated = Utc::now();
        for body in comments {
            add_comment_to(state, &mut issue, body);
        }
        state.issues.insert(index, issue);
        if call.param("returnIssue") == Some("true") {
            let issue = &state.issues[index];
            return Reply::json(
                200,
                self.issue_view(issue, Api::Rest, &FieldChoice::All, &[]),
            );
        }
        Reply::empty(204)
    }

    /// Validates one field value and stores it (normalised), or records why not.
    fn set_field(
        &self,
        stored: &mut Map<String, Value>,
        name: &str,
        value: &Value,
        errors: &mut FieldErrors,
    ) {
        match self.check_field(name, value) {
            Ok(FieldValue::Store(v)) => {
                stored.insert(name.to_owned(), v);
            }
            Ok(FieldValue::Clear) => {
                stored.remove(name);
            }
            Err(Refusal::Malformed(message)) => errors.malformed(name, message),
            Err(Refusal::Refused(message)) => errors.refused(name, message),
        }
    }

    /// What Jira checks of a field's value.
    fn check_field(&self, name: &str, value: &Value) -> Result<FieldValue, Refusal> {
        let malformed = |m: &str| Err(Refusal::Malformed(m.to_owned()));
        match name {
            "summary" => match value.as_str() {
                None => malformed("Operation value must be a string"),
                Some(s) if s.trim().is_empty() => {
                    malformed("You must specify a summary of the issue.")
                }
                Some(s) if s.chars().count() > 255 => {
                    malformed("Summary must be less than 255 characters.")
                }
                Some(_) => Ok(FieldValue::Store(value.clone())),
            },
            "description" | "environment" if value.is_null() => Ok(FieldValue::Clear),
            "description" | "environment" => {
                self.check_rich_text(value).map_err(Refusal::Malformed)?;
                Ok(FieldValue::Store(value.clone()))
            }
            "labels" => {
                let Some(labels) = value.as_array() else {
                    return malformed("Operation value must be an array of strings");
                };
                for label in labels {
                    check_label(label).map_err(Refusal::Malformed)?;
                }
                Ok(FieldValue::Store(value.clone()))
            }
            "priority" if value.is_null() => Ok(FieldValue::Clear),
            "priority" => {
                let priorities = &self.config.priorities;
                let found = priorities.iter().enumerate().position(|(i, name)| {
                    value["name"].as_str() == Some(name.as_str())
                        || value["id"].as_str() == Some(&(i + 1).to_string())
                });
                match found {
                    Some(i) => Ok(FieldValue::Store(json!({
                        "self": format!("{}/priority/{}", self.rest_url(Api::Rest), i + 1),
                        "iconUrl": format!(
                            "{}/images/icons/priorities/{}.svg",
                            self.base_url,
                            priorities[i].to_lowercase()
                        ),
                        "name": priorities[i],
                        "id": (i + 1).to_string(),
                    }))),
                    None if value.is_object() => Err(Refusal::Refused(format!(
                        "Priority {} is not valid (this Jira has {priorities:?})",
                        value
                    ))),
                    None => malformed("Could not find valid 'id' or 'name' in priority object."),
                }
            }
            custom if custom.starts_with("customfield_") && value.is_null() => {
                Ok(FieldValue::Clear)
            }
            custom if self.config.custom_fields.iter().any(|c| c.id == custom) => {
                let kind = self
                    .config
                    .custom_fields
                    .iter()
                    .find(|c| c.id == custom)
                    .map_or("string", |c| c.kind.as_str());
                let text = value.as_str().unwrap_or_default();
                let valid = match kind {
                    "date" => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                    "datetime" => DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z").is_ok(),
                    _ => value.is_string(),
                };
                if valid {
                    Ok(FieldValue::Store(value.clone()))
                } else {
                    malformed(&format!("Invalid {kind} for {custom}: {value}"))
                }
            }
            "duedate" if value.is_null() => Ok(FieldValue::Clear),
            "duedate" => match value
                .as_str()
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
            {
                Some(Ok(_)) => Ok(FieldValue::Store(value.clone())),
                _ => malformed(&format!("Error parsing date string: {value}")),
            },
            _ => Ok(FieldValue::Store(value.clone())),
        }
    }

    /// `description` and comment bodies: ADF documents on Cloud (REST v3), wiki-markup strings
    /// on Data Center (REST v2).
    fn check_rich_text(&self, value: &Value) -> Result<(), String> {
        match self.flavor {
            Flavor::Cloud => check_adf(value),
            Flavor::DataCenter if value.is_string() => Ok(()),
            Flavor::DataCenter => Err(
                "Operation value must be a string (REST v2 takes wiki markup, not ADF)".to_owned(),
            ),
        }
    }

    /// Applies `update` operations (`{"labels": [{"add": "x"}]}`) to the stored fields.
    fn apply_update(
        &self,
        stored: &mut Map<String, Value>,
        update: &Map<String, Value>,
        errors: &mut FieldErrors,
        comments: &mut Vec<Value>,
        allowed: impl Fn(&str) -> bool,
    ) {
        for (field, operations) in update {
            if field == "comment" {
                for operation in operations.as_array().into_iter().flatten() {
                    match self.check_comment_body(&operation["add"]["body"]) {
                        Ok(()) => comments.push(operation["add"]["body"].clone()),
                        Err(message) => errors.malformed("comment", message),
                    }
                }
                continue;
            }
            if !allowed(field) {
                errors.not_on_screen(field);
                continue;
            }
            for operation in operations.as_array().into_iter().flatten() {
                let Some((verb, value)) = operation.as_object().and_then(|o| o.iter().next())
                else {
                    continue;
                };
                let multi = field == "labels" || field == "components";
                match (verb.as_str(), multi) {
                    ("set", _) => self.set_field(stored, field, value, errors),
                    ("add" | "remove", true) => {
                        if field == "labels"
                            && let Err(message) = check_label(value)
                        {
                            errors.malformed(field, message);
                            continue;
                        }
                        let mut items = stored
                            .get(field)
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        items.retain(|item| item != value);
                        if verb == "add" {
                            items.push(value.clone());
                        }
                        stored.insert(field.clone(), Value::Array(items));
                    }
                    _ => errors.malformed(
                        field,
                        format!("the fake Jira does not model the '{verb}' operation on '{field}'"),
                    ),
                }
            }
        }
    }

    /// Every project: (key, id), the default one first.
    fn projects(&self) -> Vec<(String, String)> {
        let mut projects = vec![(self.config.project_key.clone(), PROJECT_ID.to_owned())];
        for (i, key) in self.config.other_projects.iter().enumerate() {
            projects.push((key.clone(), (10100 + i).to_string()));
        }
        projects
    }

    /// The project a `{"key"}` or `{"id"}` names, if it exists.
    fn project_of(&self, project: &Value) -> Option<(String, String)> {
        self.projects().into_iter().find(|(key, id)| {
            project["key"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case(key))
                || project["id"].as_str() == Some(id.as_str())
        })
    }

    /// The screen of `project` (the default one for an unknown project): as changed since the
    /// start, else as configured.
    fn screen(&self, state: &JiraState, project: Option<&str>) -> Vec<String> {
        let find = |screens: &BTreeMap<String, Vec<String>>| {
            let key = project?;
            screens
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, fields)| fields.clone())
        };
        find(&state.changed_screens)
            .or_else(|| find(&self.config.screens))
            .unwrap_or_else(|| self.config.fields_on_screen.clone())
    }

    /// A field's name and schema, as the create metadata describes it.
    fn field_meta(&self, field: &str) -> (String, Value) {
        let system = |name: &str, schema: Value| (name.to_owned(), schema);
        match field {
            "summary" => system("Summary", json!({"type": "string", "system": "summary"})),
            "description" => system(
                "Description",
                json!({"type": "string", "system": "description"}),
            ),
            "environment" => system(
                "Environment",
                json!({"type": "string", "system": "environment"}),
            ),
            "issuetype" => system(
                "Issue Type",
                json!({"type": "issuetype", "system": "issuetype"}),
            ),
            "project" => system("Project", json!({"type": "project", "system": "project"})),
            "labels" => system(
                "Labels",
                json!({"type": "array", "items": "string", "system": "labels"}),
            ),
            "priority" => system(
                "Priority",
                json!({"type": "priority", "system": "priority"}),
            ),
            "components" => system(
                "Components",
                json!({"type": "array", "items": "component", "system": "components"}),
            ),
            "duedate" => system("Due date", json!({"type": "date", "system": "duedate"})),
            "assignee" => system("Assignee", json!({"type": "user", "system": "assignee"})),
            other => match self.config.custom_fields.iter().find(|c| c.id == other) {
                Some(custom) => {
                    let plugin = match custom.kind.as_str() {
                        "date" => "datepicker",
                        "datetime" => "datetime",
                        _ => "textfield",
                    };
                    let custom_id: u64 = other
                        .trim_start_matches("customfield_")
                        .parse()
                        .unwrap_or_default();
                    system(
                        &custom.name,
                        json!({
                            "type": custom.kind,
                            "custom": format!("com.atlassian.jira.plugin.system.customfieldtypes:{plugin}"),
                            "customId": custom_id,
                        }),
                    )
                }
                None => system(other, json!({"type": "any"})),
            },
        }
    }

    // ----- create metadata -----

    /// `startAt` and `maxResults` of a createmeta call (Jira's default page is 50).
    fn meta_page(call: &Call) -> (usize, usize) {
        let number = |name: &str| call.param(name).and_then(|v| v.parse().ok());
        (
            number("startAt").unwrap_or(0),
            number("maxResults").unwrap_or(50),
        )
    }

    /// One page of `items`, shaped as this flavor pages createmeta answers.
    fn meta_reply(&self, cloud_items: &str, items: Vec<Value>, call: &Call) -> Reply {
        let (start, max) = Self::meta_page(call);
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip(start).take(max).collect();
        let shown = page.len();
        let mut body = json!({"maxResults": max, "startAt": start, "total": total});
        match self.flavor {
            Flavor::Cloud => body[cloud_items] = Value::Array(page),
            Flavor::DataCenter => {
                body["values"] = Value::Array(page);
                body["isLast"] = json!(start + shown >= total);
            }
        }
        Reply::json(200, body)
    }

    fn unknown_project(project: &str) -> Reply {
        let message = format!("No project could be found with key '{project}'.");
        Reply::error(404, &[message.as_str()], json!({}))
    }

    fn createmeta_types(&self, project: &str, call: &Call) -> Reply {
        if self
            .project_of(&json!({"key": project, "id": project}))
            .is_none()
        {
            return Self::unknown_project(project);
        }
        let types = self
            .config
            .issue_types
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let id = (10001 + i).to_string();
                json!({
                    "self": format!("{}/issuetype/{id}", self.rest_url(Api::Rest)),
                    "id": id,
                    "name": name,
                    "description": "",
                    "iconUrl": format!("{}/images/icons/issuetypes/generic.png", self.base_url),
                    "subtask": false,
                })
            })
            .collect();
        self.meta_reply("issueTypes", types, call)
    }

    fn createmeta_fields(
        &self,
        state: &JiraState,
        project: &str,
        type_id: &str,
        call: &Call,
    ) -> Reply {
        let Some((key, _)) = self.project_of(&json!({"key": project, "id": project})) else {
            return Self::unknown_project(project);
        };
        let known_type =
            (0..self.config.issue_types.len()).any(|i| (10001 + i).to_string() == type_id);
        if !known_type {
            return Reply::error(404, &["Issue type not found."], json!({}));
        }
        let always = ["project", "issuetype", "summary"];
        let fields = self
            .screen(state, Some(&key))
            .iter()
            .map(|id| {
                let (name, schema) = self.field_meta(id);
                let required =
                    always.contains(&id.as_str()) || self.config.required_fields.contains(id);
                json!({
                    "fieldId": id,
                    "key": id,
                    "name": name,
                    "required": required,
                    "hasDefaultValue": false,
                    "operations": ["set"],
                    "schema": schema,
                })
            })
            .collect();
        self.meta_reply("fields", fields, call)
    }

    // ----- comments -----

    fn check_comment_body(&self, body: &Value) -> Result<(), String> {
        let empty = match body {
            Value::Null => true,
            Value::String(text) => text.trim().is_empty(),
            _ => false,
        };
        if empty {
            return Err("Comment body can not be empty!".to_owned());
        }
        self.check_rich_text(body)
    }

    fn list_comments(&self, state: &JiraState, key: &str, call: &Call) -> Reply {
        let Some(issue) = self.find_issue(state, key) else {
            return Reply::not_found();
        };
        let start = call
            .param("startAt")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0usize);
        let max = call
            .param("maxResults")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100usize);
        let with_properties = call.list_param("expand").iter().any(|e| e == "properties");
        let mut comments: Vec<&Comment> = issue.comments.iter().collect();
        if call.param("orderBy") == Some("-created") {
            comments.reverse();
        }
        let page: Vec<Value> = comments
            .iter()
            .skip(start)
            .take(max)
            .map(|c| self.comment_json(issue, c, with_properties))
            .collect();
        Reply::json(
            200,
            json!({"startAt": start, "maxResults": max, "total": comments.len(), "comments": page}),
        )
    }

    fn add_comment(&self, state: &mut JiraState, key: &str, body: &Value) -> Reply {
        let Some(index) = self.issue_index(state, key) else {
            return Reply::not_found();
        };
        if let Err(message) = self.check_comment_body(&body["body"]) {
            let mut reply = Reply::error(400, &[], json!({"comment": message}));
            reply.violations = vec![format!("comment: {message}")];
            return reply;
        }
        let mut issue = state.issues.remove(index);
        add_comment_to(state, &mut issue, body["body"].clone());
        let comment = issue.comments.last_mut().expect("just added");
        comment.properties = body["properties"].as_array().cloned().unwrap_or_default();
        let reply = Reply::json(201, self.comment_json(&issue, comment_of(&issue), false));
        state.issues.insert(index, issue);
        reply
    }

    fn comment_json(&self, issue: &Issue, comment: &Comment, with_properties: bool) -> Value {
        let mut json = json!({
            "self": format!("{}/comment/{}", self.issue_url(issue, Api::Rest), comment.id),
            "id": comment.id,
            "author": self.api_user(),
            "body": comment.body,
            "updateAuthor": self.api_user(),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.created),
            "jsdPublic": true,
        });
        if with_properties {
            json["properties"] = Value::Array(comment.properties.clone());
        }
        json
    }

    // ----- transitions -----

    fn available_transitions(&self, issue: &Issue) -> Vec<&Transition> {
        let workflow = &self.config.workflow;
        let current = &workflow.statuses[issue.status].name;
        workflow
            .transitions
            .iter()
            .filter(|t| {
                let to_elsewhere = !t.to.eq_ignore_ascii_case(current);
                let from_here = t.from.iter().any(|f| f.eq_ignore_ascii_case(current));
                (t.from.is_empty() && to_elsewhere) || from_here
            })
            .collect()
    }

    fn list_transitions(&self, state: &JiraState, key: &str) -> Reply {
        let Some(issue) = self.find_issue(state, key) else {
            return Reply::not_found();
        };
        let workflow = &self.config.workflow;
        let transitions: Vec<Value> = self
            .available_transitions(issue)
            .into_iter()
            .filter_map(|t| {
                let to = &workflow.statuses[workflow.status_index(&t.to)?];
                Some(json!({
                    "id": t.id,
                    "name": t.name,
                    "to": self.status_json(to, Api::Rest),
                    "hasScreen": to.category == Category::Done,
                    "isGlobal": t.from.is_empty(),
                    "isInitial": false,
                    "isAvailable": true,
                    "isConditional": false,
                    "isLooped": false,
                }))
            })
            .collect();
        Reply::json(
            200,
            json!({"expand": "transitions", "transitions": transitions}),
        )
    }

    fn transition(&self, state: &mut JiraState, key: &str, body: &Value) -> Reply {
        let Some(index) = self.issue_index(state, key) else {
            return Reply::not_found();
        };
        let workflow = &self.config.workflow;
        let Some(id) = body["transition"]["id"].as_str() else {
            return Reply::violation(400, vec!["Missing 'transition' identifier".to_owned()]);
        };
        let issue = &state.issues[index];
        let chosen = self
            .available_transitions(issue)
            .into_iter()
            .find(|t| t.id == id);
        let Some(target) = chosen.and_then(|t| workflow.status_index(&t.to)) else {
            let message = format!("Transition id '{id}' is not valid for this issue.");
            return Reply::error(400, &[message.as_str()], json!({}));
        };
        let to_done = workflow.statuses[target].category == Category::Done;

        // The transition screen: a resolution on the way to done; comments always.
        let mut errors = FieldErrors::default();
        let mut resolution = None;
        for (name, value) in body["fields"].as_object().into_iter().flatten() {
            if name != "resolution" || !to_done {
                errors.not_on_screen(name);
                continue;
            }
            let wanted = value["name"].as_str().or(value["id"].as_str());
            let found = self
                .config
                .resolutions
                .iter()
                .enumerate()
                .find(|(i, name)| {
                    value["name"].as_str() == Some(name.as_str())
                        || value["id"].as_str() == Some(&(10000 + i).to_string())
                });
            match (wanted, found) {
                (_, Some((_, name))) => resolution = Some(name.clone()),
                (None, None) => errors.malformed(
                    "resolution",
                    "Could not find valid 'id' or 'name' in resolution object.",
                ),
                (Some(wanted), None) => errors.refused(
                    "resolution",
                    format!(
                        "Resolution '{wanted}' does not exist (this Jira has {:?})",
                        self.config.resolutions
                    ),
                ),
            }
        }
        let update = body["update"].as_object().cloned().unwrap_or_default();
        let mut comments = Vec::new();
        let mut ignored = Map::new();
        self.apply_update(&mut ignored, &update, &mut errors, &mut comments, |_| false);
        if let Some(reply) = errors.into_reply() {
            return reply;
        }

        let mut issue = state.issues.remove(index);
        let resolution = match (to_done, resolution) {
            (true, Some(name)) => Some(name),
            // The default workflows' post-functions: set a resolution on the way to done, clear
            // it on the way out.
            (true, None) => issue
                .resolution
                .clone()
                .or_else(|| self.config.resolutions.first().cloned()),
            (false, _) => None,
        };
        self.move_issue(&mut issue, target, resolution);
        for body in comments {
            add_comment_to(state, &mut issue, body);
        }
        state.issues.insert(index, issue);
        Reply::empty(204)
    }

    fn move_issue(&self, issue: &mut Issue, target: usize, resolution: Option<String>) {
        let now = Utc::now();
        if resolution.is_some() && issue.resolution.is_none() {
            issue.resolved = Some(now);
        } else if resolution.is_none() {
            issue.resolved = None;
        }
        issue.status = target;
        issue.resolution = resolution;
        issue.updated = now;
    }

    // ----- search -----

    fn search(&self, state: &JiraState, call: &Call) -> Reply {
        let cloud = self.flavor == Flavor::Cloud;
        let from_body = call.method == "POST";
        let text = |name: &str| -> Option<String> {
            if from_body {
                call.body[name].as_str().map(str::to_owned)
            } else {
                call.param(name).map(str::to_owned)
            }
        };
        let number = |name: &str| -> Option<usize> {
            if from_body {
                call.body[name].as_u64().map(|n| n as usize)
            } else {
                call.param(name).and_then(|n| n.parse().ok())
            }
        };
        let list = |name: &str| -> Vec<String> {
            if from_body {
                let items = call.body[name].as_array().into_iter().flatten();
                items
                    .filter_map(Value::as_str)
                    .flat_map(|s| s.split(','))
                    .map(str::to_owned)
                    .collect()
            } else {
                call.list_param(name)
            }
        };

        let jql = text("jql").unwrap_or_default();
        let query = match parse_jql(&jql) {
            Ok(query) => query,
            Err(message) => return Reply::violation(400, vec![message]),
        };
        if cloud && query.clauses.is_empty() {
            let message = "Unbounded JQL queries are not allowed here. \
                           Please add a search restriction to your query.";
            return Reply::violation(400, vec![message.to_owned()]);
        }
        for clause in &query.clauses {
            if clause.field == JqlField::Project {
                for value in &clause.values {
                    let known = self
                        .projects()
                        .iter()
                        .any(|(key, id)| value.eq_ignore_ascii_case(key) || value == id);
                    if !known {
                        let message =
                            format!("The value '{value}' does not exist for the field 'project'.");
                        return Reply::error(400, &[message.as_str()], json!({}));
                    }
                }
            }
        }

        // Read-after-write: issues named here are searched as they are now, whatever the index.
        let reconcile: Vec<String> = if from_body {
            let ids = call.body["reconcileIssues"]
                .as_array()
                .into_iter()
                .flatten();
            ids.map(|id| id.to_string()).collect()
        } else {
            call.list_param("reconcileIssues")
        };
        if reconcile.len() > 50 {
            let message = format!(
                "reconcileIssues accepts at most 50 issue ids, got {}",
                reconcile.len()
            );
            return Reply::violation(400, vec![message]);
        }
        let now = std::time::Instant::now();
        let mut found: Vec<&Issue> = state
            .issues
            .iter()
            .filter(|i| i.searchable_from <= now || reconcile.contains(&i.id))
            .filter(|i| query.clauses.iter().all(|c| self.clause_matches(i, c)))
            .collect();
        for (field, descending) in query.order.iter().rev() {
            found.sort_by(|a, b| {
                let ordering = match field.as_str() {
                    "created" => a.created.cmp(&b.created),
                    "updated" => a.updated.cmp(&b.updated),
                    _ => std::cmp::Ordering::Equal,
                };
                // Ties (same millisecond) fall back to creation order, as issue ids are.
                let ordering = ordering.then(issue_number(a).cmp(&issue_number(b)));
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }

        let start = if cloud {
            match text("nextPageToken") {
                None => 0,
                Some(token) => match token
                    .strip_prefix("fake-page-")
                    .and_then(|n| n.parse().ok())
                {
                    Some(start) => start,
                    None => {
                        return Reply::violation(
                            400,
                            vec![format!("Invalid nextPageToken: {token:?}")],
                        );
                    }
                },
            }
        } else {
            number("startAt").unwrap_or(0)
        };
        let max = number("maxResults")
            .unwrap_or(50)
            .min(self.config.max_results);
        let default = if cloud {
            FieldChoice::IdOnly
        } else {
            FieldChoice::All
        };
        let fields = FieldChoice::parse(list("fields"), default);
        let properties = list("properties");
        let page: Vec<Value> = found
            .iter()
            .skip(start)
            .take(max)
            .map(|issue| self.issue_view(issue, Api::Rest, &fields, &properties))
            .collect();
        let next = start + page.len();
        if cloud {
            let mut result = json!({"issues": page, "isLast": next >= found.len()});
            if next < found.len() {
                result["nextPageToken"] = json!(format!("fake-page-{next}"));
            }
            Reply::json(200, result)
        } else {
            Reply::json(
                200,
                json!({
                    "expand": "names,schema",
                    "startAt": start,
                    "maxResults": max,
                    "total": found.len(),
                    "issues": page,
                }),
            )
        }
    }

    fn clause_matches(&self, issue: &Issue, clause: &Clause) -> bool {
        let workflow = &self.config.workflow;
        let status = &workflow.statuses[issue.status];
        let actual: Vec<String> = match &clause.field {
            JqlField::Project => vec![issue.project.0.clone(), issue.project.1.clone()],
            JqlField::Key => vec![issue.key.clone(), issue.id.clone()],
            JqlField::Labels => labels_of(issue),
            JqlField::Status => vec![status.name.clone(), status.id.clone()],
            JqlField::StatusCategory => vec![
                status.category.name().to_owned(),
                status.category.key().to_owned(),
                status.category.id().to_string(),
            ],
            JqlField::IssueType => vec![self.config.issue_types[issue.issue_type].clone()],
            JqlField::Property { key, path } => {
                if !self.config.indexed_properties.contains(key) {
                    return false;
                }
                let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
                match issue.properties.get(key).and_then(|v| v.pointer(&pointer)) {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(items)) => items.iter().map(plain_text).collect(),
                    Some(Value::Null) | None => vec![],
                    Some(other) => vec![other.to_string()],
                }
            }
        };
        if actual.is_empty() {
            return false;
        }
        let case_insensitive =
            !matches!(clause.field, JqlField::Labels | JqlField::Property { .. });
        let hit = clause.values.iter().any(|wanted| {
            actual.iter().any(|a| {
                if case_insensitive {
                    a.eq_ignore_ascii_case(wanted)
                } else {
                    a == wanted
                }
            })
        });
        hit != clause.negated
    }

    // ----- representations -----

    fn find_issue<'s>(&self, state: &'s JiraState, key: &str) -> Option<&'s Issue> {
        self.issue_index(state, key).map(|i| &state.issues[i])
    }

    /// Issues are found by key (any case, as Jira does) or by id.
    fn issue_index(&self, state: &JiraState, key: &str) -> Option<usize> {
        state
            .issues
            .iter()
            .position(|i| i.key.eq_ignore_ascii_case(key) || i.id == key)
    }

    fn rest_url(&self, api: Api) -> String {
        match api {
            Api::Rest => format!("{}{}", self.base_url, self.flavor.rest_base()),
            Api::Webhook => format!("{}/rest/api/2", self.base_url),
        }
    }

    fn issue_url(&self, issue: &Issue, api: Api) -> String {
        format!("{}/issue/{}", self.rest_url(api), issue.id)
    }

    fn resolution_id(&self, name: &str) -> String {
        let index = self
            .config
            .resolutions
            .iter()
            .position(|r| r == name)
            .unwrap_or_default();
        (10000 + index).to_string()
    }

    fn status_json(&self, status: &Status, api: Api) -> Value {
        let rest = self.rest_url(api);
        json!({
            "self": format!("{rest}/status/{}", status.id),
            "description": "",
            "iconUrl": format!("{}/images/icons/statuses/generic.png", self.base_url),
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": format!("{rest}/statuscategory/{}", status.category.id()),
                "id": status.category.id(),
                "key": status.category.key(),
                "colorName": status.category.color(),
                "name": status.category.name(),
            },
        })
    }

    /// An issue as the REST API (this flavor's version) or a webhook delivery shows it.
    fn issue_view(
        &self,
        issue: &Issue,
        api: Api,
        fields: &FieldChoice,
        properties: &[String],
    ) -> Value {
        let mut view = json!({"id": issue.id});
        if matches!(fields, FieldChoice::IdOnly) && properties.is_empty() {
            return view;
        }
        view["self"] = json!(self.issue_url(issue, api));
        view["key"] = json!(issue.key);
        if api == Api::Rest {
            view["expand"] = json!(
                "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
            );
        }
        if !matches!(fields, FieldChoice::IdOnly) {
            let all = self.all_fields(issue, api);
            let chosen: Map<String, Value> = all
                .into_iter()
                .filter(|(name, _)| fields.wants(name))
                .collect();
            view["fields"] = Value::Object(chosen);
        }
        if !properties.is_empty() {
            let all = properties.iter().any(|p| p == "*all");
            let chosen: Map<String, Value> = issue
                .properties
                .iter()
                .filter(|(key, _)| {
                    let excluded = properties
                        .iter()
                        .any(|p| p.strip_prefix('-') == Some(key.as_str()));
                    !excluded && (all || properties.contains(key))
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            view["properties"] = Value::Object(chosen);
        }
        view
    }

    fn all_fields(&self, issue: &Issue, api: Api) -> Map<String, Value> {
        let rest = self.rest_url(api);
        let workflow = &self.config.workflow;
        let type_name = &self.config.issue_types[issue.issue_type];
        let mut fields = Map::new();
        for name in [
            "summary",
            "description",
            "priority",
            "assignee",
            "duedate",
            "environment",
        ] {
            fields.insert(
                name.to_owned(),
                issue.fields.get(name).cloned().unwrap_or(Value::Null),
            );
        }
        fields.insert("labels".to_owned(), json!(labels_of(issue)));
        fields.insert(
            "components".to_owned(),
            issue.fields.get("components").cloned().unwrap_or(json!([])),
        );
        if api == Api::Webhook
            && let Some(description) = issue.fields.get("description").filter(|d| d.is_object())
        {
            // Webhooks carry REST v2 representations: plain text, not ADF.
            fields.insert("description".to_owned(), json!(adf_text(description)));
        }
        for (name, value) in &issue.fields {
            fields.entry(name.clone()).or_insert_with(|| value.clone());
        }
        let extra = json!({
            "project": {
                "self": format!("{rest}/project/{}", issue.project.1),
                "id": issue.project.1,
                "key": issue.project.0,
                "name": "Security",
                "projectTypeKey": "software",
            },
            "issuetype": {
                "self": format!("{rest}/issuetype/{}", 10001 + issue.issue_type),
                "id": (10001 + issue.issue_type).to_string(),
                "description": "",
                "name": type_name,
                "subtask": false,
            },
            "status": self.status_json(&workflow.statuses[issue.status], api),
            "resolution": issue.resolution.as_ref().map(|name| json!({
                "self": format!("{rest}/resolution/{}", self.resolution_id(name)),
                "id": self.resolution_id(name),
                "description": "",
                "name": name,
            })),
            "resolutiondate": issue.resolved.map(jira_time),
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "creator": self.api_user(),
            "reporter": self.api_user(),
            "comment": {
                "comments": issue
                    .comments
                    .iter()
                    .map(|c| self.comment_json(issue, c, false))
                    .collect::<Vec<_>>(),
                "maxResults": issue.comments.len(),
                "total": issue.comments.len(),
                "startAt": 0,
            },
        });
        if let Value::Object(extra) = extra {
            fields.extend(extra);
        }
        fields
    }

    /// The account the adapter authenticates as.
    fn api_user(&self) -> Value {
        match self.flavor {
            Flavor::Cloud => json!({
                "self": format!("{}/user?accountId={BOT_ACCOUNT_ID}", self.rest_url(Api::Rest)),
                "accountId": BOT_ACCOUNT_ID,
                "emailAddress": CLOUD_EMAIL,
                "displayName": "scantix",
                "active": true,
                "accountType": "atlassian",
            }),
            Flavor::DataCenter => json!({
                "self": format!("{}/user?username=scantix-bot", self.rest_url(Api::Rest)),
                "name": "scantix-bot",
                "key": "JIRAUSER10100",
                "displayName": "scantix",
                "active": true,
            }),
        }
    }

    /// Who made a change, as webhook deliveries name them.
    fn user(&self, actor: Actor) -> Value {
        match actor {
            Actor::Person => self.person(),
            Actor::Scantix => {
                let mut user = self.api_user();
                user["self"] = json!(
                    user["self"]
                        .as_str()
                        .unwrap_or_default()
                        .replace(&self.rest_url(Api::Rest), &self.rest_url(Api::Webhook))
                );
                user
            }
        }
    }

    /// The person who moves issues in the UI, as webhook deliveries name them.
    fn person(&self) -> Value {
        let rest = self.rest_url(Api::Webhook);
        let mut user = json!({
            "displayName": "Ada Lovelace",
            "emailAddress": "ada@example.com",
            "active": true,
            "timeZone": "Europe/London",
        });
        match self.flavor {
            Flavor::Cloud => {
                user["self"] = json!(format!("{rest}/user?accountId=5b10ac8d82e05b22cc7d4ef5"));
                user["accountId"] = json!("5b10ac8d82e05b22cc7d4ef5");
            }
            Flavor::DataCenter => {
                user["self"] = json!(format!("{rest}/user?username=ada"));
                user["name"] = json!("ada");
                user["key"] = json!("JIRAUSER10000");
            }
        }
        user
    }
}

enum FieldValue {
    Store(Value),
    Clear,
}

enum Refusal {
    /// Wrong on any Jira.
    Malformed(String),
    /// Refused by this Jira's setup.
    Refused(String),
}

const PROJECT_ID: &str = "10000";
/// The Cloud account id of the API user.
const BOT_ACCOUNT_ID: &str = "5f0c2b7e9a1d3b0014c0ffee";

fn add_comment_to(state: &mut JiraState, issue: &mut Issue, body: Value) {
    state.comments_created += 1;
    let now = Utc::now();
    issue.comments.push(Comment {
        id: (10000 + state.comments_created).to_string(),
        body,
        properties: Vec::new(),
        created: now,
    });
    issue.updated = now;
}

fn issue_number(issue: &Issue) -> u64 {
    issue.id.parse().unwrap_or_default()
}

fn comment_of(issue: &Issue) -> &Comment {
    issue.comments.last().expect("the comment just added")
}

fn labels_of(issue: &Issue) -> Vec<String> {
    let labels = issue.fields.get("labels").and_then(Value::as_array);
    labels
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Jira's label rules: a string, no spaces, at most 255 characters.
fn check_label(label: &Value) -> Result<(), String> {
    match label.as_str() {
        None => Err(format!("Labels must be strings, got {label}")),
        Some(text) if text.contains(char::is_whitespace) => Err(format!(
            "The label '{text}' contains spaces which is invalid."
        )),
        Some(text) if text.is_empty() || text.chars().count() > 255 => Err(format!(
            "The label '{text}' must be between 1 and 255 characters."
        )),
        Some(_) => Ok(()),
    }
}

/// Entity properties of a create or edit: each a key (at most 255 characters) and a JSON value
/// (at most 32 KB).
fn check_properties(properties: &Value, errors: &mut FieldErrors) -> BTreeMap<String, Value> {
    let mut checked = BTreeMap::new();
    for property in properties.as_array().into_iter().flatten() {
        let (Some(key), Some(value)) = (property["key"].as_str(), property.get("value")) else {
            errors.malformed("properties", "Each property needs a key and a value.");
            continue;
        };
        if key.is_empty() || key.chars().count() > 255 {
            errors.malformed(
                "properties",
                format!("The property key '{key}' must be 1 to 255 characters."),
            );
        } else if value.to_string().len() > 32768 {
            errors.malformed(
                "properties",
                format!("The value of property '{key}' exceeds 32768 bytes."),
            );
        } else {
            checked.insert(key.to_owned(), value.clone());
        }
    }
    checked
}

/// The outline of an Atlassian Document: a `doc` of version 1 whose nodes all have a `type`,
/// whose `content` are arrays of nodes and whose text nodes are not empty (Jira refuses those).
fn check_adf(value: &Value) -> Result<(), String> {
    const NOT_ADF: &str =
        "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
    if value["type"] != "doc" || value["version"] != 1 || !value["content"].is_array() {
        return Err(NOT_ADF.to_owned());
    }
    fn check_node(node: &Value, at: &str) -> Result<(), String> {
        let Some(kind) = node["type"].as_str() else {
            return Err(format!("{at}: an ADF node needs a string `type`"));
        };
        if kind == "text" && node["text"].as_str().is_none_or(str::is_empty) {
            return Err(format!("{at}: an ADF text node needs non-empty `text`"));
        }
        match &node["content"] {
            Value::Null => Ok(()),
            Value::Array(children) => children
                .iter()
                .enumerate()
                .try_for_each(|(i, child)| check_node(child, &format!("{at}.content[{i}]"))),
            _ => Err(format!("{at}: an ADF node's `content` must be an array")),
        }
    }
    check_node(value, "doc")
}

/// The text of an ADF document, paragraphs on their own lines: how a v2 webhook shows it.
fn adf_text(doc: &Value) -> String {
    fn collect(node: &Value, out: &mut String) {
        if let Some(text) = node["text"].as_str() {
            out.push_str(text);
        }
        for child in node["content"].as_array().into_iter().flatten() {
            collect(child, out);
        }
        if matches!(
            node["type"].as_str(),
            Some("paragraph" | "heading" | "listItem" | "codeBlock")
        ) {
            out.push('\n');
        }
    }
    let mut out = String::new();
    collect(doc, &mut out);
    out.trim_end().to_owned()
}

fn plain_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Jira's timestamp format: `2019-02-15T19:15:40.470+0000`.
fn jira_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

fn fault_reply(status: u16) -> Reply {
    match status {
        // Atlassian's edge answers these with an HTML page, not Jira's JSON.
        502..=504 => Reply {
            body: ReplyBody::Html(format!(
                "<html><body><h1>{status}</h1>The server is temporarily unavailable.</body></html>"
            )),
            ..Reply::empty(status)
        },
        _ => Reply::error(status, &["Internal server error"], json!({})),
    }
}

/// The first injected fault that applies to this request, used up by one.
fn take_fault(state: &mut JiraState, method: &str, path: &str, base: &str) -> Option<Fault> {
    let injection = state
        .faults
        .iter_mut()
        .find(|f| f.remaining > 0 && request_matches(&f.method, &f.path, method, path, base))?;
    injection.remaining -= 1;
    Some(injection.fault.clone())
}

fn request_matches(
    method: &str,
    pattern: &str,
    actual_method: &str,
    path: &str,
    base: &str,
) -> bool {
    let below_base = path.strip_prefix(base).unwrap_or(path);
    let path = if pattern.starts_with("/rest/") {
        path
    } else {
        below_base
    };
    pattern_matches(method, pattern, actual_method, path)
}

/// `*` matches any method or one path segment; a final `**` any remaining segments. The fake
/// GitHub matches its recorded requests and faults the same way.
pub(crate) fn pattern_matches(
    method: &str,
    pattern: &str,
    actual_method: &str,
    path: &str,
) -> bool {
    if method != "*" && !method.eq_ignore_ascii_case(actual_method) {
        return false;
    }
    let wanted: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, part) in wanted.iter().enumerate() {
        match *part {
            "**" if i + 1 == wanted.len() => return true,
            "*" if i < actual.len() => {}
            _ if actual.get(i) == Some(part) => {}
            _ => return false,
        }
    }
    wanted.len() == actual.len()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ----- JQL -----

#[derive(Debug, PartialEq)]
enum JqlField {
    Project,
    Key,
    Labels,
    Status,
    StatusCategory,
    IssueType,
    Property { key: String, path: Vec<String> },
}

#[derive(Debug)]
struct Clause {
    field: JqlField,
    negated: bool,
    values: Vec<String>,
}

#[derive(Debug)]
struct JqlQuery {
    clauses: Vec<Clause>,
    /// (field, descending); without `ORDER BY`, newest first.
    order: Vec<(String, bool)>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(&'static str),
}

const JQL_SUBSET: &str = "the fake Jira understands clauses joined by AND (=, !=, in, not in) \
    on project, key, labels, status, statusCategory, issuetype and issue.property[key].path, \
    then ORDER BY key, created or updated";

fn jql_error(message: impl std::fmt::Display, jql: &str) -> String {
    format!("Error in the JQL Query: {message} (JQL: {jql:?})")
}

fn tokenize(jql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = jql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(jql_error("The quoted string is not terminated.", jql)),
                    Some('\\') => {
                        text.extend(chars.get(i + 1));
                        i += 2;
                    }
                    Some(q) if *q == c => {
                        i += 1;
                        break;
                    }
                    Some(other) => {
                        text.push(*other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Text(text));
        } else if let Some(symbol) = ["!=", "!~", "<=", ">=", "=", "~", "<", ">", "(", ")", ","]
            .into_iter()
            .find(|s| chars[i..].iter().take(s.len()).copied().eq(s.chars()))
        {
            tokens.push(Token::Symbol(symbol));
            i += symbol.len();
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !"=!~<>(),\"'".contains(chars[i])
            {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(tokens)
}

fn parse_jql(jql: &str) -> Result<JqlQuery, String> {
    let tokens = tokenize(jql)?;
    let mut at = 0;
    let word_is =
        |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(x)) if x.eq_ignore_ascii_case(w));
    let unsupported =
        |what: &str| jql_error(format!("{what} is not supported: {JQL_SUBSET}."), jql);
    let mut clauses = Vec::new();
    while at < tokens.len() && !word_is(tokens.get(at), "order") {
        let field = match &tokens[at] {
            Token::Word(name) => jql_field(name).map_err(|m| jql_error(m, jql))?,
            other => {
                return Err(jql_error(
                    format!("Expecting a field name but got {other:?}."),
                    jql,
                ));
            }
        };
        at += 1;
        let (negated, list) = match tokens.get(at) {
            Some(Token::Symbol("=")) => (false, false),
            Some(Token::Symbol("!=")) => (true, false),
            _ if word_is(tokens.get(at), "in") => (false, true),
            _ if word_is(tokens.get(at), "not") && word_is(tokens.get(at + 1), "in") => {
                at += 1;
                (true, true)
            }
            Some(other) => return Err(unsupported(&format!("The operator {other:?}"))),
            None => {
                return Err(jql_error(
                    "Expecting an operator at the end of the query.",
                    jql,
                ));
            }
        };
        at += 1;
        let mut values = Vec::new();
        if list {
            if tokens.get(at) != Some(&Token::Symbol("(")) {
                return Err(jql_error("Expecting '(' after 'in'.", jql));
            }
            at += 1;
            loop {
                values.push(jql_value(tokens.get(at), jql)?);
                at += 1;
                match tokens.get(at) {
                    Some(Token::Symbol(",")) => at += 1,
                    Some(Token::Symbol(")")) => {
                        at += 1;
                        break;
                    }
                    _ => return Err(jql_error("Expecting ',' or ')' in the list.", jql)),
                }
            }
        } else {
            values.push(jql_value(tokens.get(at), jql)?);
            at += 1;
        }
        clauses.push(Clause {
            field,
            negated,
            values,
        });
        match tokens.get(at) {
            None => {}
            _ if word_is(tokens.get(at), "and") => at += 1,
            _ if word_is(tokens.get(at), "order") => {}
            Some(other) => return Err(unsupported(&format!("{other:?} between clauses"))),
        }
    }

    let mut order = Vec::new();
    if word_is(tokens.get(at), "order") {
        if !word_is(tokens.get(at + 1), "by") {
            return Err(jql_error("Expecting 'by' after 'order'.", jql));
        }
        at += 2;
        loop {
            let field = match tokens.get(at) {
                Some(Token::Word(f))
                    if ["key", "issuekey", "created", "updated"]
                        .contains(&f.to_lowercase().as_str()) =>
                {
                    f.to_lowercase()
                }
                other => return Err(unsupported(&format!("Ordering by {other:?}"))),
            };
            at += 1;
            let descending = word_is(tokens.get(at), "desc");
            if descending || word_is(tokens.get(at), "asc") {
                at += 1;
            }
            order.push((field, descending));
            match tokens.get(at) {
                Some(Token::Symbol(",")) => at += 1,
                None => break,
                Some(other) => {
                    return Err(jql_error(
                        format!("Unexpected {other:?} after ORDER BY."),
                        jql,
                    ));
                }
            }
        }
    }
    if order.is_empty() {
        order.push(("created".to_owned(), true));
    }
    Ok(JqlQuery { clauses, order })
}

fn jql_field(name: &str) -> Result<JqlField, String> {
    const PROPERTY: &str = "issue.property[";
    if name
        .get(..PROPERTY.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PROPERTY))
    {
        let rest = &name[PROPERTY.len()..];
        let close = rest
            .find(']')
            .ok_or("Expecting ']' after the property key.")?;
        let key = rest[..close].to_owned();
        let path = rest[close + 1..].trim_start_matches('.');
        if key.is_empty() || path.is_empty() {
            return Err(format!("Expecting issue.property[key].path, got '{name}'."));
        }
        return Ok(JqlField::Property {
            key,
            path: path.split('.').map(str::to_owned).collect(),
        });
    }
    match name.to_lowercase().as_str() {
        "project" => Ok(JqlField::Project),
        "key" | "issuekey" | "id" => Ok(JqlField::Key),
        "labels" => Ok(JqlField::Labels),
        "status" => Ok(JqlField::Status),
        "statuscategory" => Ok(JqlField::StatusCategory),
        "issuetype" | "type" => Ok(JqlField::IssueType),
        _ => Err(format!(
            "Field '{name}' does not exist or you do not have permission to view it \
             (or the fake Jira does not support it: {JQL_SUBSET})."
        )),
    }
}

/// A value: a quoted string, or a bare word without JQL's reserved characters.
fn jql_value(token: Option<&Token>, jql: &str) -> Result<String, String> {
    const RESERVED: &str = "+.,;?|*/%^$#@[]";
    match token {
        Some(Token::Text(text)) => Ok(text.clone()),
        Some(Token::Word(word)) if ["empty", "null"].contains(&word.to_lowercase().as_str()) => {
            Err(jql_error(
                format!("{word} is not supported: {JQL_SUBSET}."),
                jql,
            ))
        }
        Some(Token::Word(word)) => match word.chars().find(|c| RESERVED.contains(*c)) {
            Some(c) => Err(jql_error(
                format!(
                    "The character '{c}' is a reserved JQL character. You must enclose it \
                     in a string or use the escape '\\u{:04x}' instead.",
                    u32::from(c)
                ),
                jql,
            )),
            None => Ok(word.clone()),
        },
        other => Err(jql_error(
            format!("Expecting a value but got {other:?}."),
            jql,
        )),
    }
}
