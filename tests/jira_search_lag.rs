//! Jira Cloud's search is eventually consistent: an issue created seconds ago may not be in
//! `/rest/api/3/search/jql` yet ("from a few seconds to minutes",
//! developer.atlassian.com/cloud/jira/platform/search-and-reconcile/). The lookup by group key
//! that makes a create safe to repeat must not be fooled by it. Against a fake Jira whose search
//! index lags its writes by two seconds, every way a create can end without its ticket being
//! recorded is followed by a retry; each must leave exactly one issue for the group.
//!
//! - **lost answer**: Jira creates the issue, its answer arrives after the client's timeout; the
//!   adapter itself repeats the create after looking.
//! - **crash, redelivered**: Jira creates the issue and the worker dies before the store hears of
//!   it; the same delivery comes again at once (GitHub's redelivery, an SQS retry).
//! - **crash, next event**: the same, then another alert of the group arrives.
//! - **crash, sweeper**: the same, then the sweeper's pass over queued work syncs the group.

use scantix_app::execute::Executor;
use scantix_core::config::Config;
use scantix_core::event::{AlertChange, AlertEvent};
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::Tracker;
use scantix_core::records::Triage;
use scantix_core::secret::Secret;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::crash::CrashAfterCreate;
use scantix_tests::fake_jira::{
    CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira, FakeJiraConfig, Fault, Flavor,
};
use scantix_tests::records::{group_key_of, sample_finding};
use std::sync::Arc;
use std::time::Duration;

/// How long the fake's search index lags behind its writes: far longer than the adapter's retry
/// backoff, far shorter than the window Jira Cloud is given by default.
const LAG: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
enum Scenario {
    LostAnswer,
    CrashRedelivered,
    CrashNextEvent,
    CrashSweeper,
}

fn opened(number: u64) -> AlertEvent {
    AlertEvent {
        change: AlertChange::Opened,
        action: "created".into(),
        finding: sample_finding(4242, number),
        actor: None,
        installation_id: None,
    }
}

/// Runs `scenario` against a fresh lagging fake Jira; returns the issues it holds and the ticket
/// the store recorded for the group.
async fn run(scenario: Scenario) -> (Vec<String>, Option<String>) {
    let fake = FakeJira::start_with(
        Flavor::Cloud,
        FakeJiraConfig {
            search_lag: LAG,
            ..FakeJiraConfig::default()
        },
    )
    .await;
    let settings = JiraSettings {
        // The lost answer: Jira answers after 2 s, the client gives up after 1 s.
        request_timeout_secs: 1,
        ..JiraSettings::new(fake.base_url(), jira::Flavor::Cloud, "SEC")
    };
    let jira = JiraTracker::new(
        settings,
        JiraAuth::Cloud {
            email: CLOUD_EMAIL.into(),
            api_token: Secret::new(CLOUD_API_TOKEN),
        },
    )
    .expect("valid settings")
    .with_backoff_base(Duration::from_millis(5));
    let tracker: Arc<dyn Tracker> = match scenario {
        Scenario::LostAnswer => Arc::new(jira),
        _ => Arc::new(CrashAfterCreate::new(jira)),
    };
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(store.clone(), tracker, Config::default());
    if let Scenario::LostAnswer = scenario {
        fake.inject_on(
            "POST",
            "/issue",
            Fault::LostResponse(Duration::from_secs(2)),
            1,
        );
    }

    let first = executor
        .apply_alert("github:first", &opened(1), Triage::Ticket)
        .await;
    match scenario {
        Scenario::LostAnswer => {
            first.expect("the adapter repeats the create itself, after looking");
        }
        Scenario::CrashRedelivered => {
            assert!(first.is_err(), "the crash fails the delivery");
            executor
                .apply_alert("github:first", &opened(1), Triage::Ticket)
                .await
                .expect("the redelivery");
        }
        Scenario::CrashNextEvent => {
            assert!(first.is_err(), "the crash fails the delivery");
            executor
                .apply_alert("github:second", &opened(2), Triage::Ticket)
                .await
                .expect("the next alert of the group");
        }
        Scenario::CrashSweeper => {
            assert!(first.is_err(), "the crash fails the delivery");
            executor
                .sync_group(&group_key_of(&sample_finding(4242, 1)))
                .await
                .expect("the sweeper's sync of the group");
        }
    }

    let group = store
        .get_group(&group_key_of(&sample_finding(4242, 1)))
        .await
        .expect("the store answers")
        .expect("the group");
    fake.assert_no_violations();
    (fake.issue_keys(), group.value.ticket.map(|t| t.key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_search_never_yields_a_second_issue() {
    let scenarios = [
        Scenario::LostAnswer,
        Scenario::CrashRedelivered,
        Scenario::CrashNextEvent,
        Scenario::CrashSweeper,
    ];
    let outcomes = futures_join(scenarios.iter().map(|scenario| run(*scenario))).await;
    let mut duplicates = 0;
    let mut report = Vec::new();
    for (scenario, (issues, ticket)) in scenarios.iter().zip(&outcomes) {
        duplicates += issues.len().saturating_sub(1);
        report.push(format!(
            "{scenario:?}: issues {issues:?}, recorded {ticket:?}"
        ));
    }
    println!("{}", report.join("\n"));
    assert_eq!(duplicates, 0, "{}", report.join("\n"));
    for (scenario, (issues, ticket)) in scenarios.iter().zip(&outcomes) {
        assert_eq!(issues.len(), 1, "{scenario:?}: {issues:?}");
        assert_eq!(
            ticket.as_deref(),
            issues.first().map(String::as_str),
            "{scenario:?}: the store records the one issue"
        );
    }
}

/// Runs the scenarios side by side (each waits on the fake's lag).
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.expect("a scenario ran to its end"));
    }
    outputs
}
