//! Pull request feedback end to end: real `pull_request` and `code_scanning_alert` deliveries
//! (octokit's examples, with refs and numbers edited here as a pull request's life needs) through
//! the GitHub webhook handler, scantix talking to the fake GitHub (every request checked against
//! GitHub's REST description) through the octocrab adapter, tickets kept by the draft tracker.
//!
//! The pull request is octokit's Codertocat/Hello-World#2 ("Update the README with new
//! information."), moved to the repository id of octokit's code scanning examples so that both
//! describe one repository.

use github_webhook::handle;
use lambda_http::Body;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::GithubIngest;
use scantix_app::sync::Syncer;
use scantix_core::config::{Config, WhenAllFixed};
use scantix_core::decide::triage::plain;
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use scantix_core::finding::{AlertKind, AlertState, DismissReason, Finding, Repository};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::github::{AlertPage, AlertQuery, GitHub, GitHubError, IssueComment};
use scantix_core::ports::store::Store;
use scantix_core::records::{PullRequestState, TicketState, Triage};
use scantix_core::secret::Secret;
use scantix_github::rest::{RestAuth, RestGitHub};
use scantix_tests::fake_github::{FakeComment, FakeGitHub, PLAIN_TOKEN, RecordedRequest};
use scantix_tests::webhooks::{SECRET, delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;

const OWNER: &str = "Codertocat";
const NAME: &str = "Hello-World";
/// The repository id of octokit's code scanning examples.
const REPO_ID: u64 = 337911632;
const PR: u64 = 2;
const PR_REF: &str = "refs/pull/2/merge";
const BASE_REF: &str = "refs/heads/master";
const BOOK_SERVICE: &str = "src/main/java/com/github/demo/service/BookService.java";
const MARKER: &str = "<!-- scantix:pr-summary -->";

struct World {
    fake: FakeGitHub,
    store: Arc<MemoryStore>,
    ingest: GithubIngest,
}

async fn world(config: Config) -> World {
    let fake = FakeGitHub::start().await;
    let github = RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a client of the fake GitHub");
    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(DraftTracker::new());
    let executor = Executor::new(store.clone(), tracker, config).with_github(Arc::new(github));
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor));
    World {
        fake,
        store,
        ingest,
    }
}

impl World {
    async fn send(&self, event: &str, delivery: &str, body: &[u8]) -> Value {
        let response = handle(&self.ingest, delivery_request(event, delivery, body, None))
            .await
            .expect("the handler never errors");
        let status = response.status().as_u16();
        let answer: Value = match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("a JSON answer"),
            other => panic!("unexpected body {other:?}"),
        };
        assert_eq!(status, 200, "{event} {delivery}: {answer}");
        answer
    }

    /// The requests to the pull request's comments (list, create, edit), oldest first.
    fn comment_requests(&self) -> Vec<RecordedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.contains("/issues/") && r.path.contains("comments"))
            .collect()
    }

    fn posts(&self) -> usize {
        self.fake.count(
            "POST",
            &format!("/repos/{OWNER}/{NAME}/issues/{PR}/comments"),
        )
    }

    fn edits(&self) -> usize {
        self.fake
            .count("PATCH", &format!("/repos/{OWNER}/{NAME}/issues/comments/*"))
    }

    /// The pull request's conversation as GitHub now shows it.
    fn conversation(&self) -> Vec<FakeComment> {
        self.fake.comments(OWNER, NAME, PR)
    }

    /// The summary as GitHub now shows it: the one comment of scantix's carrying the marker.
    fn summary(&self) -> String {
        let ours: Vec<FakeComment> = self
            .conversation()
            .into_iter()
            .filter(|c| c.author.ends_with("[bot]") && c.body.contains(MARKER))
            .collect();
        assert_eq!(ours.len(), 1, "one summary comment: {ours:#?}");
        ours[0].body.clone()
    }
}

// ----- deliveries -----------------------------------------------------------------------------

/// Octokit's `pull_request` example `file`, with `action` and `merged` as given, in REPO_ID.
fn pull_request(file: &str, action: &str, merged: bool) -> Vec<u8> {
    varied(
        &octokit(&format!("pull_request/{file}")),
        &[
            ("action", json!(action)),
            ("repository.id", json!(REPO_ID)),
            ("pull_request.merged", json!(merged)),
        ],
    )
}

/// Octokit's code scanning `created` example as alert `number` at `BOOK_SERVICE`:`line`, seen on
/// `git_ref`, with `action`.
fn alert_delivery(action: &str, number: u64, line: u64, git_ref: &str) -> Vec<u8> {
    let source = if action == "fixed" {
        "code_scanning_alert/fixed.payload.json"
    } else {
        "code_scanning_alert/created.payload.json"
    };
    let mut edits = vec![
        ("action", json!(action)),
        ("ref", json!(git_ref)),
        ("alert.number", json!(number)),
        (
            "alert.html_url",
            json!(format!(
                "https://github.com/{OWNER}/{NAME}/security/code-scanning/{number}"
            )),
        ),
        ("alert.instances.0.ref", json!(git_ref)),
        ("alert.instances.0.location.start_line", json!(line)),
        ("alert.instances.0.location.end_line", json!(line)),
        ("repository.id", json!(REPO_ID)),
    ];
    if action == "fixed" {
        edits.push(("alert.most_recent_instance.ref", json!(git_ref)));
    }
    varied(&octokit(source), &edits)
}

/// The same alert as GitHub's REST API lists it for `git_ref`, in `state` there (the webhook's
/// `alert` has the REST alert's shape; the listing adds `most_recent_instance`).
fn listed(number: u64, line: u64, git_ref: &str, state: &str) -> Value {
    let delivery: Value =
        serde_json::from_slice(&alert_delivery("created", number, line, git_ref)).unwrap();
    let mut alert = delivery["alert"].clone();
    let mut instance = alert["instances"][0].clone();
    instance["state"] = json!(state);
    alert["most_recent_instance"] = instance;
    alert["state"] = if git_ref == BASE_REF {
        json!(state)
    } else {
        // An alert found only off the default branch has no state of its own.
        Value::Null
    };
    alert
}

/// Base alert 10 is open on the default branch and ticketed.
async fn seed_base_ticket(world: &World) -> String {
    world.fake.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        listed(10, 84, BASE_REF, "open"),
    );
    let answer = world
        .send(
            "code_scanning_alert",
            "base-10",
            &alert_delivery("created", 10, 84, BASE_REF),
        )
        .await;
    assert_eq!(answer["outcome"]["actions"][0]["action"], "create_ticket");
    answer["outcome"]["ticket"]["key"]
        .as_str()
        .expect("a draft ticket")
        .to_owned()
}

fn actions(answer: &Value) -> Vec<String> {
    answer["outcome"]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["action"].as_str().map(str::to_owned))
        .collect()
}

// ----- scenarios ------------------------------------------------------------------------------

#[tokio::test]
async fn a_pull_request_gets_one_summary_edited_in_place_and_its_merge_names_it_on_the_ticket() {
    let world = world(Config::default()).await;
    let ticket = seed_base_ticket(&world).await;
    let before_pr = scantix_tests::stored::ticket_by_key(&*world.store, "draft", &ticket).await;
    // A reviewer quotes the marker: their comment must never be taken for scantix's.
    let quoted = format!("Why does the bot write {MARKER}?");
    world
        .fake
        .add_comment(OWNER, NAME, PR, &quoted, "Codertocat");
    world.fake.clear_requests();

    // Opened before any analysis: nothing to say, nothing posted.
    let opened = world
        .send(
            "pull_request",
            "pr-opened",
            &pull_request("opened.payload.json", "opened", false),
        )
        .await;
    assert_eq!(actions(&opened), ["pull_request_noted"]);
    assert_eq!(world.posts(), 0);
    let opened_calls = world.fake.requests().len();

    // The analysis of the pull request: two alerts of its own, and alert 10 gone.
    world.fake.set_ref_alerts(
        OWNER,
        NAME,
        PR_REF,
        vec![
            listed(31, 120, PR_REF, "open"),
            listed(32, 140, PR_REF, "open"),
            listed(10, 84, PR_REF, "fixed"),
        ],
    );
    world.fake.clear_requests();
    let first = world
        .send(
            "code_scanning_alert",
            "pr-31",
            &alert_delivery("created", 31, 120, PR_REF),
        )
        .await;
    assert_eq!(actions(&first), ["record", "pull_request_summary"]);
    let first_calls = world.fake.requests().len();
    let second = world
        .send(
            "code_scanning_alert",
            "pr-32",
            &alert_delivery("created", 32, 140, PR_REF),
        )
        .await;
    assert_eq!(
        actions(&second),
        ["record"],
        "the summary is unchanged: {second}"
    );
    assert_eq!(
        (world.posts(), world.edits()),
        (1, 0),
        "one comment, posted once"
    );
    // Alert 10 fixed on the pull request's ref: the default branch still has it, so its ticket
    // stays as it is until the merge; the summary already says the pull request resolves it.
    let fixed_on_pr = world
        .send(
            "code_scanning_alert",
            "pr-10-fixed",
            &alert_delivery("fixed", 10, 84, PR_REF),
        )
        .await;
    assert_eq!(actions(&fixed_on_pr), ["nothing"], "{fixed_on_pr}");
    let draft = scantix_tests::stored::ticket_by_key(&*world.store, "draft", &ticket).await;
    assert_eq!(
        (draft.state, draft.comments.len()),
        (before_pr.state, before_pr.comments.len())
    );
    assert_eq!(world.edits(), 0, "nothing new to say");
    let summary = world.summary();
    assert!(summary.starts_with(MARKER), "{summary}");
    for expected in [
        "**2 new alerts**",
        "[alert 31](<https://github.com/Codertocat/Hello-World/security/code-scanning/31>)",
        "[alert 32](<https://github.com/Codertocat/Hello-World/security/code-scanning/32>)",
        &format!("` {BOOK_SERVICE}:120 `"),
        "` java/sql-injection ` Query built from user\\-controlled sources",
        "**Would resolve 1 existing ticket**",
        &format!("{} — [alert 10]", ticket.replace('-', "\\-")),
    ] {
        assert!(summary.contains(expected), "lacks {expected:?}:\n{summary}");
    }

    // A second push: 31 fixed, 33 new. The same comment is edited.
    world.fake.set_ref_alerts(
        OWNER,
        NAME,
        PR_REF,
        vec![
            listed(32, 140, PR_REF, "open"),
            listed(33, 160, PR_REF, "open"),
            listed(10, 84, PR_REF, "fixed"),
        ],
    );
    world.fake.clear_requests();
    let pushed = world
        .send(
            "pull_request",
            "pr-sync",
            &pull_request("synchronize.payload.json", "synchronize", false),
        )
        .await;
    assert_eq!(actions(&pushed), ["pull_request_summary"]);
    assert_eq!(pushed["outcome"]["actions"][0]["comment"], "edited");
    assert_eq!(
        (world.posts(), world.edits()),
        (0, 1),
        "edited, not posted again"
    );
    let sync_calls = world.fake.requests().len();
    let summary = world.summary();
    assert!(
        summary.contains("alert 33") && !summary.contains("alert 31"),
        "{summary}"
    );

    // Merged: the ticket gets a note naming the pull request, the comment its final word.
    world.fake.clear_requests();
    let merged = world
        .send(
            "pull_request",
            "pr-merged",
            &pull_request("closed.payload.json", "closed", true),
        )
        .await;
    assert_eq!(
        actions(&merged),
        ["pull_request_summary", "pull_request_fixes"],
        "{merged}"
    );
    assert!(world.summary().contains("**Merged.**"));
    let merge_calls = world.fake.requests().len();
    let draft = scantix_tests::stored::ticket_by_key(&*world.store, "draft", &ticket).await;
    let note = draft
        .comments
        .iter()
        .find(|c| c.contains("Pull request #2"))
        .cloned()
        .expect("a comment naming the pull request");
    assert!(
        note.starts_with(
            "Pull request #2 (Update the README with new information.) merged; it fixes alert 10"
        ),
        "{note}"
    );
    assert!(
        note.contains("https://github.com/Codertocat/Hello-World/pull/2"),
        "{note}"
    );

    // GitHub analyses the default branch: alert 10 is fixed there, the ticket goes stale.
    let fixed = world
        .send(
            "code_scanning_alert",
            "base-10-fixed",
            &alert_delivery("fixed", 10, 84, BASE_REF),
        )
        .await;
    assert_eq!(fixed["outcome"]["ticket_state"], "stale", "{fixed}");
    let draft = scantix_tests::stored::ticket_by_key(&*world.store, "draft", &ticket).await;
    assert!(draft.comments.last().unwrap().contains("Marked stale"));

    // The pull request's own alerts never became tickets: the one draft is alert 10's.
    let drafts = scantix_tests::stored::groups(&*world.store)
        .await
        .into_iter()
        .filter(|g| g.value.is_draft())
        .count();
    assert_eq!(drafts, 1);
    let record = world
        .store
        .get_pull_request(REPO_ID, PR)
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(record.state, PullRequestState::Merged);
    assert_eq!(record.lease, None);
    // The conversation: the reviewer's comment untouched, and one summary, edited twice.
    let conversation = world.conversation();
    assert_eq!(conversation.len(), 2, "{conversation:#?}");
    assert_eq!(
        (conversation[0].body.as_str(), conversation[0].updates),
        (quoted.as_str(), 0)
    );
    assert_eq!(conversation[1].updates, 2);
    assert_eq!(record.comment_id, Some(conversation[1].id));
    world.fake.assert_no_violations();
    println!(
        "GitHub calls: opened before analysis {opened_calls}, first summary {first_calls}, \
         push {sync_calls}, merge {merge_calls}"
    );
}

#[tokio::test]
async fn merging_closes_the_ticket_when_so_configured_and_the_note_is_queued_once() {
    let world = world(Config {
        when_all_fixed: WhenAllFixed::Close,
        ..Config::default()
    })
    .await;
    let ticket = seed_base_ticket(&world).await;
    world
        .fake
        .set_ref_alerts(OWNER, NAME, PR_REF, vec![listed(10, 84, PR_REF, "fixed")]);
    world
        .send(
            "pull_request",
            "opened",
            &pull_request("opened.payload.json", "opened", false),
        )
        .await;
    let merge = pull_request("closed.payload.json", "closed", true);
    world.send("pull_request", "merged", &merge).await;
    // A redelivery, and the same merge under another delivery id: no second note.
    let again = world.send("pull_request", "merged", &merge).await;
    assert_eq!(again["status"], "duplicate");
    world.send("pull_request", "merged-copy", &merge).await;
    world
        .send(
            "code_scanning_alert",
            "fixed",
            &alert_delivery("fixed", 10, 84, BASE_REF),
        )
        .await;
    let draft = scantix_tests::stored::ticket_by_key(&*world.store, "draft", &ticket).await;
    let notes = draft
        .comments
        .iter()
        .filter(|c| c.contains("Pull request #2"))
        .count();
    assert_eq!(notes, 1, "{:?}", draft.comments);
    assert_eq!(draft.state, TicketState::Resolved);
    world.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deliveries_for_one_pull_request_make_one_comment() {
    let world = Arc::new(world(Config::default()).await);
    seed_base_ticket(&world).await;
    let numbers: Vec<u64> = (40..46).collect();
    world.fake.set_ref_alerts(
        OWNER,
        NAME,
        PR_REF,
        numbers
            .iter()
            .map(|n| listed(*n, *n, PR_REF, "open"))
            .collect(),
    );
    let mut deliveries: Vec<(&str, String, Vec<u8>)> = numbers
        .iter()
        .map(|n| {
            let body = alert_delivery("created", *n, *n, PR_REF);
            ("code_scanning_alert", format!("race-{n}"), body)
        })
        .collect();
    let opened = pull_request("opened.payload.json", "opened", false);
    deliveries.push(("pull_request", "race-opened".into(), opened));
    // All at once, on several threads: every one of them finds no comment when it starts.
    let mut racing = tokio::task::JoinSet::new();
    for (event, id, body) in deliveries {
        let world = world.clone();
        racing.spawn(async move { world.send(event, &id, &body).await });
    }
    while let Some(done) = racing.join_next().await {
        done.expect("a delivery task");
    }
    assert_eq!(world.posts(), 1, "{:#?}", world.comment_requests());
    // Everything after the first post found the same comment: unchanged, or edited in place.
    let summary = world.summary();
    assert!(summary.contains("**6 new alerts**"), "{summary}");
    world.fake.assert_no_violations();
}

/// The GitHub adapter, with a conversation that takes its time to list: long enough that two
/// workers not serialised by the pull request's lease would both find no comment and both post.
struct SlowConversation(RestGitHub);

#[async_trait::async_trait]
impl GitHub for SlowConversation {
    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError> {
        self.0.alert_state(repo, kind, number).await
    }
    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        reason: DismissReason,
        comment: &str,
    ) -> Result<(), GitHubError> {
        self.0
            .dismiss_alert(repo, kind, number, reason, comment)
            .await
    }
    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError> {
        self.0.reopen_alert(repo, kind, number).await
    }
    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError> {
        self.0.list_alerts(repo, kind, query).await
    }
    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError> {
        self.0.read_file(repo, path, git_ref).await
    }
    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.0.upsert_problem_issue(repo, topic, title, body).await
    }
    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let comments = self.0.list_issue_comments(repo, number).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        comments
    }
    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        self.0.create_issue_comment(repo, number, body).await
    }
    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        self.0.update_issue_comment(repo, comment_id, body).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_that_both_find_no_comment_still_post_one() {
    let fake = FakeGitHub::start().await;
    let rest = RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN)))
        .expect("a client of the fake GitHub");
    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(DraftTracker::new());
    let executor = Executor::new(store.clone(), tracker, Config::default())
        .with_github(Arc::new(SlowConversation(rest)));
    let world = Arc::new(World {
        fake,
        store,
        ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
    });
    world.fake.set_ref_alerts(
        OWNER,
        NAME,
        PR_REF,
        vec![listed(70, 7, PR_REF, "open"), listed(71, 8, PR_REF, "open")],
    );
    let first = {
        let world = world.clone();
        tokio::spawn(async move {
            let body = alert_delivery("created", 70, 7, PR_REF);
            world.send("code_scanning_alert", "slow-70", &body).await
        })
    };
    let second = {
        let world = world.clone();
        tokio::spawn(async move {
            let body = alert_delivery("created", 71, 8, PR_REF);
            world.send("code_scanning_alert", "slow-71", &body).await
        })
    };
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    let wrote: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|answer| {
            answer["outcome"]["actions"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|action| action["comment"].as_str())
        .collect();
    assert_eq!(wrote, ["created"], "{first}\n{second}");
    assert_eq!(world.posts(), 1);
    assert_eq!(world.conversation().len(), 1);
    world.fake.assert_no_violations();
}

#[tokio::test]
async fn a_pull_request_only_alert_never_becomes_a_ticket_whatever_the_path_or_policy() {
    let world = world(Config::default()).await;
    let executor = world.ingest.executor().clone();
    // A policy that tickets everything, applied as the webhook path applies any verdict.
    let trivy: AlertEvent = {
        let body = scantix_tests::webhooks::fixture(
            "github-webhooks/octokit-webhooks.net/code_scanning_alert.created.with-instances-url.payload.json",
        );
        match scantix_webhooks::github::alert::parse_delivery("code_scanning_alert", &body) {
            Ok(scantix_webhooks::github::alert::ParsedDelivery::Alert(event)) => event,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(trivy.finding.pull_request(), Some(1));
    let ticket_everything = plain(Triage::Ticket, "ticketed: everything");
    let outcome = executor
        .apply_verdict(
            "github:trivy",
            &trivy,
            &ticket_everything,
            executor.config(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.ticket, None);
    // Dismissed by a person later (no ref in such deliveries): still the pull request's.
    let dismissed = AlertEvent {
        change: AlertChange::Dismissed,
        action: "closed_by_user".into(),
        finding: Finding {
            git_ref: None,
            ..trivy.finding.clone()
        },
        ..trivy.clone()
    };
    executor
        .apply_verdict(
            "github:trivy-closed",
            &dismissed,
            &ticket_everything,
            executor.config(),
        )
        .await
        .unwrap();
    let reopened = AlertEvent {
        change: AlertChange::Reappeared,
        action: "reopened_by_user".into(),
        ..dismissed
    };
    let outcome = executor
        .apply_verdict(
            "github:trivy-reopened",
            &reopened,
            &ticket_everything,
            executor.config(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.ticket, None);

    // The sync (backfill, and the sweeper's reconciliation) with the same policy, reading an
    // alert GitHub lists with a pull request's ref.
    let repository = Repository {
        id: REPO_ID,
        full_name: format!("{OWNER}/{NAME}"),
        default_branch: Some("master".into()),
        html_url: None,
    };
    world.fake.add_alert(
        OWNER,
        NAME,
        AlertKind::CodeScanning,
        listed(50, 12, "refs/pull/9/head", "open"),
    );
    executor
        .apply_installation(
            "github:install",
            &InstallationEvent {
                installation_id: 77,
                account: OWNER.into(),
                change: InstallationChange::Created(vec![NamedRepository {
                    id: REPO_ID,
                    full_name: repository.full_name.clone(),
                }]),
            },
            None,
        )
        .await
        .unwrap();
    let github = RestGitHub::new(
        &world.fake.base_url(),
        RestAuth::Token(Secret::new(PLAIN_TOKEN)),
    )
    .unwrap();
    let syncer = Syncer::new(
        executor.clone(),
        Arc::new(|_: &Finding| plain(Triage::Ticket, "ticketed: everything")),
    );
    let report = syncer
        .sync_repository(&github as &dyn GitHub, 77, &repository, &Config::default())
        .await
        .unwrap();
    assert_eq!(report.applied, 1, "{report:?}");

    let groups = scantix_tests::stored::groups(&*world.store).await;
    assert!(!groups.is_empty(), "the pull request's alerts are recorded");
    for group in groups {
        assert!(group.value.ticket.is_none(), "{:?}", group.value);
        assert!(
            group.value.tally.ticketed() == 0 && group.value.tally.recorded > 0,
            "{:?}",
            group.value
        );
        assert!(!group.value.has_or_awaits_ticket());
    }
    world.fake.assert_no_violations();
}

#[tokio::test]
async fn a_lost_race_waits_for_the_lease_holder_then_edits_its_comment() {
    // A short wait: the second delivery must not give up while the first holds the lease.
    let fake = FakeGitHub::start().await;
    let github =
        RestGitHub::new(&fake.base_url(), RestAuth::Token(Secret::new(PLAIN_TOKEN))).unwrap();
    let store = Arc::new(MemoryStore::new());
    let tracker = Arc::new(DraftTracker::new());
    let executor = Executor::new(store.clone(), tracker, Config::default())
        .with_github(Arc::new(github))
        .with_settings(ExecutorSettings {
            wait_for_lease: std::time::Duration::from_secs(10),
            ..ExecutorSettings::default()
        });
    let world = World {
        fake,
        store,
        ingest: GithubIngest::new(Secret::new(SECRET), Arc::new(executor)),
    };
    world
        .fake
        .set_ref_alerts(OWNER, NAME, PR_REF, vec![listed(60, 6, PR_REF, "open")]);
    let opened = pull_request("opened.payload.json", "opened", false);
    let reopened = pull_request("opened.payload.json", "reopened", false);
    tokio::join!(
        world.send("pull_request", "a", &opened),
        world.send("pull_request", "b", &reopened)
    );
    assert_eq!(world.posts(), 1);
    assert_eq!(world.edits(), 0, "the same summary is not sent twice");
    world.fake.assert_no_violations();
}

#[tokio::test]
async fn a_pull_request_into_another_branch_is_measured_against_that_branch() {
    const RELEASE: &str = "refs/heads/release/2.x";
    let world = world(Config::default()).await;
    // Alert 10 is open on the release branch (ticketed there); the default branch has none.
    world
        .fake
        .set_ref_alerts(OWNER, NAME, RELEASE, vec![listed(10, 84, RELEASE, "open")]);
    let seeded = world
        .send(
            "code_scanning_alert",
            "release-10",
            &alert_delivery("created", 10, 84, RELEASE),
        )
        .await;
    assert_eq!(actions(&seeded), ["create_ticket"], "{seeded}");
    let ticket = seeded["outcome"]["ticket"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    world.fake.set_ref_alerts(
        OWNER,
        NAME,
        PR_REF,
        vec![
            listed(10, 84, PR_REF, "fixed"),
            listed(31, 120, PR_REF, "open"),
        ],
    );
    let into_release = varied(
        &pull_request("opened.payload.json", "opened", false),
        &[("pull_request.base.ref", json!("release/2.x"))],
    );
    world.fake.clear_requests();
    let opened = world.send("pull_request", "pr-opened", &into_release).await;
    assert_eq!(actions(&opened), ["pull_request_summary"], "{opened}");
    let base_listing = world
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/code-scanning/alerts"))
        .map(|r| r.query.clone())
        .collect::<Vec<_>>();
    assert!(
        base_listing
            .iter()
            .any(|q| q.contains("ref=refs%2Fheads%2Frelease%2F2.x")
                || q.contains("ref=refs/heads/release/2.x")),
        "{base_listing:?}"
    );
    let summary = world.summary();
    assert!(
        summary.contains("**Would resolve 1 existing ticket**")
            && summary.contains(&ticket.replace('-', "\\-")),
        "{summary}"
    );
    world.fake.assert_no_violations();
}
