//! The Jira adapter: tickets as Jira issues, on Jira Cloud or Data Center; the `Tracker` port
//! (`scantix_core::ports::tracker`) where a code scanning alert's ticket is finally filed. Not
//! here: the `jira` section of the settings (`JiraSettings`, `Priorities`: the core's
//! `ticket::destination`, re-exported), or Jira's webhooks (`scantix_webhooks::jira`).
//!
//! One code path for both flavors; where they differ (API version, credentials, text format,
//! search endpoint, user field) is `dialect`. Every call is safe to repeat:
//! - a created issue carries the group key in the `scantix` issue property (and the group's label),
//!   so `find_by_group_key` finds it again after a crash between "Jira created it" and "the store
//!   recorded it"; Cloud's search lags its writes, so that lookup (`find_after`) names an answered
//!   create's issue id in `reconcileIssues`, and after an unanswered one searches until such an
//!   issue must show (`search-consistency-secs`);
//! - a comment ends with a marker naming its `comment_id`, checked before posting;
//! - a transition is chosen by status *category* from those the issue offers, and is a no-op when
//!   the issue is already there.
//!
//! # Layout
//! - [`settings`]: `JiraAuth` (credentials, never serialised), beside the core's `JiraSettings`.
//! - `dialect`: Cloud vs Data Center.
//! - [`adf`], [`wiki`]: ticket content as ADF (Cloud) or wiki markup (Data Center), alert text inert.
//! - `text`: cleaning and capping alert text before either renderer; fitting under Jira's limit.
//! - `create_screen`: which fields a project's create screen has for an issue type (Jira's create
//!   metadata), so that only those are sent; learnt per (project, issue type), cached a while.
//! - `issue_fields`: the create and edit bodies (fields, labels, the group-key property).
//! - [`jql`]: the searches, with escaped literals.
//! - [`workflow`]: choosing a transition by status category.
//! - `http`: the single `send` (auth, retries, backoff); `errors`: Jira's errors → `TrackerError`.

pub mod adf;
mod create_screen;
mod dialect;
mod errors;
mod http;
mod issue_fields;
pub mod jql;
pub mod settings;
#[cfg(test)]
mod test_content;
mod text;
pub mod wiki;
pub mod workflow;

pub use settings::{Flavor, JiraAuth, JiraSettings, Priorities};

use ::http::{Method, StatusCode};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use create_screen::{FieldMeta, FieldPage, IssueTypePage, Screen};
use dialect::{Dialect, Myself, SearchPage};
use errors::{Failure, setting_for_field};
use http::{Call, Http, Replay};
use issue_fields::{Filing, IssueFields, Prepared};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{CreateAttempt, CreatedTicket, TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::destination::TrackerKind;
use scantix_core::ticket::destination::TrackerSite;
use scantix_http::outbound::{ClientSettings, HttpClient, Redirects, RetryPolicy};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workflow::{Category, Status, Transition, Transitions};

/// The label that marks a stale ticket: the core's, shared by every tracker with labels.
pub use scantix_core::ticket::STALE_LABEL;

/// How long a learnt create screen is trusted. An admin's change to a screen takes effect within
/// it, or at once when Jira refuses a field of a screen learnt earlier (it is learnt again).
const SCREEN_TTL: Duration = Duration::from_secs(600);

/// Learnt create screens, by (project key, issue type name), both in upper case.
type ScreenCache = HashMap<(String, String), (Instant, Arc<Screen>)>;

/// Tickets in Jira.
pub struct JiraTracker {
    settings: JiraSettings,
    http: Http,
    screens: Mutex<ScreenCache>,
    screen_ttl: Duration,
}

impl std::fmt::Debug for JiraTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraTracker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl JiraTracker {
    /// Checks the settings against the credentials and builds the HTTP client (once: it pools
    /// connections, so build the tracker at cold start and reuse it).
    pub fn new(settings: JiraSettings, auth: JiraAuth) -> Result<JiraTracker, TrackerError> {
        let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message,
        };
        if auth.flavor() != settings.flavor {
            return Err(misconfigured(
                "jira.auth",
                format!(
                    "flavor is {:?} but the credentials are for {:?} (Cloud: email + API token; \
                     Data Center: a personal access token)",
                    settings.flavor,
                    auth.flavor()
                ),
            ));
        }
        let base_url = scantix_http::base_url::parse_base_url(&settings.base_url, "Jira")
            .map_err(|message| misconfigured("jira.base-url", message))?;
        if settings.project.trim().is_empty() {
            return Err(misconfigured(
                "jira.project",
                "the project key is empty".into(),
            ));
        }
        if settings.issue_type.trim().is_empty() {
            return Err(misconfigured(
                "jira.issue-type",
                "the issue type is empty".into(),
            ));
        }
        if settings.max_attempts == 0 {
            return Err(misconfigured(
                "jira.max-attempts",
                "must be at least 1 (1 means no retries)".into(),
            ));
        }
        if settings.request_timeout_secs == 0 {
            return Err(misconfigured(
                "jira.request-timeout-secs",
                "must be at least 1".into(),
            ));
        }
        let timeout = Duration::from_secs(settings.request_timeout_secs);
        let client = HttpClient::new(ClientSettings {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
            // A redirect means a wrong base URL (or a login page); following it could carry the
            // credentials elsewhere. It is reported instead (see `errors`).
            redirects: Redirects::None,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                backoff_base: Duration::from_millis(500),
                max_backoff: http::MAX_WAIT,
                max_rate_limit_wait: http::MAX_WAIT,
            },
            ..ClientSettings::new("jira")
        })
        .map_err(|e| TrackerError::Failed(e.to_string()))?;
        Ok(JiraTracker {
            http: Http {
                client,
                base_url,
                dialect: Dialect(settings.flavor),
                auth,
            },
            settings,
            screens: Mutex::new(HashMap::new()),
            screen_ttl: SCREEN_TTL,
        })
    }

    /// Sets how long a learnt create screen is trusted (10 minutes by default).
    pub fn with_screen_ttl(mut self, ttl: Duration) -> JiraTracker {
        self.screen_ttl = ttl;
        self
    }

    /// Sets the first retry delay (doubling from there; 500 ms by default). Tests make it small.
    pub fn with_backoff_base(mut self, base: Duration) -> JiraTracker {
        let policy = RetryPolicy {
            backoff_base: base,
            ..*self.http.client.retry_policy()
        };
        self.http.client = self.http.client.clone().with_retry(policy);
        self
    }

    pub fn settings(&self) -> &JiraSettings {
        &self.settings
    }

    fn dialect(&self) -> Dialect {
        self.http.dialect
    }

    fn api(&self, rest: &str) -> String {
        format!("{}{rest}", self.dialect().api())
    }

    fn fields(&self) -> IssueFields<'_> {
        IssueFields {
            settings: &self.settings,
            dialect: self.dialect(),
        }
    }

    fn reference(&self, key: String) -> TicketRef {
        TicketRef {
            tracker: "jira".into(),
            url: Some(format!("{}/browse/{key}", self.http.base_url)),
            key,
        }
    }

    /// The create screen of `issue_type` in `project`, and whether it was just learnt (not
    /// cached).
    async fn screen(
        &self,
        project: &str,
        issue_type: &str,
    ) -> Result<(Arc<Screen>, bool), Failure> {
        let key = (project.to_uppercase(), issue_type.to_uppercase());
        let cached = {
            let screens = self.screens.lock().unwrap_or_else(|p| p.into_inner());
            screens
                .get(&key)
                .filter(|(at, _)| at.elapsed() < self.screen_ttl)
                .map(|(_, screen)| screen.clone())
        };
        if let Some(screen) = cached {
            return Ok((screen, false));
        }
        let screen = Arc::new(self.learn_screen(project, issue_type).await?);
        let mut screens = self.screens.lock().unwrap_or_else(|p| p.into_inner());
        screens.insert(key, (Instant::now(), screen.clone()));
        Ok((screen, true))
    }

    fn forget_screen(&self, project: &str, issue_type: &str) {
        let key = (project.to_uppercase(), issue_type.to_uppercase());
        let mut screens = self.screens.lock().unwrap_or_else(|p| p.into_inner());
        screens.remove(&key);
    }

    /// Asks Jira for the create screen (see `create_screen`): the issue type's id by name, then
    /// its fields. A Jira without these endpoints (404: a Data Center older than 8.4) has an
    /// unknown screen: everything configured is sent, as before.
    async fn learn_screen(&self, project: &str, issue_type: &str) -> Result<Screen, Failure> {
        let project_path = path_segment(project).ok_or_else(|| {
            Failure::from(TrackerError::Misconfigured {
                setting: "jira.project".into(),
                message: format!(
                    "`{}` is not a project key (letters, digits and `_`)",
                    text::cap(&text::line(project), 80)
                ),
            })
        })?;
        let base = format!("/issue/createmeta/{project_path}/issuetypes");
        let mut types: Vec<(String, String)> = Vec::new();
        let listed = self
            .pages(&base, |page: IssueTypePage, start| {
                let more = page.more_after(start);
                let got = page.items().len();
                types.extend(page.items().iter().map(|t| (t.id.clone(), t.name.clone())));
                (got, more)
            })
            .await;
        match listed {
            Ok(()) => {}
            Err(f) if f.status == Some(StatusCode::NOT_FOUND) => {
                tracing::warn!(
                    project,
                    "jira has no create metadata here (Data Center before 8.4?); sending every configured field"
                );
                return Ok(Screen::Unknown);
            }
            Err(f) => return Err(f),
        }
        let Some((id, _)) = types
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(issue_type.trim()))
        else {
            let names: Vec<&str> = types.iter().map(|(_, name)| name.as_str()).collect();
            return Err(TrackerError::Misconfigured {
                setting: "jira.issue-type".into(),
                message: format!(
                    "project {project} has no issue type `{issue_type}` that this account may \
                     create; it has: {}",
                    names.join(", ")
                ),
            }
            .into());
        };
        let id = path_segment(id).ok_or_else(|| {
            Failure::from(TrackerError::Failed(format!(
                "unexpected issue type id from Jira: {}",
                text::cap(&text::line(id), 40)
            )))
        })?;
        let mut fields: Vec<FieldMeta> = Vec::new();
        self.pages(&format!("{base}/{id}"), |page: FieldPage, start| {
            let more = page.more_after(start);
            let got = page.items().len();
            fields.extend(page.into_items());
            (got, more)
        })
        .await?;
        let screen = create_screen::screen_of(fields);
        tracing::info!(project, issue_type, fields = ?screen_ids(&screen), "jira create screen learnt");
        Ok(screen)
    }

    /// Reads every page of a createmeta listing under the API (`startAt`/`maxResults` paging),
    /// handing each to `take`, which says how many items it had and whether more follow.
    async fn pages<P: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        mut take: impl FnMut(P, u32) -> (usize, bool),
    ) -> Result<(), Failure> {
        let mut start = 0u32;
        for _ in 0..create_screen::MAX_PAGES {
            let call = Call::new(Method::GET, self.api(path), Replay::Safe)
                .query("startAt", start.to_string())
                .query("maxResults", create_screen::PAGE_SIZE.to_string());
            let page: P = self.http.send(&call).await?.json("the create metadata")?;
            let (got, more) = take(page, start);
            if !more {
                return Ok(());
            }
            start += got as u32;
        }
        Ok(())
    }

    /// Fails before sending a create that the screen would refuse for a required field scantix
    /// does not fill, naming the field and what to change.
    fn check_required(
        &self,
        prepared: &Prepared,
        screen: &Screen,
        filing: &Filing<'_>,
    ) -> Result<(), TrackerError> {
        let unfilled = screen.unfilled(&prepared.sent());
        let Some((first, _)) = unfilled.first() else {
            return Ok(());
        };
        let named: Vec<String> = unfilled
            .iter()
            .map(|(id, field)| format!("{} ({id})", field.name))
            .collect();
        Err(TrackerError::Misconfigured {
            setting: setting_for_field(first, self.settings.due_date_field()).into(),
            message: format!(
                "the create screen of issue type `{}` in project {} requires {}, which scantix \
                 does not fill here: give it a default value (or make it optional) in Jira, or \
                 change this setting",
                filing.issue_type,
                filing.project,
                named.join(", ")
            ),
        })
    }

    /// A refusal, with the setting to change when Jira named a field: the due date's field is
    /// whatever `due-date-field` says.
    fn refused(&self, failure: Failure) -> TrackerError {
        match (failure.error, &failure.field) {
            (TrackerError::Misconfigured { message, .. }, Some(field)) => {
                TrackerError::Misconfigured {
                    setting: setting_for_field(field, self.settings.due_date_field()).into(),
                    message,
                }
            }
            (error, _) => error,
        }
    }

    /// Runs `send` with the create screen of `filing`; if Jira refuses a field although the
    /// screen had it when learnt (an admin changed the screen meanwhile), learns the screen again
    /// and runs `send` once more.
    async fn with_screen<T, F, Fut>(
        &self,
        filing: &Filing<'_>,
        mut send: F,
    ) -> Result<T, TrackerError>
    where
        F: FnMut(Arc<Screen>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let (screen, fresh) = self
            .screen(filing.project, filing.issue_type)
            .await
            .map_err(|f| self.refused(f))?;
        match send(screen).await {
            Err(f) if !fresh && f.field.is_some() && f.status == Some(StatusCode::BAD_REQUEST) => {
                tracing::info!(field = ?f.field, "jira refused a field of a cached create screen; learning it again");
                self.forget_screen(filing.project, filing.issue_type);
                let (screen, _) = self
                    .screen(filing.project, filing.issue_type)
                    .await
                    .map_err(|f| self.refused(f))?;
                send(screen).await.map_err(|f| self.refused(f))
            }
            other => other.map_err(|f| self.refused(f)),
        }
    }

    /// One create on `screen`: a body of the fields it has, checked for required fields scantix
    /// does not fill, sent (and repeated after an unclear failure, once a search can show whether
    /// it took effect).
    async fn create_on(
        &self,
        content: &TicketContent,
        filing: &Filing<'_>,
        screen: Arc<Screen>,
    ) -> Result<(TicketRef, Option<String>), Failure> {
        let prepared = self.fields().create_body(content, &screen);
        self.check_required(&prepared, &screen, filing)?;
        if !prepared.left_out.is_empty() {
            tracing::info!(
                project = filing.project, issue_type = filing.issue_type, left_out = ?prepared.left_out,
                "fields not on the project's create screen are not sent"
            );
        }
        let call = &Call::new(Method::POST, self.api("/issue"), Replay::Unsafe).body(prepared.body);
        let project = filing.project;
        let consistency = self.settings.search_consistency();
        // When the last create went out: an issue it made may show in search from then on plus
        // `consistency` (Cloud's search lags its writes; see `find_after`).
        let last_sent: &std::sync::Mutex<Option<Instant>> = &std::sync::Mutex::new(None);
        self.repeat(|attempt| async move {
            // After an unclear failure, Jira may have created it: look before creating, once
            // the search can show it.
            if attempt > 1 {
                let sent = *last_sent.lock().unwrap_or_else(|p| p.into_inner());
                let window = sent.map_or(Duration::ZERO, |sent| {
                    consistency.saturating_sub(sent.elapsed())
                });
                if window > http::MAX_WAIT {
                    return Err(TrackerError::Retryable(format!(
                        "the outcome of a create is unknown, and Jira's search may take {}s \
                         more to show it; looking for it later",
                        window.as_secs()
                    ))
                    .into());
                }
                let deadline = Instant::now() + window;
                if let Some(found) = self
                    .find_until(project, &content.group_key, deadline)
                    .await?
                {
                    return Ok((found, None));
                }
            }
            *last_sent.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            let created: CreatedIssue = self.http.send(call).await?.json("issue creation")?;
            Ok((self.reference(created.key), Some(created.id)))
        })
        .await
    }

    /// Runs `flow` again while it fails ambiguously (a create or comment whose outcome is unknown),
    /// with backoff between runs. Each flow starts by checking whether its earlier run took
    /// effect, which is what makes running it again safe.
    async fn repeat<T, F, Fut>(&self, mut flow: F) -> Result<T, Failure>
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
                        "jira call outcome unknown; checking, then repeating"
                    );
                    tokio::time::sleep(self.http.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f),
            }
        }
    }

    /// Searches with `jql`, reading `reconcile` (issue ids) as they are now; returns the keys found
    /// (at most two: one is the ticket, a second would be a duplicate worth a warning).
    async fn search(&self, jql: &str, reconcile: &[u64]) -> Result<Vec<String>, Failure> {
        let (path, body) = self.dialect().search(jql, 2, reconcile);
        let reply = self
            .http
            .send(&Call::new(Method::POST, path, Replay::Safe).body(body))
            .await?;
        let page: SearchPage = reply.json("a search")?;
        Ok(page.issues.into_iter().map(|i| i.key).collect())
    }

    /// The ticket of `group` in `project`; `reconcile` names issues (by id) the search must show
    /// as they are now (see `Dialect::search`).
    async fn find(
        &self,
        project: &str,
        group: &GroupKey,
        reconcile: &[u64],
    ) -> Result<Option<TicketRef>, Failure> {
        // The property is the real key, but Jira searches an entity property only where an app
        // has it indexed; elsewhere the query is accepted and finds nothing. So an empty answer
        // (or a Jira that refuses the clause) falls back to the group's label. (One query with
        // `OR` would save that second call on a miss; the JQL kept to here is `AND`-only, which
        // is what the fake Jira the tests run against understands.)
        let by_label = jql::by_group_label(project, group);
        let keys = match self
            .search(&jql::by_group_property(project, group), reconcile)
            .await
        {
            Ok(keys) if !keys.is_empty() => keys,
            Ok(_) => self.search(&by_label, reconcile).await?,
            Err(f)
                if f.status == Some(StatusCode::BAD_REQUEST)
                    && !matches!(f.error, TrackerError::Misconfigured { .. }) =>
            {
                tracing::info!("jira rejected the property search; searching by label");
                self.search(&by_label, reconcile).await?
            }
            Err(f) => return Err(f),
        };
        if keys.len() > 1 {
            tracing::warn!(group = %group, tickets = ?keys, "more than one Jira issue for one group; using the oldest");
        }
        Ok(keys.into_iter().next().map(|k| self.reference(k)))
    }

    /// `find`, repeated until `deadline` while it finds nothing: the moment by which an issue an
    /// earlier request may have created shows in search at the latest. Cloud's index mostly
    /// catches up within seconds, so the search is repeated with growing pauses and stops at the
    /// first hit; nothing by the deadline means nothing was created. One search when the deadline
    /// has passed.
    async fn find_until(
        &self,
        project: &str,
        group: &GroupKey,
        deadline: Instant,
    ) -> Result<Option<TicketRef>, Failure> {
        let mut pause = Duration::from_millis(250);
        loop {
            if let Some(found) = self.find(project, group, &[]).await? {
                return Ok(Some(found));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            tracing::info!(
                group = %group, left_ms = left.as_millis() as u64,
                "a create may have landed unseen; searching again until Jira's search must show it"
            );
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(Duration::from_secs(4));
        }
    }

    async fn edit_labels(&self, key: &str, op: &str, label: &str) -> Result<(), Failure> {
        let call = Call::new(
            Method::PUT,
            self.api(&format!("/issue/{key}")),
            Replay::Safe,
        )
        .about(key)
        .body(json!({ "update": { "labels": [{ op: label }] } }));
        self.http.send(&call).await.map(|_| ())
    }

    async fn comment_once(&self, key: &str, comment_id: &str, text: &str) -> Result<(), Failure> {
        let marker = marker(comment_id);
        let list = Call::new(
            Method::GET,
            self.api(&format!("/issue/{key}/comment")),
            Replay::Safe,
        )
        .about(key)
        .query("orderBy", "-created")
        .query("maxResults", "100");
        let page: CommentPage = self.http.send(&list).await?.json("the comment list")?;
        if page
            .comments
            .iter()
            .any(|c| self.dialect().has_marker(&c.body, &marker))
        {
            tracing::debug!(issue = key, comment_id, "comment already there");
            return Ok(());
        }
        let post = Call::new(
            Method::POST,
            self.api(&format!("/issue/{key}/comment")),
            Replay::Unsafe,
        )
        .about(key)
        .body(json!({
            "body": self.dialect().comment(text, &marker),
            "properties": [{ "key": jql::PROPERTY_KEY, "value": { "commentId": comment_id } }],
        }));
        self.http.send(&post).await.map(|_| ())
    }

    async fn transition_once(&self, key: &str, target: Category) -> Result<(), Failure> {
        let read = Call::new(
            Method::GET,
            self.api(&format!("/issue/{key}")),
            Replay::Safe,
        )
        .about(key)
        .query("fields", "status,labels");
        let issue: IssueStatus = self.http.send(&read).await?.json("the issue")?;
        let current = &issue.fields.status;
        // Already in a status of that category: nothing to do. (Asking for the transitions alone
        // could not tell: a workflow may offer "Done → Closed", both done.)
        if current.category_key() != target.key() {
            let list = Call::new(
                Method::GET,
                self.api(&format!("/issue/{key}/transitions")),
                Replay::Safe,
            )
            .about(key);
            let offered: Transitions = self.http.send(&list).await?.json("the transitions")?;
            let chosen = workflow::choose(&offered.transitions, Some(current), target)
                .ok_or_else(|| no_transition(current, target, &offered.transitions))?;
            tracing::info!(
                issue = key, transition = %chosen.name, to = %chosen.to.name,
                category = target.key(), "jira transition"
            );
            let post = Call::new(
                Method::POST,
                self.api(&format!("/issue/{key}/transitions")),
                Replay::Unsafe,
            )
            .about(key)
            .body(json!({ "transition": { "id": chosen.id } }));
            self.http.send(&post).await?;
        }
        // Leaving Stale, by whichever state: the label goes (after the move, so a refused move
        // leaves the ticket as it was).
        if issue.fields.labels.iter().any(|l| l == STALE_LABEL) {
            self.edit_labels(key, "remove", STALE_LABEL).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct CreatedIssue {
    /// The numeric id, as a string: what `reconcileIssues` takes.
    id: String,
    key: String,
}

#[derive(Debug, Deserialize)]
struct CommentPage {
    #[serde(default)]
    comments: Vec<JiraComment>,
}

#[derive(Debug, Deserialize)]
struct JiraComment {
    #[serde(default)]
    body: Value,
}

#[derive(Debug, Deserialize)]
struct IssueStatus {
    fields: StatusAndLabels,
}

#[derive(Debug, Deserialize)]
struct StatusAndLabels {
    status: Status,
    #[serde(default)]
    labels: Vec<String>,
}

fn no_transition(current: &Status, target: Category, offered: &[Transition]) -> Failure {
    TrackerError::Misconfigured {
        setting: "jira.workflow".into(),
        message: format!(
            "no transition from {} to a status in category {}; available: {}",
            current.name,
            target.key(),
            workflow::describe(offered)
        ),
    }
    .into()
}

/// The marker line of a comment (`scantix ref <comment_id>`).
fn marker(comment_id: &str) -> String {
    format!("scantix ref {}", text::line(comment_id))
}

/// An issue key as it may appear in a URL path (`SEC-12`; Data Center allows `_` and digits in
/// project keys). Anything else is refused rather than escaped: it did not come from Jira.
fn checked_key(ticket: &TicketRef) -> Result<&str, TrackerError> {
    let key = ticket.key.as_str();
    let ok = !key.is_empty()
        && key.len() <= 255
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(key)
    } else {
        Err(TrackerError::Failed(format!(
            "`{}` is not a Jira issue key",
            text::cap(&text::line(key), 80)
        )))
    }
}

/// `text` if it can be one URL path segment as it is (a project key, an id): letters, digits,
/// `_` and `-`. Anything else is refused rather than escaped: it is a setting to fix.
fn path_segment(text: &str) -> Option<&str> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.len() <= 255
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then_some(text)
}

/// The field ids of a known screen, for the log.
fn screen_ids(screen: &Screen) -> Vec<&str> {
    match screen {
        Screen::Known(fields) => fields.keys().map(String::as_str).collect(),
        Screen::Unknown => Vec::new(),
    }
}

#[async_trait]
impl Tracker for JiraTracker {
    fn name(&self) -> &str {
        "jira"
    }

    fn site(&self) -> TrackerSite {
        TrackerSite {
            kind: TrackerKind::Jira,
            base_url: Some(self.http.base_url.clone()),
        }
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        Ok(self.find(&self.settings.project, key, &[]).await?)
    }

    /// Looks in the project the ticket was filed in: the repository's own, if it chose one.
    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        let project = Filing::of(&self.settings, &content.destination).project;
        Ok(self.find(project, &content.group_key, &[]).await?)
    }

    /// Jira Cloud's search is eventually consistent: "after a write operation is performed,
    /// subsequent search operations using the API without the reconcileIssues parameter may return
    /// stale or outdated data", "from a few seconds to minutes"; `reconcileIssues` (issue ids, at
    /// most 50) makes the answer consistent for those issues
    /// (developer.atlassian.com/cloud/jira/platform/search-and-reconcile/). So: with the answer of
    /// the earlier create, its issue id goes in `reconcileIssues`, and if the search cannot match
    /// the issue at all (a property Jira does not index and no label), a read by id (consistent)
    /// says whether it still exists. Without an answer, nobody knows the id of an issue that may
    /// have been created: the search waits until such an issue can show (`search_consistency`
    /// after the request), or, if that is further away than one call may wait, fails retryably
    /// so that a later retry looks then.
    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let project = Filing::of(&self.settings, &content.destination).project;
        let Some(created) = &attempt.answered else {
            let visible_at = attempt.sent_at
                + chrono::Duration::from_std(self.settings.search_consistency())
                    .unwrap_or_default();
            let window = (visible_at - now).to_std().unwrap_or_default();
            if window > http::MAX_WAIT {
                return Err(TrackerError::Retryable(format!(
                    "an issue created at {} may not show in Jira's search before {visible_at}; \
                     looking for it then",
                    attempt.sent_at
                )));
            }
            let deadline = Instant::now() + window;
            return Ok(self
                .find_until(project, &content.group_key, deadline)
                .await?);
        };
        let receipt: Vec<u64> = created
            .receipt
            .as_deref()
            .and_then(|id| id.parse().ok())
            .into_iter()
            .collect();
        if let Some(found) = self.find(project, &content.group_key, &receipt).await? {
            return Ok(Some(found));
        }
        let key = checked_key(&created.ticket)?;
        let read = Call::new(
            Method::GET,
            self.api(&format!("/issue/{key}")),
            Replay::Safe,
        )
        .about(key)
        .query("fields", "status");
        match self.http.send(&read).await {
            Ok(_) => Ok(Some(created.ticket.clone())),
            // Deleted meanwhile: a new one is due.
            Err(Failure {
                error: TrackerError::NotFound(_),
                ..
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let created = self.create_with_receipt(content).await?;
        Ok((created.ticket, created.state))
    }

    /// The receipt is the issue's numeric id, for `reconcileIssues` in `find_after`. Only the
    /// fields the project's create screen has are sent (see `create_screen`).
    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        let filing = Filing::of(&self.settings, &content.destination);
        let (ticket, receipt) = self
            .with_screen(&filing, |screen| self.create_on(content, &filing, screen))
            .await?;
        tracing::info!(issue = %ticket.key, group = %content.group_key, "jira issue created");
        Ok(CreatedTicket {
            ticket,
            state: TicketState::Open,
            receipt,
        })
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        let filing = Filing::of(&self.settings, &content.destination);
        self.with_screen(&filing, |screen| async move {
            let prepared = self.fields().update_body(content, &screen);
            let call = Call::new(
                Method::PUT,
                self.api(&format!("/issue/{key}")),
                Replay::Safe,
            )
            .about(key)
            .body(prepared.body);
            self.http.send(&call).await.map(|_| ())
        })
        .await
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        Ok(self
            .repeat(|_| self.comment_once(key, comment_id, text))
            .await?)
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        match Category::of(to) {
            None => Ok(self.edit_labels(key, "add", STALE_LABEL).await?),
            Some(target) => Ok(self.repeat(|_| self.transition_once(key, target)).await?),
        }
    }

    /// `PUT /issue/{key}` with the `assignee` field alone (Cloud: `{"accountId"}`, Data Center:
    /// `{"name"}`; `null` unassigns): the edit endpoint, which the project's edit screen allows
    /// for the assignee wherever people can reassign.
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        let value = match assignee {
            Some(who) => self.dialect().assignee(who),
            None => serde_json::Value::Null,
        };
        let call = Call::new(
            Method::PUT,
            self.api(&format!("/issue/{key}")),
            Replay::Safe,
        )
        .about(key)
        .body(json!({ "fields": { "assignee": value } }));
        Ok(self.http.send(&call).await.map(|_| ())?)
    }

    /// `GET /myself` (Cloud `/rest/api/3`, Data Center `/rest/api/2`): the credential's user.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        let call = Call::new(Method::GET, self.api("/myself"), Replay::Safe);
        let me: Myself = self.http.send(&call).await?.json("GET /myself")?;
        let ids = self.dialect().own_ids(me);
        if ids.is_empty() {
            return Err(TrackerError::Failed(
                "Jira's /myself names no user id for the credential".into(),
            ));
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::secret::Secret;

    #[test]
    fn the_tracker_never_shows_its_credentials() {
        let tracker = JiraTracker::new(
            JiraSettings::new("https://jira.example.com", Flavor::DataCenter, "SEC"),
            JiraAuth::DataCenter {
                token: Secret::new("pat-very-secret"),
            },
        )
        .unwrap();
        assert_eq!(tracker.name(), "jira");
        assert!(!format!("{tracker:?}").contains("very-secret"));
    }

    #[test]
    fn markers_are_one_line() {
        assert_eq!(marker("g-1\n2"), "scantix ref g-1 2");
    }

    #[test]
    fn settings_and_credentials_are_checked_up_front() {
        let cloud_auth = JiraAuth::Cloud {
            email: "a@b.c".into(),
            api_token: Secret::new("t"),
        };
        let setting_of = |r: Result<JiraTracker, TrackerError>| match r {
            Err(TrackerError::Misconfigured { setting, .. }) => setting,
            other => panic!("{other:?}"),
        };
        let dc = JiraSettings::new("https://jira.example.com", Flavor::DataCenter, "SEC");
        assert_eq!(
            setting_of(JiraTracker::new(dc, cloud_auth.clone())),
            "jira.auth"
        );
        for bad in [
            "http://jira.example.com",
            "not a url",
            "https://x/?a=b",
            "ftp://x",
        ] {
            let s = JiraSettings::new(bad, Flavor::Cloud, "SEC");
            assert_eq!(
                setting_of(JiraTracker::new(s, cloud_auth.clone())),
                "jira.base-url",
                "{bad}"
            );
        }
        let mut s = JiraSettings::new("http://127.0.0.1:8080/jira/", Flavor::Cloud, "SEC");
        let ok = JiraTracker::new(s.clone(), cloud_auth.clone()).unwrap();
        assert_eq!(ok.http.base_url, "http://127.0.0.1:8080/jira");
        assert_eq!(
            ok.reference("SEC-1".into()).url.as_deref(),
            Some("http://127.0.0.1:8080/jira/browse/SEC-1")
        );
        s.max_attempts = 0;
        assert_eq!(
            setting_of(JiraTracker::new(s, cloud_auth)),
            "jira.max-attempts"
        );
    }

    #[test]
    fn only_issue_keys_reach_a_url() {
        let r = |key: &str| TicketRef {
            tracker: "jira".into(),
            key: key.into(),
            url: None,
        };
        assert!(checked_key(&r("SEC-12")).is_ok());
        assert!(checked_key(&r("MY_PROJ-1")).is_ok());
        for bad in ["", "../../admin", "SEC-1?x=1", "SEC 1", "SEC-1/comment"] {
            assert!(checked_key(&r(bad)).is_err(), "{bad}");
        }
    }
}
