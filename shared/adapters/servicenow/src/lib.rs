//! The ServiceNow adapter: tickets as records of a task table (`incident` by default) through the
//! Table API (`/api/now/table/{table}`), behind the `Tracker` port. Not here: what the table's
//! state values mean (`scantix_core::ticket::servicenow`, which the receiver shares), or the
//! deliveries the business rule posts back (`scantix_webhooks::servicenow`, and its script in
//! `infra/servicenow/`).
//!
//! Every call is safe to repeat:
//! - a record carries its group in `correlation_id` (the group key, or its digest where the key
//!   does not fit: `scantix_core::ticket::servicenow::correlation_id`) and `correlation_display:
//!   scantix`. `find_by_group_key` queries it (`sysparm_query=correlation_id=…`); `create` looks
//!   the same way first, unless `find_for` just did, and again before posting once more after an
//!   unclear failure. ServiceNow reads its own writes at once, so a lost answer's record is found
//!   by the next look;
//! - a work note ends with a marker naming its `comment_id` (`scantix ref …`), looked for in
//!   `sys_journal_field` before posting;
//! - edits and moves read the record and send only what differs: a repeat sends nothing.
//!
//! A state is chosen by *category* (`ServiceNowStates`: new, in progress, resolved, canceled), the
//! first value of the category's list is written, and a record already in a state of the target
//! category is left as it is (a person's "On Hold" stays in progress).
//!
//! # Layout
//! - [`settings`]: `ServiceNowSettings` (table, field mapping, urgency and impact by severity,
//!   states, resolve fields), `ServiceNowAuth` (Basic or OAuth, never serialised).
//! - [`record`]: what is sent (create, edit, move, work note) and read back.
//! - `http`: the single `send` (credentials, OAuth tokens, retries) and ServiceNow's refusals →
//!   `TrackerError`.

mod http;
pub mod record;
pub mod settings;

pub use scantix_core::ticket::servicenow::{SysId, TRACKER_NAME, correlation_id};
pub use settings::{ServiceNowAuth, ServiceNowSettings, ServiceNowStates, StateCategory};

use ::http::Method;
use async_trait::async_trait;
use http::{Call, Failure, Http, Replay};
use record::{JournalEntry, Many, One, Record};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_http::outbound::{ClientSettings, HttpClient, Redirects, RetryPolicy};
use serde_json::json;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// Tickets in ServiceNow.
pub struct ServiceNowTracker {
    settings: ServiceNowSettings,
    http: Http,
    /// The group `find_by_group_key` / `find_for` last looked for and did not find. The executor
    /// asks right before `create`, which then need not look again; any other call in between
    /// makes `create` look itself.
    last_miss: Mutex<Option<GroupKey>>,
}

impl std::fmt::Debug for ServiceNowTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceNowTracker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ServiceNowTracker {
    /// Checks the settings and builds the HTTP client (once: it pools connections, so build the
    /// tracker at cold start and reuse it).
    pub fn new(
        settings: ServiceNowSettings,
        auth: ServiceNowAuth,
    ) -> Result<ServiceNowTracker, TrackerError> {
        let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message,
        };
        let base_url = scantix_http::base_url::parse_base_url(&settings.base_url, "ServiceNow")
            .map_err(|message| misconfigured("servicenow.base-url", message))?;
        if !is_field_name(&settings.table) {
            return Err(misconfigured(
                "servicenow.table",
                format!(
                    "`{}` is not a table name (lowercase letters, digits and `_`)",
                    scantix_core::ticket::plain::cap(&settings.table, 80)
                ),
            ));
        }
        let mut names: Vec<&str> = vec![settings.comment_field.as_str()];
        names.extend(settings.fields.extra.keys().map(String::as_str));
        names.extend(settings.resolve_fields.keys().map(String::as_str));
        names.extend(settings.fields.due_date_field());
        if let Some(bad) = names.iter().find(|n| !is_field_name(n)) {
            return Err(misconfigured(
                "servicenow.fields",
                format!("`{bad}` is not a field name (lowercase letters, digits and `_`)"),
            ));
        }
        settings
            .states
            .check()
            .map_err(|why| misconfigured("servicenow.states", why))?;
        if settings.max_attempts == 0 {
            return Err(misconfigured(
                "servicenow.max-attempts",
                "must be at least 1 (1 means no retries)".into(),
            ));
        }
        if settings.request_timeout_secs == 0 {
            return Err(misconfigured(
                "servicenow.request-timeout-secs",
                "must be at least 1".into(),
            ));
        }
        if let ServiceNowAuth::OAuth { user: None, .. } = &auth {
            tracing::warn!(
                "SERVICENOW_USER is not set: the OAuth application's user is unknown, so its own \
                 changes come back as people's unless SCANTIX_SERVICE_ACCOUNTS names it"
            );
        }
        let timeout = Duration::from_secs(settings.request_timeout_secs);
        let client = HttpClient::new(ClientSettings {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
            // A redirect is a login page or a wrong address; following it could carry the
            // credentials elsewhere.
            redirects: Redirects::None,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                backoff_base: Duration::from_millis(500),
                max_backoff: http::MAX_WAIT,
                max_rate_limit_wait: http::MAX_WAIT,
            },
            ..ClientSettings::new("servicenow")
        })
        .map_err(|e| TrackerError::Failed(e.to_string()))?;
        Ok(ServiceNowTracker {
            http: Http::new(client, base_url, auth),
            settings,
            last_miss: Mutex::new(None),
        })
    }

    /// Sets the first retry delay (doubling from there; 500 ms by default). Tests make it small.
    pub fn with_backoff_base(mut self, base: Duration) -> ServiceNowTracker {
        let policy = RetryPolicy {
            backoff_base: base,
            ..*self.http.client.retry_policy()
        };
        self.http.client = self.http.client.clone().with_retry(policy);
        self
    }

    pub fn settings(&self) -> &ServiceNowSettings {
        &self.settings
    }

    fn table_path(&self) -> String {
        format!("/api/now/table/{}", self.settings.table)
    }

    fn record_path(&self, sys_id: &SysId) -> String {
        format!("/api/now/table/{}/{sys_id}", self.settings.table)
    }

    fn reference(&self, record: &Record) -> Result<TicketRef, Failure> {
        let sys_id = SysId::parse(&record.sys_id).map_err(TrackerError::Failed)?;
        Ok(TicketRef {
            tracker: TRACKER_NAME.into(),
            key: sys_id.to_string(),
            // The record's form in the classic UI.
            url: Some(format!(
                "{}/{}.do?sys_id={sys_id}",
                self.http.base_url, self.settings.table
            )),
        })
    }

    fn lock_last_miss(&self) -> std::sync::MutexGuard<'_, Option<GroupKey>> {
        self.last_miss
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `flow` again while it fails ambiguously (a create or note whose outcome is unknown),
    /// with backoff between runs. Each flow starts by checking whether its earlier run took
    /// effect, which is what makes running it again safe.
    async fn repeat<T, F, Fut>(&self, mut flow: F) -> Result<T, TrackerError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 1;
        loop {
            match flow(attempt).await {
                Ok(value) => return Ok(value),
                Err(f) if f.ambiguous && attempt < self.http.max_attempts() => {
                    tracing::info!(
                        attempt,
                        "servicenow call outcome unknown; checking, then repeating"
                    );
                    tokio::time::sleep(self.http.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// The `sys_id` of the one `sys_user` whose `user_name` (or `email`, for a name with an `@`)
    /// is `who`. A name that would change the encoded query (`^`, `=`, a line break) is refused
    /// before any request.
    async fn user_sys_id(&self, who: &str) -> Result<String, TrackerError> {
        let misconfigured = |message: String| TrackerError::Misconfigured {
            setting: "owners".into(),
            message,
        };
        if who.contains(['^', '=', '\n', '\r']) || who.len() > 200 {
            return Err(misconfigured(format!(
                "{who:?} is not a ServiceNow user name or email"
            )));
        }
        let field = if who.contains('@') {
            "email"
        } else {
            "user_name"
        };
        let call = Call::new(Method::GET, "/api/now/table/sys_user".into(), Replay::Safe)
            .query("sysparm_query", format!("{field}={who}"))
            .query("sysparm_fields", "sys_id")
            .query("sysparm_limit", "2")
            .query("sysparm_exclude_reference_link", "true")
            .query("sysparm_no_count", "true");
        let found: Many<UserRow> = self.http.send(&call).await?.json("the user search")?;
        match found.result.as_slice() {
            [user] => Ok(user.sys_id.clone()),
            [] => Err(misconfigured(format!(
                "no ServiceNow user has the {field} {who:?}"
            ))),
            _ => Err(misconfigured(format!(
                "more than one ServiceNow user has the {field} {who:?}"
            ))),
        }
    }

    /// The record of `group`: the oldest with its `correlation_id`.
    async fn search(&self, group: &GroupKey) -> Result<Option<TicketRef>, Failure> {
        let call = Call::new(Method::GET, self.table_path(), Replay::Safe)
            .query(
                "sysparm_query",
                format!(
                    "correlation_id={}^ORDERBYsys_created_on",
                    correlation_id(group)
                ),
            )
            .query("sysparm_fields", "sys_id,number,state")
            .query("sysparm_limit", "2")
            .query("sysparm_exclude_reference_link", "true")
            .query("sysparm_no_count", "true");
        let found: Many<Record> = self.http.send(&call).await?.json("the record search")?;
        if found.result.len() > 1 {
            let numbers: Vec<&str> = found.result.iter().map(|r| r.number.as_str()).collect();
            tracing::warn!(group = %group, ?numbers, "more than one ServiceNow record for one group; using the oldest");
        }
        found.result.first().map(|r| self.reference(r)).transpose()
    }

    async fn post(&self, content: &TicketContent) -> Result<TicketRef, Failure> {
        let call = Call::new(Method::POST, self.table_path(), Replay::Unsafe)
            .query("sysparm_fields", "sys_id,number,state")
            .query("sysparm_exclude_reference_link", "true")
            .body(record::create_body(&self.settings, content));
        let created: One<Record> = self.http.send(&call).await?.json("the record creation")?;
        tracing::info!(number = %created.result.number, group = %content.group_key, "servicenow record created");
        self.reference(&created.result)
    }

    async fn read(&self, sys_id: &SysId) -> Result<Record, Failure> {
        let mut fields = record::READ_FIELDS.to_owned();
        if let Some(due) = self.settings.fields.due_date_field() {
            fields = format!("{fields},{due}");
        }
        let call = Call::new(Method::GET, self.record_path(sys_id), Replay::Safe)
            .about(sys_id.as_str())
            .query("sysparm_fields", fields)
            .query("sysparm_exclude_reference_link", "true");
        let one: One<Record> = self.http.send(&call).await?.json("the record")?;
        Ok(one.result)
    }

    async fn patch(
        &self,
        sys_id: &SysId,
        body: serde_json::Value,
        replay: Replay,
        blame: &'static str,
    ) -> Result<Record, Failure> {
        let call = Call::new(Method::PATCH, self.record_path(sys_id), replay)
            .about(sys_id.as_str())
            .blaming(blame)
            // The only fields asked for are strings (no reference links to exclude: the PATCH
            // endpoint documents no `sysparm_exclude_reference_link`).
            .query("sysparm_fields", "sys_id,number,state")
            .body(body);
        let one: One<Record> = self.http.send(&call).await?.json("the record update")?;
        Ok(one.result)
    }

    async fn note_once(&self, sys_id: &SysId, comment_id: &str, text: &str) -> Result<(), Failure> {
        let marker = record::marker(comment_id);
        let look = Call::new(
            Method::GET,
            "/api/now/table/sys_journal_field".into(),
            Replay::Safe,
        )
        .query(
            "sysparm_query",
            format!(
                "element_id={sys_id}^element={}^valueLIKE{marker}",
                self.settings.comment_field
            ),
        )
        .query("sysparm_fields", "value")
        .query("sysparm_limit", "1")
        .query("sysparm_no_count", "true");
        let seen: Many<JournalEntry> = self.http.send(&look).await?.json("the journal")?;
        if seen.result.iter().any(|e| e.value.contains(&marker)) {
            tracing::debug!(record = %sys_id, comment_id, "work note already there");
            return Ok(());
        }
        // A journal field appends what it is set to: sending it twice adds two notes.
        self.patch(
            sys_id,
            json!({ self.settings.comment_field.as_str(): record::note(comment_id, text) }),
            Replay::Unsafe,
            "servicenow.comment-field",
        )
        .await
        .map(|_| ())
    }

    /// Moves the record to `category` unless it is in a state of that category already. A record
    /// that will not move (a closed incident cannot be reopened) is reported, not retried.
    async fn move_to(&self, sys_id: &SysId, category: StateCategory) -> Result<(), TrackerError> {
        let current = self.read(sys_id).await?;
        let states = &self.settings.states;
        if states.category(&current.state) == Some(category) {
            return Ok(());
        }
        let value = states.value_for(category).to_owned();
        let blame = match category {
            StateCategory::Resolved => "servicenow.resolve-fields",
            _ => "servicenow.states",
        };
        let moved = self
            .patch(
                sys_id,
                record::move_body(&self.settings, category, &value),
                Replay::Safe,
                blame,
            )
            .await?;
        if moved.state.trim() != value {
            return Err(TrackerError::Failed(format!(
                "ServiceNow kept record {} in state {} instead of {value} (a closed record cannot \
                 be reopened; a business rule may refuse the move)",
                current.number, moved.state
            )));
        }
        tracing::info!(record = %sys_id, number = %current.number, state = %value, "servicenow record moved");
        Ok(())
    }
}

/// A table or field name as ServiceNow makes them: lowercase letters, digits and `_` (custom ones
/// start `u_` or `x_<scope>_`). Anything else is a setting to fix, refused rather than escaped.
fn is_field_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The ticket's `sys_id`, checked: a key that did not come from ServiceNow reaches no URL.
/// A `sys_user` row as the user search asks for it.
#[derive(Debug, serde::Deserialize)]
struct UserRow {
    sys_id: String,
}

fn sys_id_of(ticket: &TicketRef) -> Result<SysId, TrackerError> {
    SysId::parse(&ticket.key).map_err(TrackerError::Failed)
}

#[async_trait]
impl Tracker for ServiceNowTracker {
    fn name(&self) -> &str {
        TRACKER_NAME
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        let found = self.search(key).await?;
        if found.is_none() {
            *self.lock_last_miss() = Some(key.clone());
        }
        Ok(found)
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let group = &content.group_key;
        let just_looked = {
            let mut last = self.lock_last_miss();
            let hit = last.as_ref() == Some(group);
            // Used once: a later create looks again.
            *last = None;
            hit
        };
        let ticket = self
            .repeat(|attempt| async move {
                // Look before creating: always after an unclear failure (ServiceNow may have
                // created it), and first unless `find_for` looked a moment ago.
                if (attempt > 1 || !just_looked)
                    && let Some(found) = self.search(group).await?
                {
                    return Ok(found);
                }
                self.post(content).await
            })
            .await?;
        Ok((ticket, TicketState::Open))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let sys_id = sys_id_of(ticket)?;
        let current = self.read(&sys_id).await?;
        if let Some(changes) = record::edit_body(&current, &self.settings, content) {
            self.patch(&sys_id, changes, Replay::Safe, "servicenow.fields")
                .await?;
        }
        Ok(())
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let sys_id = sys_id_of(ticket)?;
        let sys_id = &sys_id;
        self.repeat(|_| self.note_once(sys_id, comment_id, text))
            .await
    }

    /// By category: `Open`, `Reopened` and `Draft` → new; `InProgress` → in progress; `Resolved`
    /// → resolved (with the resolve fields). `Stale` moves to `states.stale` when the settings
    /// name one, and otherwise leaves the state as it is (the work note scantix adds says why).
    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let sys_id = sys_id_of(ticket)?;
        let category = match to {
            TicketState::Open | TicketState::Reopened | TicketState::Draft => StateCategory::New,
            TicketState::InProgress => StateCategory::InProgress,
            TicketState::Resolved => StateCategory::Resolved,
            TicketState::Stale => {
                let Some(stale) = self.settings.states.stale.clone() else {
                    return Ok(());
                };
                let current = self.read(&sys_id).await?;
                if current.state.trim() != stale.trim() {
                    self.patch(
                        &sys_id,
                        json!({ "state": stale.trim() }),
                        Replay::Safe,
                        "servicenow.states",
                    )
                    .await?;
                }
                return Ok(());
            }
        };
        self.move_to(&sys_id, category).await
    }

    /// Every alert was dismissed, none fixed: the record is canceled (`states.canceled`), which is
    /// what a person's "won't fix" reads as too.
    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        let sys_id = sys_id_of(ticket)?;
        let current = self.read(&sys_id).await?;
        // Already closed either way: a person's reason stands.
        if matches!(
            self.settings.states.category(&current.state),
            Some(StateCategory::Resolved | StateCategory::Canceled)
        ) {
            return Ok(());
        }
        self.move_to(&sys_id, StateCategory::Canceled).await
    }

    /// Sets the record's `assigned_to`: a user's `sys_id` as given, or the user looked up in
    /// `sys_user` by `user_name` (by `email` when it has an `@`): how the owners map names people,
    /// and how the business rule names them back. `None` clears it.
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        let sys_id = sys_id_of(ticket)?;
        let user = match assignee.map(str::trim) {
            None | Some("") => String::new(),
            Some(who) => match SysId::parse(who) {
                Ok(id) => id.to_string(),
                Err(_) => self.user_sys_id(who).await?,
            },
        };
        self.patch(
            &sys_id,
            json!({ "assigned_to": user }),
            Replay::Safe,
            "owners",
        )
        .await?;
        Ok(())
    }

    /// The `user_name` the credentials act as: what the business rule sends as the actor of
    /// every change (`gs.getUserName()`). No call: Basic names it, and for OAuth the deployment
    /// does (`SERVICENOW_USER`).
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        Ok(self
            .http
            .auth
            .user_name()
            .map(str::to_owned)
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::secret::Secret;

    fn basic() -> ServiceNowAuth {
        ServiceNowAuth::Basic {
            user: "scantix.integration".into(),
            password: Secret::new("very-secret"),
        }
    }

    fn setting_of(r: Result<ServiceNowTracker, TrackerError>) -> String {
        match r {
            Err(TrackerError::Misconfigured { setting, .. }) => setting,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_are_checked_up_front_and_credentials_never_show() {
        let ok = ServiceNowTracker::new(
            ServiceNowSettings::new("https://acme.service-now.com/"),
            basic(),
        )
        .unwrap();
        assert_eq!(ok.name(), "servicenow");
        assert_eq!(ok.http.base_url, "https://acme.service-now.com");
        assert!(!format!("{ok:?}").contains("very-secret"));
        for bad in ["http://acme.service-now.com", "not a url", "https://x/?a=b"] {
            let r = ServiceNowTracker::new(ServiceNowSettings::new(bad), basic());
            assert_eq!(setting_of(r), "servicenow.base-url", "{bad}");
        }
        let mut s = ServiceNowSettings::new("https://acme.service-now.com");
        s.table = "incident/../sys_user".into();
        assert_eq!(
            setting_of(ServiceNowTracker::new(s, basic())),
            "servicenow.table"
        );
        let mut s = ServiceNowSettings::new("https://acme.service-now.com");
        s.fields.extra.insert("U Source".into(), "x".into());
        assert_eq!(
            setting_of(ServiceNowTracker::new(s, basic())),
            "servicenow.fields"
        );
        let mut s = ServiceNowSettings::new("https://acme.service-now.com");
        s.states.canceled = vec!["6".into()];
        assert_eq!(
            setting_of(ServiceNowTracker::new(s, basic())),
            "servicenow.states"
        );
    }

    #[tokio::test]
    async fn keys_that_did_not_come_from_servicenow_reach_no_url() {
        let tracker = ServiceNowTracker::new(
            ServiceNowSettings::new("https://acme.service-now.com"),
            basic(),
        )
        .unwrap();
        for bad in ["INC0010001", "../../sys_user", ""] {
            let ticket = TicketRef {
                tracker: "servicenow".into(),
                key: bad.into(),
                url: None,
            };
            let err = tracker
                .transition(&ticket, TicketState::Resolved)
                .await
                .unwrap_err();
            assert!(matches!(err, TrackerError::Failed(_)), "{bad}: {err}");
        }
        assert_eq!(
            tracker.own_accounts().await.unwrap(),
            vec!["scantix.integration".to_owned()]
        );
    }
}
