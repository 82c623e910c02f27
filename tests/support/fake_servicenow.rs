//! An in-process fake ServiceNow on a free local port, for testing the ServiceNow tracker adapter
//! against something that refuses what the Table API refuses, and for making the deliveries
//! scantix's business rule would post.
//!
//! # What it checks
//! Every request is checked against the Table API as ServiceNow documents it ("Table API", REST
//! API reference, release Australia, `markdown/api-reference/rest-apis/c_TableAPI.md` in the
//! `ServiceNow/ServiceNowDocs` repository, read 2026-12-03), written down in [`ENDPOINTS`]:
//! - the path: `/api/now/table/{tableName}` or `/api/now/table/{tableName}/{sys_id}` (and
//!   `/oauth_token.do`, the OAuth token endpoint), with the method each documents (GET and POST on
//!   a table; GET, PATCH, PUT and DELETE on a record);
//! - the query parameters each method documents, by name (`sysparm_*`); any other is refused;
//! - `Accept` is `application/json` where sent, a body is a JSON object of field name → string
//!   (the API's name-value pairs; `sys_` fields are generated and refused here), naming fields of
//!   the table (the incident fields of the documented example records, plus the journal and close
//!   fields of the task table the docs' PATCH example sets);
//! - `sysparm_query` in the subset the adapter may use: `field=value`, `fieldLIKEvalue` joined by
//!   `^`, `ORDERBY<field>` / `ORDERBYDESC<field>`; `sysparm_fields` naming fields of the table.
//!
//! [`FakeServiceNow::violations`] lists requests refused as wrong on any instance (answered 400);
//! refusals a correct client must handle (bad credentials, an unknown record, a data policy) are
//! answered as ServiceNow answers them and are not violations.
//!
//! # Behaviour
//! Records of the `incident` table with ServiceNow's numbering (`INC0010001`…), `sys_mod_count`,
//! journal fields that append entries to `sys_journal_field` (readable through the Table API as
//! ServiceNow's is), the incident data policy (resolving needs `close_code` and `close_notes`), and
//! closed records (state 7) that keep their state. Basic auth or an OAuth bearer token got with the
//! client credentials grant. Faults: a create whose answer is lost (the record is made, a 502
//! comes back), 5xx and rate limits on the next requests.
//!
//! # Not modelled
//! ACLs and roles beyond the one account, display values (`sysparm_display_value=true` answers
//! actual values), reference links, paging beyond `sysparm_limit`, any encoded query operator
//! beyond the subset, business rules other than scantix's delivery (see [`FakeServiceNow::delivery`]),
//! and XML.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::task::JoinHandle;

/// The Basic user the fake accepts, and whom deliveries of scantix's own changes name.
pub const USER: &str = "scantix.integration";
/// The Basic password.
pub const PASSWORD: &str = "fake-servicenow-password";
/// The OAuth client id and secret the token endpoint accepts.
pub const CLIENT_ID: &str = "fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret";

/// The query parameters each endpoint documents (the source is in the module doc).
pub const ENDPOINTS: &[(&str, Target, &[&str])] = &[
    (
        "GET",
        Target::Table,
        &[
            "sysparm_display_value",
            "sysparm_exclude_reference_link",
            "sysparm_fields",
            "sysparm_limit",
            "sysparm_no_count",
            "sysparm_offset",
            "sysparm_query",
            "sysparm_query_category",
            "sysparm_query_no_domain",
            "sysparm_suppress_pagination_header",
            "sysparm_view",
        ],
    ),
    (
        "POST",
        Target::Table,
        &[
            "sysparm_display_value",
            "sysparm_exclude_reference_link",
            "sysparm_fields",
            "sysparm_input_display_value",
            "sysparm_view",
        ],
    ),
    (
        "GET",
        Target::Record,
        &[
            "sysparm_display_value",
            "sysparm_exclude_reference_link",
            "sysparm_fields",
            "sysparm_query_no_domain",
            "sysparm_view",
        ],
    ),
    (
        "PATCH",
        Target::Record,
        &[
            "sysparm_display_value",
            "sysparm_fields",
            "sysparm_input_display_value",
            "sysparm_query_no_domain",
            "sysparm_view",
        ],
    ),
    (
        "PUT",
        Target::Record,
        &[
            "sysparm_display_value",
            "sysparm_fields",
            "sysparm_input_display_value",
            "sysparm_query_no_domain",
            "sysparm_view",
        ],
    ),
    ("DELETE", Target::Record, &["sysparm_query_no_domain"]),
];

/// What a Table API path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Table,
    Record,
}

/// The incident fields: those of the documented example records, with the task fields the docs'
/// examples write (`work_notes`, `comments`, `close_code`, `close_notes`).
const INCIDENT_FIELDS: &[&str] = &[
    "active",
    "activity_due",
    "additional_assignee_list",
    "approval",
    "approval_history",
    "approval_set",
    "assigned_to",
    "assignment_group",
    "business_duration",
    "business_service",
    "business_stc",
    "calendar_duration",
    "calendar_stc",
    "caller_id",
    "category",
    "caused_by",
    "child_incidents",
    "close_code",
    "close_notes",
    "closed_at",
    "closed_by",
    "cmdb_ci",
    "comments",
    "comments_and_work_notes",
    "company",
    "contact_type",
    "correlation_display",
    "correlation_id",
    "delivery_plan",
    "delivery_task",
    "description",
    "due_date",
    "escalation",
    "expected_start",
    "follow_up",
    "group_list",
    "impact",
    "incident_state",
    "knowledge",
    "location",
    "made_sla",
    "notify",
    "number",
    "opened_at",
    "opened_by",
    "order",
    "parent",
    "parent_incident",
    "priority",
    "problem_id",
    "reassignment_count",
    "rejection_goto",
    "reopen_count",
    "resolved_at",
    "resolved_by",
    "rfc",
    "severity",
    "short_description",
    "sla_due",
    "state",
    "subcategory",
    "sys_class_name",
    "sys_created_by",
    "sys_created_on",
    "sys_domain",
    "sys_domain_path",
    "sys_id",
    "sys_mod_count",
    "sys_tags",
    "sys_updated_by",
    "sys_updated_on",
    "time_worked",
    "upon_approval",
    "upon_reject",
    "urgency",
    "user_input",
    "watch_list",
    "wf_activity",
    "work_end",
    "work_notes",
    "work_notes_list",
    "work_start",
];

/// `sys_journal_field`: one entry of a journal field.
const JOURNAL_FIELDS: &[&str] = &[
    "element",
    "element_id",
    "name",
    "sys_created_by",
    "sys_created_on",
    "sys_id",
    "value",
];

/// `sys_user`: the fields the user search reads and matches on.
const USER_FIELDS: &[&str] = &["sys_id", "user_name", "email", "name", "active"];

/// The instance's users besides the integration account: (sys_id, user_name, email, name), the
/// demo data's Beth Anglin and Abel Tuter, and two accounts sharing an email as a merged
/// directory may leave them.
pub const USERS: [(&str, &str, &str, &str); 4] = [
    (
        "681b365ec0a80164000fb0b05854a0cd",
        "beth.anglin",
        "beth.anglin@example.com",
        "Beth Anglin",
    ),
    (
        "62826bf03710200044e0bfc8bcbe5df1",
        "abel.tuter",
        "abel.tuter@example.com",
        "Abel Tuter",
    ),
    (
        "5137153cc611227c000bbd1bd8cd2005",
        "fred.luddy",
        "fred@example.com",
        "Fred Luddy",
    ),
    (
        "5137153cc611227c000bbd1bd8cd2006",
        "fred.luddy2",
        "fred@example.com",
        "Fred Luddy",
    ),
];

/// Journal fields: setting one appends an entry.
const JOURNALS: &[&str] = &["work_notes", "comments"];

/// One request as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// Faults to inject.
#[derive(Debug, Default, Clone)]
struct Faults {
    /// The next creates take effect, then answer 502 (the answer is lost).
    lose_create_answers: u32,
    /// The next updates take effect, then answer 502.
    lose_patch_answers: u32,
    /// The next requests answer this status (500, 503, 429) without effect.
    fail_next: Vec<u16>,
}

#[derive(Default)]
struct Data {
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    records: BTreeMap<String, Map<String, Value>>,
    journal: Vec<Map<String, Value>>,
    next_number: u32,
    next_id: u64,
    tokens: Vec<String>,
    faults: Faults,
}

struct Shared {
    base_url: String,
    data: Mutex<Data>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The fake instance; stops when dropped.
pub struct FakeServiceNow {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeServiceNow {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeServiceNow {
    pub async fn start() -> FakeServiceNow {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a local port for the fake ServiceNow");
        let address = listener
            .local_addr()
            .expect("the fake ServiceNow's address");
        let shared = Arc::new(Shared {
            base_url: format!("http://{address}"),
            data: Mutex::new(Data {
                next_number: 10001,
                ..Data::default()
            }),
        });
        let app = Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeServiceNow { shared, server }
    }

    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// How many requests match `method` and `path` (`*` matches one segment).
    pub fn count(&self, method: &str, path: &str) -> usize {
        let wanted: Vec<&str> = path.split('/').collect();
        self.requests()
            .iter()
            .filter(|r| r.method == method)
            .filter(|r| {
                let got: Vec<&str> = r.path.split('/').collect();
                got.len() == wanted.len()
                    && got.iter().zip(&wanted).all(|(g, w)| *w == "*" || g == w)
            })
            .count()
    }

    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    #[track_caller]
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "Table API violations: {violations:#?}"
        );
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> Vec<Map<String, Value>> {
        let data = self.shared.lock();
        let mut all: Vec<Map<String, Value>> = data.records.values().cloned().collect();
        all.sort_by_key(|r| r.get("number").and_then(Value::as_str).map(str::to_owned));
        all
    }

    pub fn incident(&self, sys_id: &str) -> Option<Map<String, Value>> {
        self.shared.lock().records.get(sys_id).cloned()
    }

    /// The journal entries of `field` on a record, oldest first.
    pub fn journal(&self, sys_id: &str, field: &str) -> Vec<String> {
        self.shared
            .lock()
            .journal
            .iter()
            .filter(|e| e["element_id"] == json!(sys_id) && e["element"] == json!(field))
            .map(|e| e["value"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The next `n` creates take effect but their answers are lost (a 502).
    pub fn lose_create_answers(&self, n: u32) {
        self.shared.lock().faults.lose_create_answers = n;
    }

    /// The next `n` updates take effect but their answers are lost (a 502).
    pub fn lose_patch_answers(&self, n: u32) {
        self.shared.lock().faults.lose_patch_answers = n;
    }

    /// The next requests answer these statuses, in order, without effect.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared.lock().faults.fail_next = statuses.to_vec();
    }

    /// A person (`user_name`) changes fields of a record in the UI, as ServiceNow would store it.
    pub fn person_sets(&self, sys_id: &str, user_name: &str, fields: &[(&str, &str)]) {
        let mut data = self.shared.lock();
        let Data {
            records, journal, ..
        } = &mut *data;
        let record = records.get_mut(sys_id).expect("the record exists");
        for (name, value) in fields {
            if JOURNALS.contains(name) {
                journal.push(journal_entry(sys_id, name, value, user_name));
            } else {
                record.insert((*name).into(), json!(value));
            }
        }
        bump(record, user_name);
    }

    /// A person deletes a record.
    pub fn person_deletes(&self, sys_id: &str) {
        self.shared.lock().records.remove(sys_id);
    }

    /// The body scantix's business rule (`infra/servicenow/scantix-business-rule.js`) posts for
    /// the record's last change, made by `user_name`, and its delivery id; the record as the fake
    /// holds it. `event` is `updated`, `commented` or `deleted`.
    pub fn delivery(
        &self,
        sys_id: &str,
        event: &str,
        user_name: &str,
        assignee_changed: bool,
    ) -> (String, Vec<u8>) {
        let data = self.shared.lock();
        let record = data.records.get(sys_id).cloned().unwrap_or_default();
        let field = |name: &str| {
            record
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mod_count = match event {
            "deleted" => "deleted".to_owned(),
            _ => field("sys_mod_count"),
        };
        let delivery = format!("{sys_id}:{mod_count}");
        let comment = data
            .journal
            .iter()
            .rev()
            .find(|e| e["element_id"] == json!(sys_id))
            .and_then(|e| e["value"].as_str())
            .unwrap_or_default()
            .to_owned();
        let state = field("state");
        let comment = if event == "commented" {
            comment
        } else {
            String::new()
        };
        let display_name = if user_name == USER {
            "scantix integration"
        } else {
            "Abel Tuter"
        };
        let body = json!({
            "delivery": delivery,
            "event": event,
            "table": "incident",
            "sys_id": sys_id,
            "number": field("number"),
            "state": state,
            "state_name": state_name(&state),
            "close_code": field("close_code"),
            "assigned_to_changed": assignee_changed,
            "assigned_to": field("assigned_to"),
            "comment": comment,
            "actor": { "user_name": user_name, "display_name": display_name },
        });
        (delivery, serde_json::to_vec(&body).expect("a JSON body"))
    }
}

fn state_name(value: &str) -> &'static str {
    match value {
        "1" => "New",
        "2" => "In Progress",
        "3" => "On Hold",
        "6" => "Resolved",
        "7" => "Closed",
        "8" => "Canceled",
        _ => "",
    }
}

fn journal_entry(sys_id: &str, field: &str, value: &str, user: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("element_id".into(), json!(sys_id));
    entry.insert("element".into(), json!(field));
    entry.insert("name".into(), json!("incident"));
    entry.insert("value".into(), json!(value));
    entry.insert("sys_created_by".into(), json!(user));
    entry
}

fn bump(record: &mut Map<String, Value>, user: &str) {
    let count: u64 = record
        .get("sys_mod_count")
        .and_then(Value::as_str)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    record.insert("sys_mod_count".into(), json!((count + 1).to_string()));
    record.insert("sys_updated_by".into(), json!(user));
}

fn answer(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn error(status: u16, message: &str, detail: &str) -> Response {
    answer(
        status,
        json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

async fn serve(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut data = shared.lock();
    let parsed_body: Option<Value> = serde_json::from_slice(&bytes).ok();
    data.requests.push(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: parsed_body.clone(),
    });
    let violation = |data: &mut Data, what: String| {
        data.violations.push(format!("{method} {path}: {what}"));
        error(400, "Invalid request", &what)
    };

    if path == "/oauth_token.do" {
        if method != "POST" {
            return violation(&mut data, "the token endpoint takes POST".into());
        }
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
            && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
        if !ok {
            return answer(
                401,
                json!({"error_description": "access_denied", "error": "server_error"}),
            );
        }
        data.next_id += 1;
        let token = format!("token-{}", data.next_id);
        data.tokens.push(token.clone());
        return answer(
            200,
            json!({"access_token": token, "scope": "useraccount", "token_type": "Bearer", "expires_in": 1799}),
        );
    }

    // The shape, before anything else.
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (table, sys_id) = match segments.as_slice() {
        ["api", "now", "table", table] => (table.to_string(), None),
        ["api", "now", "table", table, sys_id] => (table.to_string(), Some(sys_id.to_string())),
        _ => return violation(&mut data, "not a Table API path".into()),
    };
    let target = if sys_id.is_some() {
        Target::Record
    } else {
        Target::Table
    };
    let Some((_, _, allowed)) = ENDPOINTS
        .iter()
        .find(|(m, t, _)| *m == method && *t == target)
    else {
        return violation(&mut data, format!("no {method} on a {target:?} path"));
    };
    for (name, _) in &query {
        if !allowed.contains(&name.as_str()) {
            return violation(
                &mut data,
                format!("query parameter `{name}` is not documented here"),
            );
        }
    }
    if let Some(accept) = header("accept")
        && !accept.contains("application/json")
    {
        return violation(&mut data, format!("Accept is {accept}"));
    }
    let fields: &[&str] = match table.as_str() {
        "incident" => INCIDENT_FIELDS,
        "sys_journal_field" => JOURNAL_FIELDS,
        "sys_user" => USER_FIELDS,
        other => return error(400, &format!("Invalid table {other}"), ""),
    };
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(asked) = param("sysparm_fields") {
        for field in asked.split(',') {
            if !fields.contains(&field.trim()) {
                return violation(
                    &mut data,
                    format!(
                        "sysparm_fields names `{field}`, not a field of {table} (ServiceNow would ignore it)"
                    ),
                );
            }
        }
    }
    let body_fields = if matches!(method.as_str(), "POST" | "PATCH" | "PUT") {
        if header("content-type").is_none_or(|c| !c.contains("application/json")) {
            return violation(&mut data, "the body is not application/json".into());
        }
        let Some(Value::Object(body)) = parsed_body else {
            return violation(&mut data, "the body is not a JSON object".into());
        };
        for (name, value) in &body {
            if !fields.contains(&name.as_str()) {
                return violation(&mut data, format!("`{name}` is not a field of {table}"));
            }
            if name.starts_with("sys_") {
                return violation(&mut data, format!("`{name}` is generated by the system"));
            }
            if !value.is_string() {
                return violation(&mut data, format!("`{name}` is not a string: {value}"));
            }
        }
        body
    } else {
        Map::new()
    };

    // Credentials.
    let authorized = match header("authorization") {
        Some(value) if value.starts_with("Basic ") => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(value.trim_start_matches("Basic "))
                .ok()
                .is_some_and(|raw| raw == format!("{USER}:{PASSWORD}").as_bytes())
        }
        Some(value) if value.starts_with("Bearer ") => {
            data.tokens.iter().any(|t| value == format!("Bearer {t}"))
        }
        _ => false,
    };
    if !authorized {
        return error(
            401,
            "User Not Authenticated",
            "Required to provide Auth information",
        );
    }
    if !data.faults.fail_next.is_empty() {
        let status = data.faults.fail_next.remove(0);
        return match status {
            429 => Response::builder()
                .status(429)
                .header("retry-after", "0")
                .body(Body::from(
                    json!({"error": {"message": "Too many requests"}}).to_string(),
                ))
                .unwrap_or_default(),
            status => error(status, "Server error", ""),
        };
    }

    let pick = |record: &Map<String, Value>| -> Value {
        match param("sysparm_fields") {
            Some(asked) => Value::Object(
                asked
                    .split(',')
                    .map(|f| {
                        (
                            f.trim().to_owned(),
                            record.get(f.trim()).cloned().unwrap_or(json!("")),
                        )
                    })
                    .collect(),
            ),
            None => Value::Object(record.clone()),
        }
    };

    match (method.as_str(), table.as_str(), sys_id) {
        ("GET", _, None) => {
            let conditions = match parse_query(&param("sysparm_query").unwrap_or_default(), fields)
            {
                Ok(c) => c,
                Err(why) => return violation(&mut data, why),
            };
            let rows: Vec<Map<String, Value>> = match table.as_str() {
                "incident" => data.records.values().cloned().collect(),
                "sys_user" => USERS
                    .iter()
                    .map(|(sys_id, user_name, email, name)| {
                        let row = json!({"sys_id": sys_id, "user_name": user_name,
                                         "email": email, "name": name, "active": "true"});
                        row.as_object().cloned().unwrap_or_default()
                    })
                    .collect(),
                _ => data.journal.clone(),
            };
            let mut rows: Vec<Map<String, Value>> =
                rows.into_iter().filter(|r| conditions.matches(r)).collect();
            if let Some(order) = &conditions.order {
                rows.sort_by_key(|r| r.get(order).and_then(Value::as_str).map(str::to_owned));
            }
            let limit = param("sysparm_limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(10_000);
            let result: Vec<Value> = rows.iter().take(limit).map(pick).collect();
            answer(200, json!({ "result": result }))
        }
        ("POST", "incident", None) => {
            data.next_id += 1;
            let sys_id = format!(
                "{:032x}",
                0x5137_153c_c611_227c_000b_bd1b_d8cd_0000_u128 + u128::from(data.next_id)
            );
            let number = format!("INC{:07}", data.next_number);
            data.next_number += 1;
            let mut record = Map::new();
            for field in INCIDENT_FIELDS {
                record.insert((*field).into(), json!(""));
            }
            record.insert("sys_id".into(), json!(sys_id));
            record.insert("number".into(), json!(number));
            record.insert("state".into(), json!("1"));
            record.insert("sys_mod_count".into(), json!("0"));
            record.insert("sys_created_by".into(), json!(USER));
            record.insert(
                "sys_created_on".into(),
                json!(format!(
                    "2026-12-03 19:{:02}:{:02}",
                    data.next_id / 60 % 60,
                    data.next_id % 60
                )),
            );
            for (name, value) in body_fields {
                record.insert(name, value);
            }
            let shown = pick(&record);
            data.records.insert(sys_id, record);
            if data.faults.lose_create_answers > 0 {
                data.faults.lose_create_answers -= 1;
                return error(502, "Bad Gateway", "");
            }
            answer(201, json!({ "result": shown }))
        }
        ("GET", "incident", Some(sys_id)) => match data.records.get(&sys_id) {
            Some(record) => answer(200, json!({ "result": pick(record) })),
            None => error(
                404,
                "No Record found",
                "Record doesn't exist or ACL restricts the record retrieval",
            ),
        },
        ("PATCH" | "PUT", "incident", Some(sys_id)) => {
            let Data {
                records, journal, ..
            } = &mut *data;
            let Some(record) = records.get_mut(&sys_id) else {
                return error(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                );
            };
            let wanted_state = body_fields.get("state").and_then(Value::as_str);
            if matches!(wanted_state, Some("6" | "7")) {
                let filled = |f: &str| {
                    body_fields
                        .get(f)
                        .or_else(|| record.get(f))
                        .and_then(Value::as_str)
                        .is_some_and(|v| !v.trim().is_empty())
                };
                if !filled("close_code") || !filled("close_notes") {
                    return error(
                        403,
                        "Operation Failed",
                        "Data Policy Exception: \n\tThe following fields are mandatory: Resolution code, Resolution notes\n",
                    );
                }
            }
            let closed = record.get("state") == Some(&json!("7"));
            for (name, value) in body_fields {
                if JOURNALS.contains(&name.as_str()) {
                    journal.push(journal_entry(
                        &sys_id,
                        &name,
                        value.as_str().unwrap_or_default(),
                        USER,
                    ));
                } else if name == "state" && closed {
                    // A closed incident is final: its state does not move.
                } else {
                    record.insert(name, value);
                }
            }
            bump(record, USER);
            let shown = pick(record);
            if data.faults.lose_patch_answers > 0 {
                data.faults.lose_patch_answers -= 1;
                return error(502, "Bad Gateway", "");
            }
            answer(200, json!({ "result": shown }))
        }
        ("DELETE", "incident", Some(sys_id)) => match data.records.remove(&sys_id) {
            Some(_) => Response::builder()
                .status(204)
                .body(Body::empty())
                .unwrap_or_default(),
            None => error(404, "No Record found", ""),
        },
        (method, table, _) => {
            let what = format!("{method} on {table} is not modelled");
            violation(&mut data, what)
        }
    }
}

/// An encoded query in the subset the fake understands.
#[derive(Debug, Default)]
struct Conditions {
    equal: Vec<(String, String)>,
    like: Vec<(String, String)>,
    order: Option<String>,
}

impl Conditions {
    fn matches(&self, row: &Map<String, Value>) -> bool {
        let value = |f: &str| {
            row.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        self.equal.iter().all(|(f, v)| value(f) == *v)
            && self.like.iter().all(|(f, v)| value(f).contains(v.as_str()))
    }
}

fn parse_query(query: &str, fields: &[&str]) -> Result<Conditions, String> {
    let mut out = Conditions::default();
    if query.is_empty() {
        return Ok(out);
    }
    for part in query.split('^') {
        let known = |f: &str| {
            if fields.contains(&f) {
                Ok(f.to_owned())
            } else {
                Err(format!("sysparm_query names `{f}`, not a field"))
            }
        };
        if let Some(field) = part.strip_prefix("ORDERBYDESC") {
            out.order = Some(known(field)?);
        } else if let Some(field) = part.strip_prefix("ORDERBY") {
            out.order = Some(known(field)?);
        } else if let Some((field, value)) = part.split_once("LIKE")
            && fields.contains(&field)
        {
            out.like.push((field.to_owned(), value.to_owned()));
        } else if let Some((field, value)) = part.split_once('=') {
            if value.contains('=')
                || field.ends_with('!')
                || field.ends_with('<')
                || field.ends_with('>')
            {
                return Err(format!(
                    "sysparm_query `{part}` is beyond the subset modelled"
                ));
            }
            out.equal.push((known(field)?, value.to_owned()));
        } else {
            return Err(format!(
                "sysparm_query `{part}` is beyond the subset modelled"
            ));
        }
    }
    Ok(out)
}
