//! The Linear adapter: tickets as Linear issues in one team, through Linear's GraphQL API and the
//! shared outbound client. Not here: Linear's webhooks (`scantix_webhooks::linear`), which name
//! tickets by the same identifiers (`SEC-12`).
//!
//! Every call is safe to repeat:
//! - a created issue carries the group's link as an attachment (Linear keeps one attachment per
//!   issue and URL), so `find_by_group_key` finds it again with `attachmentsForURL`; `create`
//!   looks the same way before creating, unless `find_for` just did, and again after an unclear
//!   failure;
//! - the issue is created with an id derived from the group key (`issue::issue_id`), so an issue
//!   whose create answer was lost before its attachment was made is found by id, and attached; a
//!   ticket made again after a person deleted one takes the next generation's id;
//! - a comment is created with an id derived from its `comment_id`, looked for before posting;
//! - edits and moves read the issue and send only what differs; a move is chosen by the workflow
//!   state's *type* (`triage`, `backlog`, `unstarted`, `started`, `completed`, `canceled`), never
//!   its name, and is a no-op when the issue already stands there.
//!
//! # Layout
//! - [`settings`]: `LinearSettings`, `LinearAuth` (never serialised).
//! - [`issue`]: what is sent and read back, as plain values (title, inert Markdown description,
//!   priority, labels, ids, the state to move to).
//! - [`graphql`]: the documents, the single `run`, and `LinearError`.

pub mod graphql;
pub mod issue;
pub mod settings;

pub use graphql::LinearError;
pub use settings::{LinearAuth, LinearSettings};

use async_trait::async_trait;
use graphql::Gql;
use issue::{Stage, WorkflowState};
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::{STALE_LABEL, TicketContent};
use scantix_http::outbound::{ClientSettings, HttpClient, Redirects, Replay, RetryPolicy};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

/// `TicketRef::tracker` of Linear issues.
pub const TRACKER_NAME: &str = "linear";

/// Tickets in Linear.
pub struct LinearTracker {
    settings: LinearSettings,
    gql: Gql,
    /// The team, looked up once (its id and workflow states).
    team: tokio::sync::OnceCell<Team>,
    /// Label ids by lower-case name, learnt (or made) once each.
    labels: Mutex<HashMap<String, String>>,
    /// The group `find_by_group_key` last looked for and did not find. The executor asks right
    /// before `create`, which then need not look again; any other call in between makes `create`
    /// look itself.
    last_miss: Mutex<Option<GroupKey>>,
}

impl std::fmt::Debug for LinearTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearTracker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Team {
    id: String,
    states: Vec<WorkflowState>,
}

/// An issue as the lookups and creates answer it.
#[derive(Debug, Clone, Deserialize)]
struct IssueRef {
    id: String,
    identifier: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    trashed: Option<bool>,
}

impl IssueRef {
    fn is_live(&self) -> bool {
        self.trashed != Some(true)
    }

    /// Its number (`12` of `SEC-12`), to prefer the oldest of several.
    fn number(&self) -> u64 {
        self.identifier
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(u64::MAX)
    }
}

#[derive(Debug, Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct IssueRead {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<f64>,
    #[serde(default, rename = "dueDate")]
    due_date: Option<String>,
    state: StateRead,
    labels: Nodes<LabelRead>,
    /// Deleted by a person: in the trash, which Linear still answers for (30 days).
    #[serde(default)]
    trashed: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct StateRead {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct LabelRead {
    id: String,
    name: String,
}

impl LinearTracker {
    /// Checks the settings and builds the client (once: it pools connections, so build the
    /// tracker at cold start and reuse it).
    pub fn new(settings: LinearSettings, auth: LinearAuth) -> Result<LinearTracker, TrackerError> {
        let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message,
        };
        if settings.team.trim().is_empty() {
            return Err(misconfigured(
                "linear.team",
                "the team key is empty (the letters issue identifiers start with, e.g. SEC)".into(),
            ));
        }
        for (setting, url) in [
            ("linear.api-url", &settings.api_url),
            ("linear.group-link-base", &settings.group_link_base),
        ] {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| misconfigured(setting, format!("`{url}` is not a URL")))?;
            if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.authority().is_none() {
                return Err(misconfigured(
                    setting,
                    format!("`{url}`: needs http(s)://host"),
                ));
            }
        }
        if settings.max_attempts == 0 {
            return Err(misconfigured(
                "linear.max-attempts",
                "must be at least 1 (1 means no retries)".into(),
            ));
        }
        if settings.request_timeout_secs == 0 {
            return Err(misconfigured(
                "linear.request-timeout-secs",
                "must be at least 1".into(),
            ));
        }
        let timeout = Duration::from_secs(settings.request_timeout_secs);
        let client = HttpClient::new(ClientSettings {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
            // A redirect means a wrong endpoint; the key never follows one.
            redirects: Redirects::None,
            retry: RetryPolicy {
                max_attempts: settings.max_attempts,
                backoff_base: Duration::from_millis(500),
                max_backoff: Duration::from_secs(10),
                // Rate limits go back to the group's outbox at once: Linear's limits are per
                // hour, and waiting inside a call holds the worker for nothing.
                max_rate_limit_wait: Duration::ZERO,
            },
            ..ClientSettings::new("linear")
        })
        .map_err(|e| TrackerError::Failed(e.to_string()))?;
        Ok(LinearTracker {
            gql: Gql {
                client,
                url: settings.api_url.clone(),
                auth,
            },
            settings,
            team: tokio::sync::OnceCell::new(),
            labels: Mutex::new(HashMap::new()),
            last_miss: Mutex::new(None),
        })
    }

    /// Sets the first retry delay (doubling from there; 500 ms by default). Tests make it small.
    pub fn with_backoff_base(mut self, base: Duration) -> LinearTracker {
        let policy = RetryPolicy {
            backoff_base: base,
            ..*self.gql.client.retry_policy()
        };
        self.gql.client = self.gql.client.clone().with_retry(policy);
        self
    }

    pub fn settings(&self) -> &LinearSettings {
        &self.settings
    }

    fn fail(&self, e: LinearError, ticket: Option<&str>) -> TrackerError {
        e.into_tracker(&self.gql.auth, ticket)
    }

    fn reference(&self, issue: &IssueRef) -> TicketRef {
        TicketRef {
            tracker: TRACKER_NAME.into(),
            key: issue.identifier.clone(),
            url: issue.url.clone(),
        }
    }

    fn link(&self, group: &GroupKey) -> String {
        issue::group_link(&self.settings.group_link_base, group)
    }

    fn lock_last_miss(&self) -> std::sync::MutexGuard<'_, Option<GroupKey>> {
        self.last_miss
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_labels(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The team and its workflow states, asked of Linear once per process.
    async fn team(&self) -> Result<&Team, LinearError> {
        self.team
            .get_or_try_init(|| async {
                #[derive(Deserialize)]
                struct Answer {
                    teams: Nodes<TeamRead>,
                }
                #[derive(Deserialize)]
                struct TeamRead {
                    id: String,
                    states: Nodes<WorkflowState>,
                }
                let key = self.settings.team.trim();
                let answer: Answer = self
                    .gql
                    .run(
                        "ScantixTeam",
                        graphql::TEAM,
                        json!({ "key": key }),
                        Replay::Safe,
                    )
                    .await?;
                let team = answer.teams.nodes.into_iter().next().ok_or_else(|| {
                    LinearError::Misconfigured {
                        setting: "linear.team".into(),
                        message: format!(
                            "Linear has no team with key `{key}` that this credential can see"
                        ),
                    }
                })?;
                Ok::<Team, LinearError>(Team {
                    id: team.id,
                    states: team.states.nodes,
                })
            })
            .await
    }

    /// The ids of the labels named (case-insensitively), the team's own preferred over the
    /// workspace's; a name neither has is made in the team.
    async fn label_ids(&self, names: &[String]) -> Result<Vec<String>, LinearError> {
        let missing: Vec<String> = {
            let known = self.lock_labels();
            names
                .iter()
                .filter(|n| !known.contains_key(&n.to_lowercase()))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let team = self.team().await?.id.clone();
            self.learn_labels(&missing, &team).await?;
            for name in &missing {
                if self.lock_labels().contains_key(&name.to_lowercase()) {
                    continue;
                }
                #[derive(Deserialize)]
                struct Answer {
                    #[serde(rename = "issueLabelCreate")]
                    created: Created,
                }
                #[derive(Deserialize)]
                struct Created {
                    #[serde(rename = "issueLabel")]
                    label: LabelRead,
                }
                let input = json!({ "input": { "name": name, "teamId": team } });
                let created = self
                    .gql
                    .run::<Answer>(
                        "ScantixLabelCreate",
                        graphql::LABEL_CREATE,
                        input,
                        Replay::Unsafe,
                    )
                    .await;
                match created {
                    Ok(answer) => {
                        tracing::info!(label = %answer.created.label.name, "linear label made");
                        self.lock_labels()
                            .insert(name.to_lowercase(), answer.created.label.id);
                    }
                    // Made meanwhile by someone else (label names are unique per team), or the
                    // answer was lost: read it back.
                    Err(e @ (LinearError::Refused { .. } | LinearError::Ambiguous(_))) => {
                        self.learn_labels(std::slice::from_ref(name), &team).await?;
                        if !self.lock_labels().contains_key(&name.to_lowercase()) {
                            return Err(e);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let known = self.lock_labels();
        Ok(names
            .iter()
            .filter_map(|n| known.get(&n.to_lowercase()).cloned())
            .collect())
    }

    /// Reads the labels named from Linear into the cache.
    async fn learn_labels(&self, names: &[String], team: &str) -> Result<(), LinearError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "issueLabels")]
            labels: Nodes<Found>,
        }
        #[derive(Deserialize)]
        struct Found {
            id: String,
            name: String,
            #[serde(default)]
            team: Option<TeamId>,
        }
        #[derive(Deserialize)]
        struct TeamId {
            id: String,
        }
        let answer: Answer = self
            .gql
            .run(
                "ScantixLabels",
                graphql::LABELS,
                json!({ "names": names }),
                Replay::Safe,
            )
            .await?;
        let mut known = self.lock_labels();
        // Workspace labels first, so that the team's own label of the same name wins.
        let (own, workspace): (Vec<Found>, Vec<Found>) = answer
            .labels
            .nodes
            .into_iter()
            .filter(|l| l.team.as_ref().is_none_or(|t| t.id == team))
            .partition(|l| l.team.is_some());
        for label in workspace.into_iter().chain(own) {
            known.insert(label.name.to_lowercase(), label.id);
        }
        Ok(())
    }

    /// Runs `flow` again while it fails ambiguously (a create or comment whose outcome is unknown),
    /// with backoff between runs. Each flow starts by checking whether its earlier run took
    /// effect, which is what makes running it again safe.
    async fn repeat<T, F, Fut>(&self, mut flow: F) -> Result<T, LinearError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, LinearError>>,
    {
        let max = self.gql.client.retry_policy().max_attempts;
        let mut attempt = 1;
        loop {
            match flow(attempt).await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_ambiguous() && attempt < max => {
                    tracing::info!(
                        attempt,
                        "linear call outcome unknown; checking, then repeating"
                    );
                    tokio::time::sleep(self.gql.client.retry_policy().backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The group's issue by its link: the oldest live issue carrying it.
    async fn find_by_link(&self, group: &GroupKey) -> Result<Option<IssueRef>, LinearError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "attachmentsForURL")]
            attachments: Nodes<Attachment>,
        }
        #[derive(Deserialize)]
        struct Attachment {
            issue: IssueRef,
        }
        let answer: Answer = self
            .gql
            .run(
                "ScantixFindByLink",
                graphql::FIND_BY_LINK,
                json!({ "url": self.link(group) }),
                Replay::Safe,
            )
            .await?;
        let mut live: Vec<IssueRef> = answer
            .attachments
            .nodes
            .into_iter()
            .map(|a| a.issue)
            .filter(IssueRef::is_live)
            .collect();
        live.sort_by_key(IssueRef::number);
        live.dedup_by(|a, b| a.id == b.id);
        if live.len() > 1 {
            let keys: Vec<&str> = live.iter().map(|i| i.identifier.as_str()).collect();
            tracing::warn!(group = %group, ?keys, "more than one Linear issue carries the group's link; using the oldest");
        }
        Ok(live.into_iter().next())
    }

    /// The group's issue by its derived ids: a live one if any, and the first generation whose id
    /// is still free (a deleted issue keeps its id in Linear's trash).
    async fn find_by_ids(&self, group: &GroupKey) -> Result<(Option<IssueRef>, u32), LinearError> {
        #[derive(Deserialize)]
        struct Answer {
            issues: Nodes<IssueRef>,
        }
        let ids: Vec<String> = (0..issue::ID_GENERATIONS)
            .map(|g| issue::issue_id(group, g))
            .collect();
        let answer: Answer = self
            .gql
            .run(
                "ScantixFindByIds",
                graphql::FIND_BY_IDS,
                json!({ "ids": ids }),
                Replay::Safe,
            )
            .await?;
        let found = answer.issues.nodes;
        let live = found
            .iter()
            .filter(|i| i.is_live())
            .min_by_key(|i| i.number())
            .cloned();
        let free = ids
            .iter()
            .position(|id| !found.iter().any(|i| &i.id == id))
            .map(|g| g as u32);
        match (live, free) {
            (live @ Some(_), _) => Ok((live, 0)),
            (None, Some(generation)) => Ok((None, generation)),
            (None, None) => Err(LinearError::Refused {
                operation: "ScantixIssueCreate".into(),
                message: format!(
                    "the group's ticket was deleted {} times; restore one from Linear's trash",
                    issue::ID_GENERATIONS
                ),
            }),
        }
    }

    /// Attaches the group's link to the issue (by its id). Linear updates the attachment that has
    /// this URL on this issue instead of adding a second: repeating it is harmless.
    async fn attach(&self, issue_id: &str, group: &GroupKey) -> Result<(), LinearError> {
        let input = json!({ "input": {
            "issueId": issue_id,
            "url": self.link(group),
            "title": "scantix group",
            "subtitle": group.as_str(),
        }});
        self.gql
            .run::<Value>("ScantixAttach", graphql::ATTACH, input, Replay::Safe)
            .await
            .map(|_| ())
    }

    /// One create, checked before it is sent (see the module doc).
    async fn create_once(
        &self,
        content: &TicketContent,
        look_first: bool,
    ) -> Result<IssueRef, LinearError> {
        let group = &content.group_key;
        if look_first && let Some(found) = self.find_by_link(group).await? {
            return Ok(found);
        }
        let (earlier, generation) = self.find_by_ids(group).await?;
        if let Some(issue) = earlier {
            tracing::info!(issue = %issue.identifier, group = %group, "linear issue found by its id; attaching the group's link");
            self.attach(&issue.id, group).await?;
            return Ok(issue);
        }
        let team = self.team().await?.id.clone();
        let labels = self.label_ids(&issue::label_names(content)).await?;
        let id = issue::issue_id(group, generation);
        let mut input = json!({
            "id": id,
            "teamId": team,
            "title": issue::title(&content.title),
            "description": issue::description(content),
            "priority": issue::priority(content.severity),
            "labelIds": labels,
        });
        if let Some(due) = content.due {
            input["dueDate"] = json!(due.format("%Y-%m-%d").to_string());
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(rename = "issueCreate")]
            created: Created,
        }
        #[derive(Deserialize)]
        struct Created {
            issue: Option<IssueRef>,
        }
        let sent = self
            .gql
            .run::<Answer>(
                "ScantixIssueCreate",
                graphql::CREATE,
                json!({ "input": input }),
                Replay::Unsafe,
            )
            .await;
        let created = match sent {
            Ok(Answer {
                created: Created { issue: Some(issue) },
            }) => issue,
            Ok(_) => {
                return Err(LinearError::Unexpected {
                    operation: "ScantixIssueCreate".into(),
                    why: "no issue in the answer".into(),
                });
            }
            // Another run created the issue with this id a moment ago (two workers racing on one
            // group): it is the ticket.
            Err(e @ LinearError::Refused { .. }) => match self.find_by_ids(group).await? {
                (Some(issue), _) => {
                    tracing::info!(issue = %issue.identifier, "linear issue created meanwhile by another run");
                    issue
                }
                (None, _) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        self.attach(&created.id, group).await?;
        Ok(created)
    }

    async fn read(&self, key: &str) -> Result<IssueRead, LinearError> {
        #[derive(Deserialize)]
        struct Answer {
            issue: IssueRead,
        }
        let answer: Answer = self
            .gql
            .run(
                "ScantixIssue",
                graphql::READ,
                json!({ "id": key }),
                Replay::Safe,
            )
            .await?;
        // A trashed issue is no ticket (as `find_by_link` sees it): the group gets a new one.
        if answer.issue.trashed == Some(true) {
            return Err(LinearError::NotFound("Issue".into()));
        }
        Ok(answer.issue)
    }

    /// The id of the one user `who` names (see [`graphql::USERS`]).
    async fn user_id(&self, who: &str) -> Result<String, TrackerError> {
        #[derive(Deserialize)]
        struct Answer {
            users: Users,
        }
        #[derive(Deserialize)]
        struct Users {
            nodes: Vec<User>,
        }
        #[derive(Deserialize)]
        struct User {
            id: String,
        }
        let answer: Answer = self
            .gql
            .run(
                "ScantixUsers",
                graphql::USERS,
                json!({ "who": who }),
                Replay::Safe,
            )
            .await
            .map_err(|e| self.fail(e, None))?;
        let mut users = answer.users.nodes.into_iter();
        match (users.next(), users.next()) {
            (Some(user), None) => Ok(user.id),
            (None, _) => Err(TrackerError::Misconfigured {
                setting: "owners".into(),
                message: format!("no Linear user has the email, name or display name {who:?}"),
            }),
            (Some(_), Some(_)) => Err(TrackerError::Misconfigured {
                setting: "owners".into(),
                message: format!(
                    "more than one Linear user answers to {who:?}: name them by email"
                ),
            }),
        }
    }

    async fn edit(&self, key: &str, input: Map<String, Value>) -> Result<(), LinearError> {
        // Sets values (and adds or removes labels by id): sending it twice leaves the issue as once.
        self.gql
            .run::<Value>(
                "ScantixIssueUpdate",
                graphql::UPDATE,
                json!({ "id": key, "input": input }),
                Replay::Safe,
            )
            .await
            .map(|_| ())
    }

    /// Moves the issue to a state of `stage` (or puts the stale label on, for `None`).
    async fn move_to(&self, key: &str, stage: Option<Stage>) -> Result<(), LinearError> {
        let current = self.read(key).await?;
        let stale: Vec<&str> = current
            .labels
            .nodes
            .iter()
            .filter(|l| l.name.eq_ignore_ascii_case(STALE_LABEL))
            .map(|l| l.id.as_str())
            .collect();
        let mut input = Map::new();
        match stage {
            None => {
                if stale.is_empty() {
                    // Learnt (or made in the team) only when a ticket first goes stale.
                    let id = self.label_ids(&[STALE_LABEL.to_owned()]).await?;
                    input.insert("addedLabelIds".into(), json!(id));
                }
            }
            Some(stage) => {
                let team = self.team().await?;
                let chosen = issue::choose_state(&team.states, &current.state.kind, stage)
                    .map_err(|message| LinearError::Misconfigured {
                        setting: "linear.team".into(),
                        message: format!("{key}: {message}"),
                    })?;
                if let Some(state) = chosen
                    && state.id != current.state.id
                {
                    tracing::info!(issue = key, state = %state.name, kind = %state.kind, "linear issue moved");
                    input.insert("stateId".into(), json!(state.id));
                }
                // Leaving Stale, by whichever state: the label goes.
                if !stale.is_empty() {
                    input.insert("removedLabelIds".into(), json!(stale));
                }
            }
        }
        if input.is_empty() {
            return Ok(());
        }
        self.edit(key, input).await
    }

    async fn comment_once(&self, key: &str, id: &str, body: &str) -> Result<(), LinearError> {
        #[derive(Deserialize)]
        struct Answer {
            comments: Nodes<Value>,
            issue: Trashed,
        }
        #[derive(Deserialize)]
        struct Trashed {
            #[serde(default)]
            trashed: Option<bool>,
        }
        let find = || async {
            let answer: Answer = self
                .gql
                .run(
                    "ScantixCommentFind",
                    graphql::COMMENT_FIND,
                    json!({ "id": id, "issue": key }),
                    Replay::Safe,
                )
                .await?;
            // No comment on a trashed issue: it is no ticket any more (see `read`).
            if answer.issue.trashed == Some(true) {
                return Err(LinearError::NotFound("Issue".into()));
            }
            Ok::<bool, LinearError>(!answer.comments.nodes.is_empty())
        };
        if find().await? {
            tracing::debug!(issue = key, "comment already there");
            return Ok(());
        }
        let input = json!({ "input": { "id": id, "issueId": key, "body": body } });
        match self
            .gql
            .run::<Value>("ScantixComment", graphql::COMMENT, input, Replay::Unsafe)
            .await
        {
            Ok(_) => Ok(()),
            // Posted meanwhile under the same id (a lost answer, a racing run).
            Err(e @ LinearError::Refused { .. }) => match find().await? {
                true => Ok(()),
                false => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// The issue identifier of `ticket`, refused when it did not come from Linear.
fn checked_key(ticket: &TicketRef) -> Result<&str, TrackerError> {
    if issue::is_identifier(&ticket.key) {
        Ok(&ticket.key)
    } else {
        Err(TrackerError::Failed(format!(
            "`{}` is not a Linear issue identifier",
            ticket.key.chars().take(40).collect::<String>()
        )))
    }
}

#[async_trait]
impl Tracker for LinearTracker {
    fn name(&self) -> &str {
        TRACKER_NAME
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        let found = self
            .find_by_link(key)
            .await
            .map_err(|e| self.fail(e, None))?;
        *self.lock_last_miss() = found.is_none().then(|| key.clone());
        Ok(found.map(|issue| self.reference(&issue)))
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let group = &content.group_key;
        let just_looked = {
            let mut last = self.lock_last_miss();
            // Used once: a later create looks again.
            last.take().is_some_and(|g| g == *group)
        };
        let created = self
            .repeat(|attempt| self.create_once(content, attempt > 1 || !just_looked))
            .await
            .map_err(|e| self.fail(e, None))?;
        tracing::info!(issue = %created.identifier, group = %group, "linear issue created");
        Ok((self.reference(&created), TicketState::Open))
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        let run = async {
            let current = self.read(key).await?;
            let wanted = self.label_ids(&issue::label_names(content)).await?;
            let mut input = Map::new();
            let title = issue::title(&content.title);
            if current.title != title {
                input.insert("title".into(), json!(title));
            }
            let description = issue::description(content);
            if current.description.as_deref() != Some(description.as_str()) {
                input.insert("description".into(), json!(description));
            }
            let priority = issue::priority(content.severity);
            if current.priority.map(|p| p as i64) != Some(priority) {
                input.insert("priority".into(), json!(priority));
            }
            let due = content.due.map(|d| d.format("%Y-%m-%d").to_string());
            if due.is_some() && current.due_date != due {
                input.insert("dueDate".into(), json!(due));
            }
            let has: Vec<&str> = current.labels.nodes.iter().map(|l| l.id.as_str()).collect();
            let added: Vec<&String> = wanted
                .iter()
                .filter(|id| !has.contains(&id.as_str()))
                .collect();
            if !added.is_empty() {
                input.insert("addedLabelIds".into(), json!(added));
            }
            // A severity label that no longer applies goes; people's labels stay.
            let removed: Vec<&str> = current
                .labels
                .nodes
                .iter()
                .filter(|l| {
                    l.name.to_lowercase().starts_with("severity:") && !wanted.contains(&l.id)
                })
                .map(|l| l.id.as_str())
                .collect();
            if !removed.is_empty() {
                input.insert("removedLabelIds".into(), json!(removed));
            }
            if input.is_empty() {
                return Ok(());
            }
            self.edit(key, input).await
        };
        run.await.map_err(|e| self.fail(e, Some(key)))
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        let id = issue::comment_uuid(key, comment_id);
        let body = issue::comment_body(text);
        self.repeat(|_| self.comment_once(key, &id, &body))
            .await
            .map_err(|e| self.fail(e, Some(key)))
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        self.move_to(key, issue::stage_for(to))
            .await
            .map_err(|e| self.fail(e, Some(key)))
    }

    /// Moves the issue to a `canceled` state: Linear's "won't do".
    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        self.move_to(key, Some(Stage::Canceled))
            .await
            .map_err(|e| self.fail(e, Some(key)))
    }

    /// Sets the issue's assignee (`assigneeId`), the user looked up by email, name or display
    /// name (how the owners map and `scantix tickets … assign` name people); `None` unassigns.
    async fn assign(&self, ticket: &TicketRef, assignee: Option<&str>) -> Result<(), TrackerError> {
        let key = checked_key(ticket)?;
        let id = match assignee {
            None => Value::Null,
            Some(who) => Value::String(self.user_id(who).await?),
        };
        let mut input = Map::new();
        input.insert("assigneeId".into(), id);
        self.edit(key, input)
            .await
            .map_err(|e| self.fail(e, Some(key)))
    }

    /// The credential's user (`viewer`): the `actor.id` Linear's webhooks name on scantix's own
    /// changes.
    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        #[derive(Deserialize)]
        struct Answer {
            viewer: Viewer,
        }
        #[derive(Deserialize)]
        struct Viewer {
            id: String,
        }
        let answer: Answer = self
            .gql
            .run("ScantixViewer", graphql::VIEWER, json!({}), Replay::Safe)
            .await
            .map_err(|e| self.fail(e, None))?;
        Ok(vec![answer.viewer.id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scantix_core::secret::Secret;

    fn with(settings: LinearSettings) -> Result<LinearTracker, TrackerError> {
        LinearTracker::new(
            settings,
            LinearAuth::ApiKey(Secret::new("lin_api_very_secret")),
        )
    }

    fn setting_of(r: Result<LinearTracker, TrackerError>) -> String {
        match r {
            Err(TrackerError::Misconfigured { setting, .. }) => setting,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn settings_are_checked_up_front_and_the_key_never_shows() {
        let tracker = with(LinearSettings::new("SEC")).unwrap();
        assert_eq!(tracker.name(), "linear");
        assert!(!format!("{tracker:?}").contains("very_secret"));
        assert_eq!(setting_of(with(LinearSettings::new(" "))), "linear.team");
        let bad_url = LinearSettings {
            api_url: "ftp://x".into(),
            ..LinearSettings::new("SEC")
        };
        assert_eq!(setting_of(with(bad_url)), "linear.api-url");
        let no_attempts = LinearSettings {
            max_attempts: 0,
            ..LinearSettings::new("SEC")
        };
        assert_eq!(setting_of(with(no_attempts)), "linear.max-attempts");
    }

    #[tokio::test]
    async fn keys_that_did_not_come_from_linear_reach_no_request() {
        let tracker = with(LinearSettings {
            // Nothing listens here: a request would fail as unavailable, not as refused.
            api_url: "http://127.0.0.1:9/graphql".into(),
            ..LinearSettings::new("SEC")
        })
        .unwrap();
        for bad in ["SEC", "acme/shop#1", "SEC-1\") { x }"] {
            let ticket = TicketRef {
                tracker: "linear".into(),
                key: bad.into(),
                url: None,
            };
            let err = tracker
                .transition(&ticket, TicketState::Resolved)
                .await
                .unwrap_err();
            assert!(matches!(err, TrackerError::Failed(_)), "{bad}: {err}");
        }
    }
}
