//! An in-process fake Linear on a free local port, for testing the Linear tracker adapter against
//! something that refuses what Linear refuses.
//!
//! # What it checks
//! Every request is checked against Linear's published GraphQL schema (`tests/fixtures/linear/`,
//! through [`crate::graphql`]) before anything else: the document must validate (a field, argument
//! or type the schema lacks fails), the operation must exist, and the variables must coerce to
//! their declared input types (an input field the schema lacks fails). Such a request is answered
//! as Linear answers one (400, `GRAPHQL_VALIDATION_FAILED`) and recorded as a violation. So is a
//! root field or argument the fake does not model. The deliveries it builds for the tests are
//! checked against the schema's webhook payload types (`EntityWebhookPayload`,
//! `IssueWebhookPayload`, `CommentWebhookPayload`, `UserActorWebhookPayload`): a field Linear does
//! not send, or a required one missing, is a violation too.
//!
//! # What it models
//! One team (`SEC`) with Linear's default workflow (Backlog, Todo, In Progress, Done, Canceled,
//! Duplicate: types `backlog`, `unstarted`, `started`, `completed`, `canceled`, `canceled`), labels
//! (team and workspace; names unique per team), issues (client-chosen ids refused when taken,
//! identifiers `SEC-<n>`, looked up by id or identifier, trash), attachments (one per issue and
//! URL: a second create with the same URL updates the first, as Linear documents), comments
//! (client-chosen ids), the viewer (the credential's user), API-key and OAuth authentication, and
//! injected faults by operation name.
//!
//! # Not modelled
//! Filters other than the ones the adapter sends, pagination beyond one page, projects, cycles,
//! assignees, sub-issues, archiving (other than trash), rate-limit headers (an injected rate limit
//! is the GraphQL `RATELIMITED` error), and outgoing webhook HTTP calls (tests get delivery bodies
//! to sign and post themselves).

use crate::graphql::{CheckedRequest, GraphQlSchema, RootField, project};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The personal API key the fake accepts (sent as the bare `Authorization` value).
pub const API_KEY: &str = "lin_api_fake0123456789";
/// The OAuth access token the fake accepts (sent as `Bearer <token>`).
pub const OAUTH_TOKEN: &str = "lin_oauth_fake0123456789";
/// The credential's user: whom deliveries of scantix's own changes name as `actor`.
pub const VIEWER_ID: &str = "5ca7a11b-0000-4000-8000-000000000001";
/// A person working in Linear.
pub const PERSON_ID: &str = "0a0d5eed-0000-4000-8000-000000000002";
pub const TEAM_KEY: &str = "SEC";
/// The workspace's users besides scantix: (id, name, display name, email). Two share a display
/// name, as colleagues may.
pub const USERS: [(&str, &str, &str, &str); 3] = [
    (PERSON_ID, "ada", "Ada Lovelace", "ada@example.com"),
    (
        "0a0d5eed-0000-4000-8000-000000000005",
        "grace",
        "Grace",
        "grace.hopper@example.com",
    ),
    (
        "0a0d5eed-0000-4000-8000-000000000006",
        "grace.b",
        "Grace",
        "grace.brewster@example.com",
    ),
];
const TEAM_ID: &str = "7ea30000-0000-4000-8000-000000000003";
const ORGANIZATION_ID: &str = "0c6a0000-0000-4000-8000-000000000004";

/// Where Linear's schema is vendored.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/linear/schema.graphql")
}

/// The schema, loaded once per test binary.
pub fn linear_schema() -> &'static GraphQlSchema {
    static SCHEMA: OnceLock<GraphQlSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        GraphQlSchema::load(schema_path()).unwrap_or_else(|e| panic!("Linear's schema loads: {e}"))
    })
}

/// Who makes a change the tests ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The credential's user: scantix itself.
    Scantix,
    Person,
}

/// A fault to answer with instead of (or besides) the real answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This HTTP status, with nothing done.
    Status(u16),
    /// The GraphQL `RATELIMITED` error (HTTP 400), with nothing done.
    RateLimited,
    /// Does what was asked, then waits before answering: the client times out on a request that
    /// took effect.
    LostResponse(Duration),
}

/// One request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub operation: String,
    pub fields: Vec<String>,
    pub variables: Value,
    pub status: u16,
}

/// What the tests see of an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueSnapshot {
    pub id: String,
    pub identifier: String,
    pub title: String,
    pub description: String,
    pub priority: i64,
    pub state_name: String,
    pub state_type: String,
    pub labels: Vec<String>,
    pub attachments: Vec<String>,
    pub comments: Vec<String>,
    pub trashed: bool,
    /// The assignee's user id.
    pub assignee: Option<String>,
}

#[derive(Debug, Clone)]
struct WorkflowState {
    id: String,
    name: String,
    kind: String,
    position: f64,
    color: String,
}

#[derive(Debug, Clone)]
struct Label {
    id: String,
    name: String,
    team: Option<String>,
}

#[derive(Debug, Clone)]
struct Issue {
    id: String,
    number: u64,
    title: String,
    description: Option<String>,
    priority: i64,
    due_date: Option<String>,
    state: usize,
    labels: Vec<String>,
    trashed: bool,
    /// The assignee's user id.
    assignee: Option<String>,
    created_at: String,
    updated_at: String,
}

#[derive(Debug, Clone)]
struct Attachment {
    id: String,
    issue: String,
    url: String,
    title: String,
    subtitle: Option<String>,
}

#[derive(Debug, Clone)]
struct Comment {
    id: String,
    issue: String,
    body: String,
}

struct Injection {
    operation: String,
    fault: Fault,
    remaining: usize,
}

#[derive(Default)]
struct State {
    states: Vec<WorkflowState>,
    labels: Vec<Label>,
    issues: Vec<Issue>,
    attachments: Vec<Attachment>,
    comments: Vec<Comment>,
    requests: Vec<Recorded>,
    violations: Vec<String>,
    faults: Vec<Injection>,
    next_id: u64,
    deliveries: u64,
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("f00d0000-0000-4000-8000-{:012x}", self.next_id)
    }

    fn issue_index(&self, id_or_identifier: &str) -> Option<usize> {
        self.issues
            .iter()
            .position(|i| i.id == id_or_identifier || identifier(i) == id_or_identifier)
    }

    fn issue_json(&self, issue: &Issue) -> Value {
        let state = &self.states[issue.state];
        let labels: Vec<Value> = issue
            .labels
            .iter()
            .filter_map(|id| self.labels.iter().find(|l| &l.id == id))
            .map(|l| json!({"id": l.id, "name": l.name}))
            .collect();
        json!({
            "id": issue.id,
            "identifier": identifier(issue),
            "number": issue.number,
            "title": issue.title,
            "description": issue.description,
            "priority": issue.priority,
            "dueDate": issue.due_date,
            "url": url(issue),
            "trashed": issue.trashed,
            "archivedAt": Value::Null,
            "state": state_json(state),
            "labels": {"nodes": labels},
            "assignee": issue.assignee.as_ref().map(|id| json!({"id": id})),
            "team": {"id": TEAM_ID, "key": TEAM_KEY},
            "createdAt": issue.created_at,
            "updatedAt": issue.updated_at,
        })
    }
}

fn identifier(issue: &Issue) -> String {
    format!("{TEAM_KEY}-{}", issue.number)
}

fn url(issue: &Issue) -> String {
    format!("https://linear.app/fake/issue/{}", identifier(issue))
}

fn state_json(state: &WorkflowState) -> Value {
    json!({"id": state.id, "name": state.name, "type": state.kind,
           "position": state.position, "color": state.color})
}

struct Shared {
    schema: &'static GraphQlSchema,
    url: String,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fake Linear serving on `127.0.0.1:<free port>` until dropped.
pub struct FakeLinear {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

/// A GraphQL error as Linear words one.
struct GqlError {
    message: String,
    code: &'static str,
}

impl GqlError {
    fn not_found(what: &str) -> GqlError {
        GqlError {
            message: format!("Entity not found: {what}"),
            code: "INVALID_INPUT",
        }
    }

    fn invalid(message: impl Into<String>) -> GqlError {
        GqlError {
            message: message.into(),
            code: "INVALID_INPUT",
        }
    }
}

impl FakeLinear {
    pub async fn start() -> FakeLinear {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a local port for the fake Linear");
        let address = listener.local_addr().expect("the fake Linear's address");
        let states = [
            ("Backlog", "backlog"),
            ("Todo", "unstarted"),
            ("In Progress", "started"),
            ("Done", "completed"),
            ("Canceled", "canceled"),
            ("Duplicate", "canceled"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| WorkflowState {
            id: format!("57a7e000-0000-4000-8000-{:012x}", i + 1),
            name: (*name).into(),
            kind: (*kind).into(),
            position: i as f64,
            color: "#bec2c8".into(),
        })
        .collect();
        let shared = Arc::new(Shared {
            schema: linear_schema(),
            url: format!("http://{address}/graphql"),
            state: Mutex::new(State {
                states,
                ..State::default()
            }),
        });
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeLinear { shared, server }
    }

    /// `http://127.0.0.1:<port>/graphql`: the adapter's `api-url`.
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// How many requests named `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| r.operation == operation)
            .count()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Fails the test if any request (or delivery built) was refused as wrong on any Linear.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "the fake Linear refused {} request(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }

    /// Answers the next `count` requests naming `operation` (`*`: any) with `fault`.
    pub fn inject(&self, operation: &str, fault: Fault, count: usize) {
        self.shared.lock().faults.push(Injection {
            operation: operation.into(),
            fault,
            remaining: count,
        });
    }

    /// Drops every fault not yet used up: the outage is over.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The identifiers of the issues not in the trash, oldest first.
    pub fn live_issues(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .issues
            .iter()
            .filter(|i| !i.trashed)
            .map(identifier)
            .collect()
    }

    /// An issue as the tests inspect it.
    pub fn snapshot(&self, key: &str) -> Option<IssueSnapshot> {
        let state = self.shared.lock();
        let issue = &state.issues[state.issue_index(key)?];
        let ws = &state.states[issue.state];
        Some(IssueSnapshot {
            id: issue.id.clone(),
            identifier: identifier(issue),
            title: issue.title.clone(),
            description: issue.description.clone().unwrap_or_default(),
            priority: issue.priority,
            state_name: ws.name.clone(),
            state_type: ws.kind.clone(),
            labels: issue
                .labels
                .iter()
                .filter_map(|id| state.labels.iter().find(|l| &l.id == id))
                .map(|l| l.name.clone())
                .collect(),
            attachments: state
                .attachments
                .iter()
                .filter(|a| a.issue == issue.id)
                .map(|a| a.url.clone())
                .collect(),
            comments: state
                .comments
                .iter()
                .filter(|c| c.issue == issue.id)
                .map(|c| c.body.clone())
                .collect(),
            trashed: issue.trashed,
            assignee: issue.assignee.clone(),
        })
    }

    /// A workspace label (no team), as an admin would make one.
    pub fn seed_workspace_label(&self, name: &str) -> String {
        let mut state = self.shared.lock();
        let id = state.new_id();
        state.labels.push(Label {
            id: id.clone(),
            name: name.into(),
            team: None,
        });
        id
    }

    /// Moves `key` to the state named `state_name` as `actor` would in Linear, and returns the
    /// `Issue` `update` delivery Linear sends.
    pub fn move_issue(&self, actor: Actor, key: &str, state_name: &str) -> Value {
        let mut state = self.shared.lock();
        let index = state.issue_index(key).expect("move_issue: no such issue");
        let target = state
            .states
            .iter()
            .position(|s| s.name == state_name)
            .unwrap_or_else(|| panic!("move_issue: no state {state_name:?}"));
        let old = state.states[state.issues[index].state].id.clone();
        let now = Utc::now().to_rfc3339();
        let issue = &mut state.issues[index];
        let old_updated = issue.updated_at.clone();
        issue.state = target;
        issue.updated_at = now;
        let issue = issue.clone();
        let data = webhook_issue(&state, &issue);
        let delivery = envelope(
            &mut state,
            actor,
            "update",
            "Issue",
            data,
            Some(json!({"stateId": old, "updatedAt": old_updated})),
            Some(url(&issue)),
        );
        self.check_delivery(&mut state, &delivery, "IssueWebhookPayload");
        delivery
    }

    /// Deletes `key` as a person would (to the trash), and returns the `Issue` `remove` delivery.
    pub fn remove_issue(&self, key: &str) -> Value {
        let mut state = self.shared.lock();
        let index = state.issue_index(key).expect("remove_issue: no such issue");
        state.issues[index].trashed = true;
        let issue = state.issues[index].clone();
        let mut data = webhook_issue(&state, &issue);
        data["trashed"] = json!(true);
        let delivery = envelope(
            &mut state,
            Actor::Person,
            "remove",
            "Issue",
            data,
            None,
            Some(url(&issue)),
        );
        self.check_delivery(&mut state, &delivery, "IssueWebhookPayload");
        delivery
    }

    /// A person comments on `key`; returns the `Comment` `create` delivery.
    pub fn comment(&self, actor: Actor, key: &str, body: &str) -> Value {
        let mut state = self.shared.lock();
        let index = state.issue_index(key).expect("comment: no such issue");
        let issue = state.issues[index].clone();
        let id = state.new_id();
        state.comments.push(Comment {
            id: id.clone(),
            issue: issue.id.clone(),
            body: body.into(),
        });
        let now = Utc::now().to_rfc3339();
        let (user_id, name) = who(actor);
        let data = json!({
            "id": id, "body": body, "createdAt": now, "updatedAt": now, "reactionData": {},
            "issueId": issue.id, "userId": user_id,
            "issue": {"id": issue.id, "identifier": identifier(&issue), "title": issue.title,
                      "teamId": TEAM_ID, "url": url(&issue),
                      "team": {"id": TEAM_ID, "key": TEAM_KEY, "name": "Security"}},
            "user": {"id": user_id, "name": name, "email": format!("{name}@example.com"),
                     "url": format!("https://linear.app/fake/profiles/{name}")},
        });
        let delivery = envelope(&mut state, actor, "create", "Comment", data, None, None);
        self.check_delivery(&mut state, &delivery, "CommentWebhookPayload");
        delivery
    }

    /// Checks a delivery against the schema's payload types; problems are violations.
    fn check_delivery(&self, state: &mut State, delivery: &Value, data_type: &str) {
        let schema = self.shared.schema;
        let mut problems = schema.check_value("EntityWebhookPayload", delivery, "delivery");
        problems.extend(schema.check_value(data_type, &delivery["data"], "delivery.data"));
        if !delivery["actor"].is_null() {
            problems.extend(schema.check_value(
                "UserActorWebhookPayload",
                &delivery["actor"],
                "delivery.actor",
            ));
        }
        state
            .violations
            .extend(problems.into_iter().map(|p| format!("built delivery: {p}")));
    }
}

impl Drop for FakeLinear {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn who(actor: Actor) -> (&'static str, &'static str) {
    match actor {
        Actor::Scantix => (VIEWER_ID, "scantix"),
        Actor::Person => (PERSON_ID, "ada"),
    }
}

/// An issue as webhook deliveries carry it (`IssueWebhookPayload`).
fn webhook_issue(state: &State, issue: &Issue) -> Value {
    let ws = &state.states[issue.state];
    let labels: Vec<Value> = issue
        .labels
        .iter()
        .filter_map(|id| state.labels.iter().find(|l| &l.id == id))
        .map(|l| json!({"id": l.id, "name": l.name, "color": "#bec2c8"}))
        .collect();
    let priority_label = ["No priority", "Urgent", "High", "Medium", "Low"]
        .get(issue.priority as usize)
        .copied()
        .unwrap_or("No priority");
    json!({
        "id": issue.id,
        "identifier": identifier(issue),
        "number": issue.number,
        "title": issue.title,
        "description": issue.description,
        "priority": issue.priority,
        "priorityLabel": priority_label,
        "prioritySortOrder": 0.0,
        "sortOrder": issue.number as f64,
        "state": {"id": ws.id, "name": ws.name, "type": ws.kind, "color": ws.color},
        "stateId": ws.id,
        "teamId": TEAM_ID,
        "team": {"id": TEAM_ID, "key": TEAM_KEY, "name": "Security"},
        "labelIds": issue.labels,
        "labels": labels,
        "previousIdentifiers": [],
        "subscriberIds": [],
        "reactionData": {},
        "createdAt": issue.created_at,
        "updatedAt": issue.updated_at,
        "url": url(issue),
    })
}

/// The envelope every data change delivery has (`EntityWebhookPayload`).
fn envelope(
    state: &mut State,
    actor: Actor,
    action: &str,
    kind: &str,
    data: Value,
    updated_from: Option<Value>,
    url: Option<String>,
) -> Value {
    state.deliveries += 1;
    let (id, name) = who(actor);
    let mut delivery = json!({
        "action": action,
        "type": kind,
        "actor": {"id": id, "name": name, "type": "user", "email": format!("{name}@example.com"),
                  "url": format!("https://linear.app/fake/profiles/{name}")},
        "createdAt": Utc::now().to_rfc3339(),
        "data": data,
        "organizationId": ORGANIZATION_ID,
        "webhookId": "3b6f0000-0000-4000-8000-000000000005",
        "webhookTimestamp": Utc::now().timestamp_millis(),
    });
    if let Some(from) = updated_from {
        delivery["updatedFrom"] = from;
    }
    if let Some(url) = url {
        delivery["url"] = json!(url);
    }
    delivery
}

/// The one handler.
async fn serve(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(body, 8 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let (status, answer, lost) = shared.respond(&parts.method, &authorization, &bytes);
    if let Some(wait) = lost {
        tokio::time::sleep(wait).await;
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap_or_default()
}

fn errors(list: &[GqlError]) -> Value {
    let errors: Vec<Value> = list
        .iter()
        .map(|e| {
            json!({"message": e.message, "extensions": {"code": e.code, "type": "invalid input",
                        "userPresentableMessage": e.message}})
        })
        .collect();
    json!({"data": null, "errors": errors})
}

impl Shared {
    fn respond(
        &self,
        method: &http::Method,
        authorization: &str,
        body: &[u8],
    ) -> (u16, Value, Option<Duration>) {
        let mut state = self.lock();
        let parsed: Result<Value, _> = serde_json::from_slice(body);
        let operation = parsed
            .as_ref()
            .ok()
            .and_then(|v| v["operationName"].as_str())
            .unwrap_or("?")
            .to_owned();
        let variables = parsed
            .as_ref()
            .ok()
            .map(|v| v["variables"].clone())
            .unwrap_or(Value::Null);
        let record = |state: &mut State, fields: Vec<String>, status: u16| {
            state.requests.push(Recorded {
                operation: operation.clone(),
                fields,
                variables: variables.clone(),
                status,
            });
        };
        if method != http::Method::POST {
            state
                .violations
                .push(format!("{method}: Linear's API takes POST only"));
            record(&mut state, vec![], 405);
            return (405, json!({}), None);
        }
        if authorization != API_KEY && authorization != format!("Bearer {OAUTH_TOKEN}") {
            record(&mut state, vec![], 401);
            let answer = json!({"errors": [{"message": "Authentication required, not authenticated",
                "extensions": {"code": "AUTHENTICATION_ERROR", "type": "authentication error"}}]});
            return (401, answer, None);
        }
        let Ok(request) = parsed else {
            state.violations.push("a body that is not JSON".into());
            record(&mut state, vec![], 400);
            return (400, errors(&[GqlError::invalid("Body is not JSON")]), None);
        };
        let query = request["query"].as_str().unwrap_or_default();
        let checked = match self.schema.check(
            query,
            request["operationName"].as_str(),
            &request["variables"],
        ) {
            Ok(checked) => checked,
            Err(why) => {
                state
                    .violations
                    .push(format!("{operation}: refused by Linear's schema: {why}"));
                record(&mut state, vec![], 400);
                let answer = json!({"errors": [{"message": why,
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]});
                return (400, answer, None);
            }
        };
        let fields: Vec<String> = checked.fields.iter().map(|f| f.name.clone()).collect();
        let mut lost = None;
        if let Some(injection) = state
            .faults
            .iter_mut()
            .find(|f| f.remaining > 0 && (f.operation == "*" || f.operation == operation))
        {
            injection.remaining -= 1;
            match injection.fault.clone() {
                Fault::Status(status) => {
                    record(&mut state, fields, status);
                    return (
                        status,
                        json!({"errors": [{"message": "Service unavailable"}]}),
                        None,
                    );
                }
                Fault::RateLimited => {
                    record(&mut state, fields, 400);
                    let answer = json!({"errors": [{"message": "Rate limit exceeded",
                        "extensions": {"code": "RATELIMITED"}}]});
                    return (400, answer, None);
                }
                Fault::LostResponse(wait) => lost = Some(wait),
            }
        }
        let answer = self.execute(&mut state, &checked);
        record(&mut state, fields, 200);
        (200, answer, lost)
    }

    /// Runs each root field; any error makes the whole answer an error (as mutations here are one
    /// field each, that is what Linear does too).
    fn execute(&self, state: &mut State, request: &CheckedRequest) -> Value {
        let mut data = Map::new();
        let mut failures = Vec::new();
        for field in &request.fields {
            match self.field(state, field) {
                Ok(value) => {
                    data.insert(field.key.clone(), project(&value, &field.selection));
                }
                Err(e) => failures.push(e),
            }
        }
        if failures.is_empty() {
            json!({ "data": data })
        } else {
            errors(&failures)
        }
    }

    fn field(&self, state: &mut State, field: &RootField) -> Result<Value, GqlError> {
        let args = &field.arguments;
        let not_modelled = |state: &mut State, what: String| {
            state
                .violations
                .push(format!("{}: not modelled by the fake: {what}", field.name));
            GqlError::invalid(format!("not modelled: {what}"))
        };
        match field.name.as_str() {
            "viewer" => Ok(json!({"id": VIEWER_ID, "name": "scantix", "displayName": "scantix"})),
            "users" => {
                // `or` of case-insensitive equalities on email, name and display name: what the
                // tracker asks; anything else is reported as not modelled.
                let Some(clauses) = args["filter"]["or"].as_array() else {
                    return Err(not_modelled(state, format!("filter {}", args["filter"])));
                };
                let mut wanted = Vec::new();
                for clause in clauses {
                    let Some((field, comparator)) = clause
                        .as_object()
                        .and_then(|o| (o.len() == 1).then(|| o.iter().next()).flatten())
                    else {
                        return Err(not_modelled(state, format!("clause {clause}")));
                    };
                    let Some(value) = comparator["eqIgnoreCase"].as_str() else {
                        return Err(not_modelled(state, format!("comparator {comparator}")));
                    };
                    wanted.push((field.clone(), value.to_lowercase()));
                }
                let first = args["first"].as_u64().unwrap_or(50) as usize;
                let nodes: Vec<Value> = USERS
                    .iter()
                    .filter(|(_, name, display, email)| {
                        wanted.iter().any(|(field, value)| {
                            let have = match field.as_str() {
                                "email" => email,
                                "name" => name,
                                "displayName" => display,
                                _ => return false,
                            };
                            have.to_lowercase() == *value
                        })
                    })
                    .take(first)
                    .map(|(id, name, display, email)| {
                        json!({"id": id, "name": name, "displayName": display, "email": email})
                    })
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "teams" => {
                let key = &args["filter"]["key"]["eq"];
                if key.is_null() {
                    return Err(not_modelled(state, format!("filter {}", args["filter"])));
                }
                let nodes: Vec<Value> = (key == TEAM_KEY)
                    .then(|| {
                        let states: Vec<Value> = state.states.iter().map(state_json).collect();
                        json!({"id": TEAM_ID, "key": TEAM_KEY, "name": "Security",
                               "states": {"nodes": states}})
                    })
                    .into_iter()
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "issueLabels" => {
                let Some(names) = args["filter"]["name"]["in"].as_array() else {
                    return Err(not_modelled(state, format!("filter {}", args["filter"])));
                };
                let nodes: Vec<Value> = state
                    .labels
                    .iter()
                    .filter(|l| names.iter().any(|n| n.as_str() == Some(l.name.as_str())))
                    .map(|l| {
                        json!({"id": l.id, "name": l.name,
                                    "team": l.team.as_ref().map(|t| json!({"id": t}))})
                    })
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "issueLabelCreate" => {
                let input = &args["input"];
                let name = input["name"].as_str().unwrap_or_default().to_owned();
                let team = input["teamId"].as_str().map(str::to_owned);
                if team.as_deref().is_some_and(|t| t != TEAM_ID) {
                    return Err(GqlError::not_found("Team"));
                }
                if state
                    .labels
                    .iter()
                    .any(|l| l.team == team && l.name.eq_ignore_ascii_case(&name))
                {
                    return Err(GqlError::invalid("Duplicate label name"));
                }
                let id = state.new_id();
                state.labels.push(Label {
                    id: id.clone(),
                    name: name.clone(),
                    team,
                });
                Ok(json!({"success": true, "issueLabel": {"id": id, "name": name}}))
            }
            "attachmentsForURL" => {
                let url = args["url"].as_str().unwrap_or_default();
                let archived = args["includeArchived"].as_bool().unwrap_or(false);
                let nodes: Vec<Value> = state
                    .attachments
                    .iter()
                    .filter(|a| a.url == url)
                    .filter_map(|a| {
                        let issue = state.issues.iter().find(|i| i.id == a.issue)?;
                        (archived || !issue.trashed).then(|| {
                            json!({"id": a.id, "url": a.url, "title": a.title,
                                   "subtitle": a.subtitle, "issue": state.issue_json(issue)})
                        })
                    })
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "issues" => {
                let ids: Vec<&str> = match &args["filter"]["id"] {
                    Value::Object(c) if c.contains_key("in") => c["in"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default(),
                    _ => return Err(not_modelled(state, format!("filter {}", args["filter"]))),
                };
                let archived = args["includeArchived"].as_bool().unwrap_or(false);
                let nodes: Vec<Value> = state
                    .issues
                    .iter()
                    .filter(|i| ids.contains(&i.id.as_str()) && (archived || !i.trashed))
                    .map(|i| state.issue_json(i))
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "issueCreate" => {
                let input = &args["input"];
                if input["teamId"] != TEAM_ID {
                    return Err(GqlError::not_found("Team"));
                }
                for key in input
                    .as_object()
                    .map(|m| m.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    if ![
                        "id",
                        "teamId",
                        "title",
                        "description",
                        "priority",
                        "labelIds",
                        "dueDate",
                        "stateId",
                    ]
                    .contains(&key.as_str())
                    {
                        return Err(not_modelled(state, format!("input.{key}")));
                    }
                }
                let id = match input["id"].as_str() {
                    Some(id) if state.issues.iter().any(|i| i.id == id) => {
                        return Err(GqlError::invalid("Entity with this id already exists"));
                    }
                    Some(id) => id.to_owned(),
                    None => state.new_id(),
                };
                let labels = label_ids(state, &input["labelIds"])?;
                let state_index = match input["stateId"].as_str() {
                    Some(sid) => state
                        .states
                        .iter()
                        .position(|s| s.id == sid)
                        .ok_or_else(|| GqlError::not_found("WorkflowState"))?,
                    // The team's default for new issues: its first unstarted state.
                    None => state
                        .states
                        .iter()
                        .position(|s| s.kind == "unstarted")
                        .unwrap_or(0),
                };
                let now = Utc::now().to_rfc3339();
                let number = state.issues.len() as u64 + 1;
                let issue = Issue {
                    id,
                    number,
                    title: input["title"].as_str().unwrap_or_default().to_owned(),
                    description: input["description"].as_str().map(str::to_owned),
                    priority: input["priority"].as_i64().unwrap_or(0),
                    due_date: input["dueDate"].as_str().map(str::to_owned),
                    state: state_index,
                    labels,
                    trashed: false,
                    assignee: None,
                    created_at: now.clone(),
                    updated_at: now,
                };
                let json = state.issue_json(&issue);
                state.issues.push(issue);
                Ok(json!({"success": true, "lastSyncId": 1.0, "issue": json}))
            }
            "attachmentCreate" => {
                let input = &args["input"];
                let issue = input["issueId"].as_str().unwrap_or_default();
                let index = state
                    .issue_index(issue)
                    .ok_or_else(|| GqlError::not_found("Issue"))?;
                let issue = state.issues[index].id.clone();
                let url = input["url"].as_str().unwrap_or_default().to_owned();
                let title = input["title"].as_str().unwrap_or_default().to_owned();
                let subtitle = input["subtitle"].as_str().map(str::to_owned);
                let id = match state
                    .attachments
                    .iter_mut()
                    .find(|a| a.issue == issue && a.url == url)
                {
                    // Linear: "If another attachment is created with the same url value, existing
                    // record is updated instead."
                    Some(existing) => {
                        existing.title = title;
                        existing.subtitle = subtitle;
                        existing.id.clone()
                    }
                    None => {
                        let id = state.new_id();
                        state.attachments.push(Attachment {
                            id: id.clone(),
                            issue,
                            url: url.clone(),
                            title,
                            subtitle,
                        });
                        id
                    }
                };
                Ok(json!({"success": true, "attachment": {"id": id, "url": url}}))
            }
            "issue" => {
                let key = args["id"].as_str().unwrap_or_default();
                let index = state
                    .issue_index(key)
                    .ok_or_else(|| GqlError::not_found("Issue"))?;
                Ok(state.issue_json(&state.issues[index]))
            }
            "issueUpdate" => {
                let key = args["id"].as_str().unwrap_or_default();
                let index = state
                    .issue_index(key)
                    .ok_or_else(|| GqlError::not_found("Issue"))?;
                let input = args["input"].as_object().cloned().unwrap_or_default();
                let mut issue = state.issues[index].clone();
                for (key, value) in &input {
                    match key.as_str() {
                        "title" => issue.title = value.as_str().unwrap_or_default().into(),
                        "description" => issue.description = value.as_str().map(str::to_owned),
                        "priority" => issue.priority = value.as_i64().unwrap_or(0),
                        "dueDate" => issue.due_date = value.as_str().map(str::to_owned),
                        "stateId" => {
                            let sid = value.as_str().unwrap_or_default();
                            issue.state = state
                                .states
                                .iter()
                                .position(|s| s.id == sid)
                                .ok_or_else(|| GqlError::not_found("WorkflowState"))?;
                        }
                        "labelIds" => issue.labels = label_ids(state, value)?,
                        "assigneeId" => {
                            issue.assignee = match value.as_str() {
                                None => None,
                                Some(id) if USERS.iter().any(|u| u.0 == id) => Some(id.into()),
                                Some(_) => return Err(GqlError::not_found("User")),
                            }
                        }
                        "addedLabelIds" => {
                            for id in label_ids(state, value)? {
                                if !issue.labels.contains(&id) {
                                    issue.labels.push(id);
                                }
                            }
                        }
                        "removedLabelIds" => {
                            let gone = label_ids(state, value)?;
                            issue.labels.retain(|l| !gone.contains(l));
                        }
                        other => return Err(not_modelled(state, format!("input.{other}"))),
                    }
                }
                issue.updated_at = Utc::now().to_rfc3339();
                let json = state.issue_json(&issue);
                state.issues[index] = issue;
                Ok(json!({"success": true, "lastSyncId": 2.0, "issue": json}))
            }
            "comments" => {
                let Some(id) = args["filter"]["id"]["eq"].as_str() else {
                    return Err(not_modelled(state, format!("filter {}", args["filter"])));
                };
                let nodes: Vec<Value> = state
                    .comments
                    .iter()
                    .filter(|c| c.id == id)
                    .map(|c| json!({"id": c.id, "body": c.body}))
                    .collect();
                Ok(json!({ "nodes": nodes }))
            }
            "commentCreate" => {
                let input = &args["input"];
                let key = input["issueId"].as_str().unwrap_or_default();
                let index = state
                    .issue_index(key)
                    .ok_or_else(|| GqlError::not_found("Issue"))?;
                let issue = state.issues[index].id.clone();
                let id = match input["id"].as_str() {
                    Some(id) if state.comments.iter().any(|c| c.id == id) => {
                        return Err(GqlError::invalid("Entity with this id already exists"));
                    }
                    Some(id) => id.to_owned(),
                    None => state.new_id(),
                };
                let body = input["body"].as_str().unwrap_or_default().to_owned();
                state.comments.push(Comment {
                    id: id.clone(),
                    issue,
                    body: body.clone(),
                });
                Ok(json!({"success": true, "comment": {"id": id, "body": body}}))
            }
            other => Err(not_modelled(state, format!("root field {other}"))),
        }
    }
}

/// Label ids from a list, each checked to exist.
fn label_ids(state: &State, value: &Value) -> Result<Vec<String>, GqlError> {
    let mut out = Vec::new();
    for id in value.as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or_default();
        if !state.labels.iter().any(|l| l.id == id) {
            return Err(GqlError::not_found("IssueLabel"));
        }
        out.push(id.to_owned());
    }
    Ok(out)
}
