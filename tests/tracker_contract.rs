//! One contract for every tracker adapter: the same scenarios — create, find after a lost answer,
//! update, transition by category, comment, close as not planned, reopen, deleted and missing
//! tickets, rate limits and 5xx, hostile text — run against the draft tracker, Jira Cloud, Jira
//! Data Center, GitHub Issues, Linear, ServiceNow and email, each adapter against its fake (which
//! checks every request against the vendor's API description: `support/fake_*.rs`) or, for email,
//! a real SMTP server (aiosmtpd; run through `scripts/with-aiosmtpd.sh`).
//!
//! A [`Harness`] says how to build an adapter against its fake and how to read the fake back in
//! the contract's terms (a ticket's category, its comments, the text it stores); the scenarios are
//! written once, against the harness. Where a scenario means nothing for a tracker it is left out
//! of that tracker's list at the bottom, with the reason beside it.
//!
//! `calls_per_ticket` measures, per tracker, the vendor calls of each tracker operation (the fakes
//! count requests; for email, messages handed to the SMTP server) and prints one
//! `tracker_contract_calls <tracker>: …` line (`--nocapture`), asserting the figures so a change
//! in cost shows up as a failing test.
//!
//!   scripts/with-aiosmtpd.sh cargo test -p scantix-tests --test tracker_contract -- --nocapture

use scantix_core::identity::GroupKey;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::TicketContent;
use scantix_tests::records::sample_finding;
use std::sync::Arc;

/// Alert text that tries every tracker's markup at once: a mention of each kind, HTML, a link with
/// a script URL, Jira wiki macros, ServiceNow's `[code]` escape hatch, GitHub's math mode.
const HOSTILE: &str = "@here [~admin] <img src=x onerror=alert(1)> [click](javascript:x) \
                       {color:red}x{color} [code]<b>x</b>[/code] $x$";

/// The word of [`HOSTILE`] no escaping changes: proof the text arrived, escaped, not dropped.
const HOSTILE_WITNESS: &str = "onerror";

/// A ticket's workflow position as the contract sees it, whatever the tracker calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Open,
    InProgress,
    Done,
    NotPlanned,
}

/// How a tracker finds a group's ticket again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// By asking the tracker (a property, a label, an attachment, a correlation id).
    Search,
    /// The ticket is named by its group: there is nothing to ask (drafts).
    Derived,
    /// It cannot be looked up; a repeated create repeats the same message (email).
    Repeat,
}

/// A fault the contract injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    /// One rate-limit answer on the next request.
    RateLimited,
    /// 5xx on every request (SMTP: the server refuses connections) until `clear_trouble`.
    Outage,
}

/// How to run the contract against one tracker: its adapter, its fake, and reading the fake back.
trait Harness: Sized {
    /// As the test names it.
    const NAME: &'static str;
    /// `TicketRef::tracker` of its tickets.
    const TRACKER: &'static str;
    const LOOKUP: Lookup;
    /// The state a new ticket starts in.
    const FIRST_STATE: TicketState;
    /// Whether "in progress" is a place in this tracker (GitHub Issues has open and closed only).
    const HAS_IN_PROGRESS: bool;
    /// Whether a closure as "not planned" is recorded as such (Jira has no such category).
    const RECORDS_NOT_PLANNED: bool;

    async fn start() -> Self;
    /// An adapter as a process builds it at cold start: nothing cached.
    fn adapter(&self) -> Arc<dyn Tracker>;
    /// The vendor calls since the last look, forgotten once read.
    fn calls(&self) -> usize;
    /// The live tickets the tracker holds (for email: threads begun).
    fn tickets(&self) -> usize;
    /// The next create takes effect but its answer never arrives.
    fn lose_next_create_answer(&self);
    fn trouble(&self, trouble: Trouble);
    fn clear_trouble(&self);
    /// Where the ticket is in its workflow; `None` where the tracker keeps no state.
    fn category(&self, ticket: &TicketRef) -> Option<Category>;
    /// The ticket's title as stored.
    fn title(&self, ticket: &TicketRef) -> Option<String>;
    /// The comments scantix made on the ticket, each once however often it was sent.
    fn comments(&self, ticket: &TicketRef) -> Vec<String>;
    /// Every text the tracker renders as markup for the ticket (body and comments; for email the
    /// HTML parts, and the headers), as the tracker keeps it. Titles are plain text everywhere.
    fn stored_text(&self, ticket: &TicketRef) -> String;
    /// What would be live markup in this tracker if it showed up in `stored_text`.
    fn live_markup(&self) -> &'static [&'static str];
    /// A person deletes the ticket.
    fn delete(&self, ticket: &TicketRef);
    /// A reference to a ticket this tracker never had.
    fn missing(&self) -> TicketRef;
    fn assert_no_violations(&self);
}

/// A group of its own (a CodeQL alert `number` of rule `js/rule-<number>` in `acme/shop-4242`),
/// whose title and rule name are [`HOSTILE`].
fn content(number: u64) -> TicketContent {
    let mut finding = sample_finding(4242, number);
    finding.rule.id = format!("js/rule-{number}");
    finding.rule.name = format!("XSS {HOSTILE}");
    let mut content = scantix_core::testing::ticket_of(std::slice::from_ref(&finding)).unwrap();
    content.title = format!("XSS {HOSTILE}\r\nBcc: evil@example.net rule {number}");
    content
}

/// What the executor does for a group without a recorded ticket: look, and create only if the
/// tracker has none (`Tracker`'s contract: `create` is preceded by `find_for`).
async fn ensure(tracker: &dyn Tracker, group: &TicketContent) -> TicketRef {
    match tracker.find_for(group).await.unwrap() {
        Some(ticket) => ticket,
        None => tracker.create(group).await.unwrap().0,
    }
}

fn is_retryable(result: &Result<impl std::fmt::Debug, TrackerError>) -> bool {
    matches!(result, Err(e) if e.is_retryable())
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

/// Create: found by nobody before, found after (where it can be looked up), a repeated create for
/// the group (the store lost the first answer) makes nothing new.
async fn create<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let group = content(1);

    let before = tracker.find_for(&group).await.unwrap();
    match H::LOOKUP {
        Lookup::Derived => assert!(before.is_some()),
        Lookup::Search | Lookup::Repeat => assert_eq!(before, None),
    }
    let (ticket, state) = tracker.create(&group).await.unwrap();
    assert_eq!(
        (ticket.tracker.as_str(), state),
        (H::TRACKER, H::FIRST_STATE)
    );
    let after = tracker.find_for(&group).await.unwrap();
    match H::LOOKUP {
        Lookup::Search | Lookup::Derived => assert_eq!(after.as_ref(), Some(&ticket)),
        Lookup::Repeat => assert_eq!(after, None),
    }
    if H::LOOKUP != Lookup::Derived {
        assert_eq!(h.tickets(), 1);
    }

    let again = ensure(tracker.as_ref(), &group).await;
    assert_eq!(again.key, ticket.key, "one ticket per group");
    // Another process (nothing cached) finds the same ticket.
    if H::LOOKUP != Lookup::Repeat {
        assert_eq!(h.adapter().find_for(&group).await.unwrap(), Some(ticket));
    }
    let (other, _) = tracker.create(&content(2)).await.unwrap();
    assert_ne!(other.key, again.key, "another group, another ticket");
    if H::LOOKUP != Lookup::Derived {
        assert_eq!(h.tickets(), 2);
    }
    h.assert_no_violations();
}

/// The tracker made the ticket but its answer was lost: the create ends either with the ticket
/// (found on the way) or with a retryable error, and the retry — by another process, as after a
/// crash — finds the ticket instead of making a second.
async fn find_after_lost_answer<H: Harness>() {
    let h = H::start().await;
    let group = content(1);
    h.lose_next_create_answer();

    let first = h.adapter().create(&group).await;
    assert!(first.is_ok() || is_retryable(&first), "{first:?}");
    assert_eq!(h.tickets(), 1, "the lost create took effect");

    let retry = h.adapter();
    let found = retry.find_for(&group).await.unwrap();
    let ticket = ensure(retry.as_ref(), &group).await;
    if let Ok((answered, _)) = &first {
        assert_eq!(answered.key, ticket.key);
    }
    if H::LOOKUP == Lookup::Search {
        assert_eq!(found.as_ref(), Some(&ticket), "found before any create");
    }
    assert_eq!(h.tickets(), 1, "no second ticket");
    h.assert_no_violations();
}

/// Update: the stored title follows the content; an update with nothing new changes nothing.
async fn update<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let mut group = content(1);
    let (ticket, _) = tracker.create(&group).await.unwrap();

    group.title = "CWE-89: SQL injection in 2 places".into();
    tracker.update(&ticket, &group).await.unwrap();
    assert_eq!(
        h.title(&ticket).as_deref(),
        Some("CWE-89: SQL injection in 2 places")
    );
    h.calls();
    tracker.update(&ticket, &group).await.unwrap();
    let repeat = h.calls();
    assert!(repeat <= 1, "a read at most, no write: {repeat} calls");
    assert_eq!(h.tickets(), 1);
    h.assert_no_violations();
}

/// Transitions go by category — in progress, done, open again — and a move to where the ticket
/// already is sends no write.
async fn transition_by_category<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    assert_eq!(h.category(&ticket), Some(Category::Open));

    tracker
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    let in_progress = if H::HAS_IN_PROGRESS {
        Category::InProgress
    } else {
        Category::Open
    };
    assert_eq!(h.category(&ticket), Some(in_progress));

    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(h.category(&ticket), Some(Category::Done));
    h.calls();
    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert!(h.calls() <= 1, "already done: a read at most");
    assert_eq!(h.category(&ticket), Some(Category::Done));
    h.assert_no_violations();
}

/// Close as not planned, then reopen: the closure is recorded as the tracker records it, and the
/// reopened ticket is open again.
async fn close_and_reopen<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();

    tracker.close_not_planned(&ticket).await.unwrap();
    let closed = if H::RECORDS_NOT_PLANNED {
        Category::NotPlanned
    } else {
        Category::Done
    };
    assert_eq!(h.category(&ticket), Some(closed));

    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(h.category(&ticket), Some(Category::Open));
    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    assert_eq!(h.category(&ticket), Some(Category::Done));
    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    assert_eq!(h.category(&ticket), Some(Category::Open));
    h.assert_no_violations();
}

/// A comment is made once per id, however often it is sent; another id is another comment.
async fn comment_once<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();

    tracker
        .comment(&ticket, "scantix-0a1b2c-1", "Still open: alert 1.")
        .await
        .unwrap();
    tracker
        .comment(&ticket, "scantix-0a1b2c-1", "Still open: alert 1.")
        .await
        .unwrap();
    // Another process repeats it too.
    h.adapter()
        .comment(&ticket, "scantix-0a1b2c-1", "Still open: alert 1.")
        .await
        .unwrap();
    assert_eq!(h.comments(&ticket).len(), 1, "{:?}", h.comments(&ticket));
    tracker
        .comment(&ticket, "scantix-0a1b2c-2", "Fixed.")
        .await
        .unwrap();
    let comments = h.comments(&ticket);
    assert_eq!(comments.len(), 2, "{comments:?}");
    assert!(comments[0].contains("Still open") && comments[1].contains("Fixed"));
    h.assert_no_violations();
}

/// A ticket a person deleted is no ticket: not found by the group, every call on it says
/// `NotFound`, and the group gets a new one. A ticket the tracker never had is `NotFound` too.
async fn deleted_and_missing<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let group = content(1);
    let (ticket, _) = tracker.create(&group).await.unwrap();

    h.delete(&ticket);
    assert_eq!(tracker.find_for(&group).await.unwrap(), None);
    for (call, result) in [
        ("update", tracker.update(&ticket, &group).await),
        ("comment", tracker.comment(&ticket, "c-1", "x").await),
        (
            "transition",
            tracker.transition(&ticket, TicketState::Resolved).await,
        ),
    ] {
        assert!(
            matches!(&result, Err(TrackerError::NotFound(_))),
            "{call}: {result:?}"
        );
    }
    let missing = h.missing();
    let result = tracker.update(&missing, &group).await;
    assert!(
        matches!(&result, Err(TrackerError::NotFound(_))),
        "{result:?}"
    );

    let (again, _) = tracker.create(&group).await.unwrap();
    assert_ne!(again.key, ticket.key);
    assert_eq!(h.tickets(), 1, "the deleted ticket is not counted");
    assert_eq!(tracker.find_for(&group).await.unwrap(), Some(again));
    h.assert_no_violations();
}

/// A rate limit is waited out or ends in a retryable error; an outage ends in a retryable error
/// with nothing made; once it is over, the retry makes one ticket.
async fn rate_limit_and_5xx<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();

    h.trouble(Trouble::RateLimited);
    let limited = tracker.create(&content(2)).await;
    assert!(limited.is_ok() || is_retryable(&limited), "{limited:?}");
    h.clear_trouble();
    let second = ensure(tracker.as_ref(), &content(2)).await;
    if let Ok((answered, _)) = &limited {
        assert_eq!(answered.key, second.key);
    }
    assert_eq!(h.tickets(), 2);

    h.trouble(Trouble::Outage);
    let tracker = h.adapter();
    let update = tracker.update(&ticket, &content(1)).await;
    let create = tracker.create(&content(3)).await;
    let comment = tracker.comment(&ticket, "c-1", "x").await;
    h.clear_trouble();
    if H::LOOKUP == Lookup::Repeat {
        // Mail: an update sends nothing, so it cannot fail; the rest must.
        assert!(update.is_ok(), "{update:?}");
    } else {
        assert!(is_retryable(&update), "{update:?}");
    }
    assert!(is_retryable(&create), "{create:?}");
    assert!(is_retryable(&comment), "{comment:?}");
    assert_eq!(h.tickets(), 2, "nothing made in the outage");

    let tracker = h.adapter();
    ensure(tracker.as_ref(), &content(3)).await;
    assert_eq!(h.tickets(), 3);
    h.assert_no_violations();
}

/// Alert text in the title, the body and a comment is stored inert in the tracker's markup, and
/// still there to read.
async fn hostile_text_is_inert<H: Harness>() {
    let h = H::start().await;
    let tracker = h.adapter();
    let (ticket, _) = tracker.create(&content(1)).await.unwrap();
    tracker
        .comment(&ticket, "scantix-0a1b2c-1", &format!("Reopened: {HOSTILE}"))
        .await
        .unwrap();

    if let Some(title) = h.title(&ticket) {
        assert!(
            !title.contains(['\r', '\n', '\u{202E}']),
            "a title is one line: {title:?}"
        );
    }
    let stored = h.stored_text(&ticket);
    assert!(stored.contains(HOSTILE_WITNESS), "{stored}");
    for live in h.live_markup() {
        assert!(!stored.contains(live), "{live:?} is live in {stored}");
    }
    assert!(!stored.contains('\u{202E}'));
    h.assert_no_violations();
}

/// The vendor calls of each operation, printed and held to the figures measured.
async fn calls_per_ticket<H: Harness>(expected: &[(&str, usize)]) {
    let h = H::start().await;
    let tracker = h.adapter();
    let mut report: Vec<(&str, usize)> = Vec::new();

    // What the executor does for a new group: look, then create.
    assert!(tracker.find_for(&content(1)).await.is_ok());
    tracker.create(&content(1)).await.unwrap();
    report.push(("ticket created (cold)", h.calls()));
    let group = content(2);
    tracker.find_for(&group).await.unwrap();
    let (ticket, _) = tracker.create(&group).await.unwrap();
    report.push(("ticket created", h.calls()));
    let mut changed = group.clone();
    changed.title = "CWE-89: SQL injection in 2 places".into();
    tracker.update(&ticket, &changed).await.unwrap();
    report.push(("update", h.calls()));
    tracker
        .comment(&ticket, "c-1", "Still open.")
        .await
        .unwrap();
    report.push(("comment", h.calls()));
    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    report.push(("resolve", h.calls()));
    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    report.push(("reopen", h.calls()));
    tracker.close_not_planned(&ticket).await.unwrap();
    report.push(("close not planned", h.calls()));

    let line: Vec<String> = report.iter().map(|(n, c)| format!("{n}={c}")).collect();
    println!("tracker_contract_calls {}: {}", H::NAME, line.join(", "));
    assert_eq!(report, expected, "{}", H::NAME);
    h.assert_no_violations();
}

// ---------------------------------------------------------------------------------------------
// The harnesses.

mod draft {
    use super::*;

    /// No tracker at all: tickets are drafts named by their groups, and no call leaves.
    pub struct Draft;

    impl Harness for Draft {
        const NAME: &'static str = "draft";
        const TRACKER: &'static str = "draft";
        const LOOKUP: Lookup = Lookup::Derived;
        const FIRST_STATE: TicketState = TicketState::Draft;
        const HAS_IN_PROGRESS: bool = false;
        const RECORDS_NOT_PLANNED: bool = false;

        async fn start() -> Self {
            Draft
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            Arc::new(DraftTracker::new())
        }
        fn calls(&self) -> usize {
            0
        }
        fn tickets(&self) -> usize {
            0
        }
        fn lose_next_create_answer(&self) {}
        fn trouble(&self, _: Trouble) {}
        fn clear_trouble(&self) {}
        fn category(&self, _: &TicketRef) -> Option<Category> {
            None
        }
        fn title(&self, _: &TicketRef) -> Option<String> {
            None
        }
        fn comments(&self, _: &TicketRef) -> Vec<String> {
            Vec::new()
        }
        fn stored_text(&self, _: &TicketRef) -> String {
            String::new()
        }
        fn live_markup(&self) -> &'static [&'static str] {
            &[]
        }
        fn delete(&self, _: &TicketRef) {}
        fn missing(&self) -> TicketRef {
            TicketRef::draft(&GroupKey::from_stored("1/code-scanning/rule:none"))
        }
        fn assert_no_violations(&self) {}
    }
}

mod jira {
    use super::*;
    use scantix_core::secret::Secret;
    use scantix_jira::{self as adapter, JiraAuth, JiraSettings, JiraTracker};
    use scantix_tests::fake_jira::{
        CLOUD_API_TOKEN, CLOUD_EMAIL, Category as JiraCategory, DC_PERSONAL_ACCESS_TOKEN, FakeJira,
        Fault, Flavor,
    };
    use serde_json::Value;
    use std::time::Duration;

    pub struct Jira<const CLOUD: bool> {
        fake: FakeJira,
    }
    pub type Cloud = Jira<true>;
    pub type DataCenter = Jira<false>;

    impl<const CLOUD: bool> Jira<CLOUD> {
        fn text(value: &Value) -> String {
            match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
    }

    impl<const CLOUD: bool> Harness for Jira<CLOUD> {
        const NAME: &'static str = if CLOUD { "jira-cloud" } else { "jira-dc" };
        const TRACKER: &'static str = "jira";
        const LOOKUP: Lookup = Lookup::Search;
        const FIRST_STATE: TicketState = TicketState::Open;
        const HAS_IN_PROGRESS: bool = true;
        const RECORDS_NOT_PLANNED: bool = false;

        async fn start() -> Self {
            let flavor = if CLOUD {
                Flavor::Cloud
            } else {
                Flavor::DataCenter
            };
            Jira {
                fake: FakeJira::start(flavor).await,
            }
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            let (flavor, auth) = if CLOUD {
                (
                    adapter::Flavor::Cloud,
                    JiraAuth::Cloud {
                        email: CLOUD_EMAIL.into(),
                        api_token: Secret::new(CLOUD_API_TOKEN),
                    },
                )
            } else {
                (
                    adapter::Flavor::DataCenter,
                    JiraAuth::DataCenter {
                        token: Secret::new(DC_PERSONAL_ACCESS_TOKEN),
                    },
                )
            };
            let mut settings = JiraSettings::new(self.fake.base_url(), flavor, "SEC");
            settings.request_timeout_secs = 1;
            Arc::new(
                JiraTracker::new(settings, auth)
                    .unwrap()
                    .with_backoff_base(Duration::from_millis(5)),
            )
        }
        fn calls(&self) -> usize {
            let n = self.fake.requests().len();
            self.fake.clear_requests();
            n
        }
        fn tickets(&self) -> usize {
            self.fake.issue_keys().len()
        }
        fn lose_next_create_answer(&self) {
            self.fake.inject_on(
                "POST",
                "/issue",
                Fault::LostResponse(Duration::from_secs(3)),
                1,
            );
        }
        fn trouble(&self, trouble: Trouble) {
            match trouble {
                Trouble::RateLimited => self.fake.inject(
                    Fault::RateLimited {
                        retry_after_secs: 1,
                    },
                    1,
                ),
                Trouble::Outage => self.fake.inject(Fault::Status(503), 1000),
            }
        }
        fn clear_trouble(&self) {
            self.fake.clear_faults();
        }
        fn category(&self, ticket: &TicketRef) -> Option<Category> {
            Some(match self.fake.snapshot(&ticket.key)?.category {
                JiraCategory::New => Category::Open,
                JiraCategory::Indeterminate => Category::InProgress,
                JiraCategory::Done => Category::Done,
            })
        }
        fn title(&self, ticket: &TicketRef) -> Option<String> {
            Some(self.fake.snapshot(&ticket.key)?.summary)
        }
        fn comments(&self, ticket: &TicketRef) -> Vec<String> {
            self.fake
                .snapshot(&ticket.key)
                .map(|issue| issue.comments.iter().map(Self::text).collect())
                .unwrap_or_default()
        }
        fn stored_text(&self, ticket: &TicketRef) -> String {
            let issue = self.fake.snapshot(&ticket.key).unwrap();
            let mut texts = vec![Self::text(&issue.fields["description"])];
            texts.extend(issue.comments.iter().map(Self::text));
            texts.join("\n")
        }
        fn live_markup(&self) -> &'static [&'static str] {
            if CLOUD {
                // ADF: text is text unless it is a node or a mark of its own.
                &["\"mention\"", "\"href\":\"javascript"]
            } else {
                // Wiki markup: an unescaped mention, macro or link.
                &["[~admin]", "{color:red}", "[click]"]
            }
        }
        fn delete(&self, ticket: &TicketRef) {
            self.fake.delete_issue(&ticket.key);
        }
        fn missing(&self) -> TicketRef {
            TicketRef {
                tracker: "jira".into(),
                key: "SEC-404".into(),
                url: None,
            }
        }
        fn assert_no_violations(&self) {
            self.fake.assert_no_violations();
        }
    }
}

mod github {
    use super::*;
    use scantix_core::secret::Secret;
    use scantix_github::app_auth::{AppCredentials, InstallationTokens};
    use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth};
    use scantix_tests::fake_github::{APP_ID, FakeGitHub, Fault, app_private_key_pkcs1};
    use std::time::Duration;

    /// `sample_finding(4242, _)`'s repository, where its tickets go.
    const OWNER: &str = "acme";
    const REPO: &str = "shop-4242";
    const ISSUES: &str = "/repos/acme/shop-4242/issues";

    pub struct GitHub {
        fake: FakeGitHub,
    }

    impl GitHub {
        fn number(ticket: &TicketRef) -> u64 {
            ticket.key.rsplit('#').next().unwrap().parse().unwrap()
        }
        fn issue(&self, ticket: &TicketRef) -> Option<scantix_tests::fake_github::FakeIssue> {
            self.fake
                .issue(OWNER, REPO, Self::number(ticket))
                .filter(|i| !i.deleted)
        }
    }

    impl Harness for GitHub {
        const NAME: &'static str = "github-issues";
        const TRACKER: &'static str = "github";
        const LOOKUP: Lookup = Lookup::Search;
        const FIRST_STATE: TicketState = TicketState::Open;
        const HAS_IN_PROGRESS: bool = false;
        const RECORDS_NOT_PLANNED: bool = true;

        async fn start() -> Self {
            GitHub {
                fake: FakeGitHub::start().await,
            }
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            let credentials = AppCredentials::new(APP_ID, Secret::new(app_private_key_pkcs1()));
            let tokens =
                Arc::new(InstallationTokens::new(&self.fake.base_url(), &credentials).unwrap());
            Arc::new(
                GithubIssuesTracker::new(GithubIssuesSettings::default(), IssuesAuth::App(tokens))
                    .unwrap()
                    .with_backoff_base(Duration::from_millis(5)),
            )
        }
        fn calls(&self) -> usize {
            let n = self.fake.requests().len();
            self.fake.clear_requests();
            n
        }
        fn tickets(&self) -> usize {
            self.fake
                .issues(OWNER, REPO)
                .iter()
                .filter(|i| !i.deleted && !i.pull_request)
                .count()
        }
        fn lose_next_create_answer(&self) {
            self.fake
                .inject_on("POST", ISSUES, None, Fault::AnswerLost(502), 1);
        }
        fn trouble(&self, trouble: Trouble) {
            match trouble {
                Trouble::RateLimited => self.fake.inject(
                    Fault::SecondaryRateLimit {
                        retry_after_secs: 1,
                    },
                    1,
                ),
                Trouble::Outage => self.fake.inject(Fault::Status(503), 1000),
            }
        }
        fn clear_trouble(&self) {
            self.fake.clear_faults();
        }
        fn category(&self, ticket: &TicketRef) -> Option<Category> {
            let issue = self.issue(ticket)?;
            Some(
                match (issue.state.as_str(), issue.state_reason.as_deref()) {
                    ("open", _) => Category::Open,
                    (_, Some("not_planned")) => Category::NotPlanned,
                    _ => Category::Done,
                },
            )
        }
        fn title(&self, ticket: &TicketRef) -> Option<String> {
            Some(self.issue(ticket)?.title)
        }
        fn comments(&self, ticket: &TicketRef) -> Vec<String> {
            self.fake
                .comments(OWNER, REPO, Self::number(ticket))
                .into_iter()
                .map(|c| c.body)
                .collect()
        }
        fn stored_text(&self, ticket: &TicketRef) -> String {
            let issue = self.issue(ticket).unwrap();
            let mut texts = vec![issue.body.unwrap_or_default()];
            texts.extend(self.comments(ticket));
            texts.join("\n")
        }
        fn live_markup(&self) -> &'static [&'static str] {
            // GitHub-flavoured Markdown: HTML, a mention, a link, math.
            &["<img", "<b>", "@here", "](javascript", "$x$"]
        }
        fn delete(&self, ticket: &TicketRef) {
            self.fake.delete_issue(OWNER, REPO, Self::number(ticket));
        }
        fn missing(&self) -> TicketRef {
            TicketRef {
                tracker: "github".into(),
                key: format!("{OWNER}/{REPO}#404"),
                url: None,
            }
        }
        fn assert_no_violations(&self) {
            self.fake.assert_no_violations();
        }
    }
}

mod linear {
    use super::*;
    use scantix_core::secret::Secret;
    use scantix_linear::{LinearAuth, LinearSettings, LinearTracker};
    use scantix_tests::fake_linear::{API_KEY, FakeLinear, Fault};
    use std::time::Duration;

    pub struct Linear {
        fake: FakeLinear,
    }

    impl Linear {
        fn issue(&self, ticket: &TicketRef) -> Option<scantix_tests::fake_linear::IssueSnapshot> {
            self.fake.snapshot(&ticket.key).filter(|i| !i.trashed)
        }
    }

    impl Harness for Linear {
        const NAME: &'static str = "linear";
        const TRACKER: &'static str = "linear";
        const LOOKUP: Lookup = Lookup::Search;
        const FIRST_STATE: TicketState = TicketState::Open;
        const HAS_IN_PROGRESS: bool = true;
        const RECORDS_NOT_PLANNED: bool = true;

        async fn start() -> Self {
            Linear {
                fake: FakeLinear::start().await,
            }
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            let settings = LinearSettings {
                api_url: self.fake.url(),
                request_timeout_secs: 1,
                ..LinearSettings::new("SEC")
            };
            Arc::new(
                LinearTracker::new(settings, LinearAuth::ApiKey(Secret::new(API_KEY)))
                    .unwrap()
                    .with_backoff_base(Duration::from_millis(5)),
            )
        }
        fn calls(&self) -> usize {
            let n = self.fake.requests().len();
            self.fake.clear_requests();
            n
        }
        fn tickets(&self) -> usize {
            self.fake.live_issues().len()
        }
        fn lose_next_create_answer(&self) {
            self.fake.inject(
                "ScantixIssueCreate",
                Fault::LostResponse(Duration::from_secs(3)),
                1,
            );
        }
        fn trouble(&self, trouble: Trouble) {
            match trouble {
                Trouble::RateLimited => self.fake.inject("*", Fault::RateLimited, 1),
                Trouble::Outage => self.fake.inject("*", Fault::Status(503), 1000),
            }
        }
        fn clear_trouble(&self) {
            self.fake.clear_faults();
        }
        fn category(&self, ticket: &TicketRef) -> Option<Category> {
            Some(match self.issue(ticket)?.state_type.as_str() {
                "started" => Category::InProgress,
                "completed" => Category::Done,
                "canceled" => Category::NotPlanned,
                _ => Category::Open,
            })
        }
        fn title(&self, ticket: &TicketRef) -> Option<String> {
            Some(self.issue(ticket)?.title)
        }
        fn comments(&self, ticket: &TicketRef) -> Vec<String> {
            self.issue(ticket).map(|i| i.comments).unwrap_or_default()
        }
        fn stored_text(&self, ticket: &TicketRef) -> String {
            let issue = self.issue(ticket).unwrap();
            let mut texts = vec![issue.description];
            texts.extend(issue.comments);
            texts.join("\n")
        }
        fn live_markup(&self) -> &'static [&'static str] {
            // Linear's Markdown: HTML, a mention, a link, math.
            &["<img", "<b>", "@here", "](javascript", "$x$"]
        }
        fn delete(&self, ticket: &TicketRef) {
            self.fake.remove_issue(&ticket.key);
        }
        fn missing(&self) -> TicketRef {
            TicketRef {
                tracker: "linear".into(),
                key: "SEC-999".into(),
                url: None,
            }
        }
        fn assert_no_violations(&self) {
            self.fake.assert_no_violations();
        }
    }
}

mod servicenow {
    use super::*;
    use scantix_core::secret::Secret;
    use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowTracker};
    use scantix_tests::fake_servicenow::{FakeServiceNow, PASSWORD, USER};
    use serde_json::{Map, Value};
    use std::time::Duration;

    pub struct ServiceNow {
        fake: FakeServiceNow,
    }

    fn field(record: &Map<String, Value>, name: &str) -> String {
        record
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    impl Harness for ServiceNow {
        const NAME: &'static str = "servicenow";
        const TRACKER: &'static str = "servicenow";
        const LOOKUP: Lookup = Lookup::Search;
        const FIRST_STATE: TicketState = TicketState::Open;
        const HAS_IN_PROGRESS: bool = true;
        const RECORDS_NOT_PLANNED: bool = true;

        async fn start() -> Self {
            ServiceNow {
                fake: FakeServiceNow::start().await,
            }
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            let auth = ServiceNowAuth::Basic {
                user: USER.into(),
                password: Secret::new(PASSWORD),
            };
            Arc::new(
                ServiceNowTracker::new(ServiceNowSettings::new(self.fake.base_url()), auth)
                    .unwrap()
                    .with_backoff_base(Duration::from_millis(5)),
            )
        }
        fn calls(&self) -> usize {
            let n = self.fake.requests().len();
            self.fake.clear_requests();
            n
        }
        fn tickets(&self) -> usize {
            self.fake.incidents().len()
        }
        fn lose_next_create_answer(&self) {
            self.fake.lose_create_answers(1);
        }
        fn trouble(&self, trouble: Trouble) {
            match trouble {
                Trouble::RateLimited => self.fake.fail_next(&[429]),
                Trouble::Outage => self.fake.fail_next(&[503; 1000]),
            }
        }
        fn clear_trouble(&self) {
            self.fake.fail_next(&[]);
        }
        fn category(&self, ticket: &TicketRef) -> Option<Category> {
            let incident = self.fake.incident(&ticket.key)?;
            Some(match field(&incident, "state").as_str() {
                "2" | "3" => Category::InProgress,
                "6" | "7" => Category::Done,
                "8" => Category::NotPlanned,
                _ => Category::Open,
            })
        }
        fn title(&self, ticket: &TicketRef) -> Option<String> {
            Some(field(
                &self.fake.incident(&ticket.key)?,
                "short_description",
            ))
        }
        fn comments(&self, ticket: &TicketRef) -> Vec<String> {
            self.fake.journal(&ticket.key, "work_notes")
        }
        fn stored_text(&self, ticket: &TicketRef) -> String {
            let incident = self.fake.incident(&ticket.key).unwrap();
            let mut texts = vec![field(&incident, "description")];
            texts.extend(self.comments(ticket));
            texts.join("\n").to_lowercase()
        }
        fn live_markup(&self) -> &'static [&'static str] {
            // Plain text, except that `[code]…[/code]` renders HTML.
            &["[code]", "[/code]", "[code "]
        }
        fn delete(&self, ticket: &TicketRef) {
            self.fake.person_deletes(&ticket.key);
        }
        fn missing(&self) -> TicketRef {
            TicketRef {
                tracker: "servicenow".into(),
                key: "0123456789abcdef0123456789abcdef".into(),
                url: None,
            }
        }
        fn assert_no_violations(&self) {
            self.fake.assert_no_violations();
        }
    }
}

mod email {
    use super::*;
    use scantix_email::{EmailEvent, EmailSettings, EmailTracker, Security, SmtpSettings};
    use scantix_tests::smtp_server::SmtpServer;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    pub struct Email {
        server: SmtpServer,
        /// Messages already counted by `calls`.
        seen: Mutex<usize>,
        /// A port nothing listens on, while the "outage" lasts.
        down: Mutex<Option<u16>>,
    }

    impl Email {
        fn header<'a>(message: &'a Value, name: &str) -> &'a str {
            message["headers"][name].as_str().unwrap_or_default()
        }
        /// The thread's messages, each id once (a repeat is the same message).
        fn thread(&self, ticket: &TicketRef) -> Vec<Value> {
            let label = ticket.key.split('!').nth(1).unwrap();
            let root = format!("<{label}@example.com>");
            let mut by_id = BTreeMap::new();
            for m in self.server.messages() {
                let id = Self::header(&m, "message-id").to_owned();
                if id == root || Self::header(&m, "in-reply-to") == root {
                    by_id.entry(id).or_insert(m);
                }
            }
            by_id.into_values().collect()
        }
    }

    impl Harness for Email {
        const NAME: &'static str = "email";
        const TRACKER: &'static str = "email";
        const LOOKUP: Lookup = Lookup::Repeat;
        const FIRST_STATE: TicketState = TicketState::Open;
        const HAS_IN_PROGRESS: bool = false;
        const RECORDS_NOT_PLANNED: bool = false;

        async fn start() -> Self {
            Email {
                server: SmtpServer::start(),
                seen: Mutex::new(0),
                down: Mutex::new(None),
            }
        }
        fn adapter(&self) -> Arc<dyn Tracker> {
            let port = self.down.lock().unwrap().unwrap_or(self.server.port);
            let smtp = SmtpSettings {
                host: "127.0.0.1".into(),
                port: Some(port),
                security: Security::None,
                timeout_secs: 5,
                ca_certificate: None,
            };
            let mut settings = EmailSettings::new(
                "scantix <scantix@example.com>",
                vec!["security@example.com".into()],
            );
            // Every event, so that comments and moves are mail to count.
            settings.events = vec![
                EmailEvent::Created,
                EmailEvent::Reopened,
                EmailEvent::Stale,
                EmailEvent::Overdue,
                EmailEvent::Resolved,
                EmailEvent::Comment,
            ];
            Arc::new(EmailTracker::new(settings, smtp, None).unwrap())
        }
        fn calls(&self) -> usize {
            let total = self.server.messages().len();
            let mut seen = self.seen.lock().unwrap();
            let n = total - *seen;
            *seen = total;
            n
        }
        fn tickets(&self) -> usize {
            let roots: std::collections::BTreeSet<String> = self
                .server
                .messages()
                .iter()
                .filter(|m| m["headers"].get("in-reply-to").is_none())
                .map(|m| Self::header(m, "message-id").to_owned())
                .collect();
            roots.len()
        }
        fn lose_next_create_answer(&self) {
            // SMTP gives no way to lose an answer after the server took the message; the
            // scenario's retry is the same: the message is sent again under the same id.
        }
        fn trouble(&self, trouble: Trouble) {
            // aiosmtpd has no rate limit to provoke (a 4xx reply is `Retryable` in `smtp.rs`
            // like any other non-permanent error); the outage is the server gone.
            if trouble == Trouble::Outage {
                let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let port = closed.local_addr().unwrap().port();
                drop(closed);
                *self.down.lock().unwrap() = Some(port);
            }
        }
        fn clear_trouble(&self) {
            *self.down.lock().unwrap() = None;
        }
        fn category(&self, _: &TicketRef) -> Option<Category> {
            None
        }
        fn title(&self, _: &TicketRef) -> Option<String> {
            None
        }
        fn comments(&self, ticket: &TicketRef) -> Vec<String> {
            self.thread(ticket)
                .iter()
                .filter(|m| Self::header(m, "message-id").contains(".c."))
                .map(|m| {
                    m["parts"]["text/plain"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        }
        fn stored_text(&self, ticket: &TicketRef) -> String {
            self.thread(ticket)
                .iter()
                .map(|m| {
                    // The header names (a subject is plain text; an injected header is live).
                    let names: Vec<String> = m["headers"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(|name| format!("{name}:"))
                        .collect();
                    format!(
                        "{}\n{}",
                        names.join(" "),
                        m["parts"]["text/html"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        fn live_markup(&self) -> &'static [&'static str] {
            // The HTML part: any tag from the alert; the headers: an injected one.
            &["<img", "<b>", "bcc:"]
        }
        fn delete(&self, _: &TicketRef) {}
        fn missing(&self) -> TicketRef {
            TicketRef {
                tracker: "email".into(),
                key: "nothing".into(),
                url: None,
            }
        }
        fn assert_no_violations(&self) {}
    }
}

// ---------------------------------------------------------------------------------------------
// Which scenarios run against which tracker.

/// A test per scenario in `$scenario`, run with harness `$harness`, in module `$name`.
macro_rules! contract {
    ($name:ident, $harness:ty, [$($scenario:ident),* $(,)?], calls: $calls:expr) => {
        mod $name {
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario::<$harness>().await
                }
            )*
            #[tokio::test]
            async fn calls_per_ticket() {
                super::calls_per_ticket::<$harness>($calls).await
            }
        }
    };
}

// Drafts: nothing leaves, so there is no lost answer, fault, deletion or stored text; what is
// meaningful is that a draft is named by its group and every call is accepted without a call.
contract!(
    draft_tracker,
    draft::Draft,
    [create],
    calls: &[
        ("ticket created (cold)", 0),
        ("ticket created", 0),
        ("update", 0),
        ("comment", 0),
        ("resolve", 0),
        ("reopen", 0),
        ("close not planned", 0),
    ]
);

contract!(
    jira_cloud,
    jira::Cloud,
    [
        create,
        find_after_lost_answer,
        update,
        transition_by_category,
        close_and_reopen,
        comment_once,
        deleted_and_missing,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 5),
        ("ticket created", 3),
        ("update", 1),
        ("comment", 2),
        ("resolve", 3),
        ("reopen", 3),
        ("close not planned", 3),
    ]
);

contract!(
    jira_data_center,
    jira::DataCenter,
    [
        create,
        find_after_lost_answer,
        update,
        transition_by_category,
        close_and_reopen,
        comment_once,
        deleted_and_missing,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 5),
        ("ticket created", 3),
        ("update", 1),
        ("comment", 2),
        ("resolve", 3),
        ("reopen", 3),
        ("close not planned", 3),
    ]
);

contract!(
    github_issues,
    github::GitHub,
    [
        create,
        find_after_lost_answer,
        update,
        transition_by_category,
        close_and_reopen,
        comment_once,
        deleted_and_missing,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 4),
        ("ticket created", 2),
        ("update", 2),
        ("comment", 2),
        ("resolve", 2),
        ("reopen", 2),
        ("close not planned", 2),
    ]
);

contract!(
    linear_app,
    linear::Linear,
    [
        create,
        find_after_lost_answer,
        update,
        transition_by_category,
        close_and_reopen,
        comment_once,
        deleted_and_missing,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 9),
        ("ticket created", 4),
        ("update", 2),
        ("comment", 2),
        ("resolve", 2),
        ("reopen", 2),
        ("close not planned", 2),
    ]
);

contract!(
    servicenow_table_api,
    servicenow::ServiceNow,
    [
        create,
        find_after_lost_answer,
        update,
        transition_by_category,
        close_and_reopen,
        comment_once,
        deleted_and_missing,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 2),
        ("ticket created", 2),
        ("update", 2),
        ("comment", 2),
        ("resolve", 2),
        ("reopen", 2),
        ("close not planned", 3),
    ]
);

// Email: a thread per group, outbound only. Kept out: `update` (a refresh sends nothing: the
// thread is not a ticket to keep current), the workflow scenarios (mail keeps no state to read
// back; `email_tracker.rs` checks which moves send which message), `deleted_and_missing` (nothing
// to delete). The lost answer is a repeated create sending the same `Message-ID`.
contract!(
    email_smtp,
    email::Email,
    [
        create,
        find_after_lost_answer,
        comment_once,
        rate_limit_and_5xx,
        hostile_text_is_inert,
    ],
    calls: &[
        ("ticket created (cold)", 1),
        ("ticket created", 1),
        ("update", 0),
        ("comment", 1),
        ("resolve", 1),
        ("reopen", 1),
        ("close not planned", 1),
    ]
);
