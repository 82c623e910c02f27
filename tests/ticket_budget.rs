//! The ticket budget through the real path: real code scanning deliveries (the octokit examples,
//! one rule each) through the webhook function's handler, the executor, the real Jira adapter and
//! a fake Jira that checks every request against Atlassian's OpenAPI description. With a budget of
//! 5 per repository, 30 groups make 5 open issues and one overflow issue listing 25, highest
//! priority first (lowest priority overflows first: a high arriving at a full budget displaces the
//! newest low, whose issue is closed into the overflow issue); a ticket going stale promotes the
//! first listed group to an issue of its own; a larger budget promotes, a smaller one closes the
//! lowest-priority issues into the overflow issue; a critical alert always gets its own issue. The
//! same scenario runs on the local mode's SQLite store with the draft tracker (and a person's
//! close from the CLI promotes too), and 30 deliveries racing on DynamoDB Local take exactly 5
//! slots. A burst of 200 findings joining 10 groups of a budget of 3 on DynamoDB Local is counted:
//! every delivery applied, no write of the ledger or of the overflow ticket per finding. Run it with `scripts/dynamodb-local.sh cargo test -p scantix-tests --test ticket_budget`.

use github_webhook::handle as handle_github;
use scantix_app::execute::{Executor, ExecutorSettings};
use scantix_app::ingest::GithubIngest;
use scantix_core::config::{Config, TicketBudget};
use scantix_core::decide::steer::{Steer, Steerer};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::{List, Store, read_all};
use scantix_core::ports::tracker::Tracker;
use scantix_core::records::budget::BudgetScope;
use scantix_core::records::{GroupRecord, TicketState};
use scantix_core::secret::Secret;
use scantix_core::ticket::listing;
use scantix_jira::{self as jira, JiraAuth, JiraSettings, JiraTracker};
use scantix_tests::fake_jira::{self, CLOUD_API_TOKEN, CLOUD_EMAIL, FakeJira, IssueSnapshot};
use scantix_tests::webhooks::{delivery_request, octokit, varied};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The repository of octokit's `code_scanning_alert/created` example.
const REPO: u64 = 337911632;
const LEVELS: [&str; 3] = ["low", "medium", "high"];

fn budget(per_repository: u32) -> Config {
    Config {
        budget: TicketBudget {
            per_repository: Some(per_repository),
            ..TicketBudget::default()
        },
        ..Config::default()
    }
}

/// A real code scanning delivery for alert `number` of rule `rule` (`Budget rule NN`, its own
/// group) at `level`: the octokit example for the action, moved to the repository, branch and
/// location of the `created` example so that every delivery describes one alert.
fn alert(action_file: &str, number: u64, rule: usize, level: &str) -> Vec<u8> {
    let created: Value =
        serde_json::from_slice(&octokit("code_scanning_alert/created.payload.json")).unwrap();
    let mut rule_json = created["alert"]["rule"].clone();
    rule_json["id"] = json!(format!("js/budget-{rule:02}"));
    rule_json["name"] = json!(format!("Budget rule {rule:02}"));
    rule_json["security_severity_level"] = json!(level);
    varied(
        &octokit(&format!("code_scanning_alert/{action_file}")),
        &[
            ("repository", created["repository"].clone()),
            ("alert.number", json!(number)),
            ("alert.rule", rule_json),
            ("alert.tool", created["alert"]["tool"].clone()),
            ("alert.instances", created["alert"]["instances"].clone()),
            ("ref", created["ref"].clone()),
        ],
    )
}

struct World {
    store: Arc<dyn Store>,
    tracker: Arc<dyn Tracker>,
    github: Arc<MemoryGitHub>,
    ingest: GithubIngest,
    deliveries: u32,
}

impl World {
    fn new(store: Arc<dyn Store>, tracker: Arc<dyn Tracker>, config: Config) -> World {
        let github = Arc::new(MemoryGitHub::new());
        let ingest = ingest(&store, &tracker, &github, config);
        World {
            store,
            tracker,
            github,
            ingest,
            deliveries: 0,
        }
    }

    /// The settings change (a new `budget` in the file): events are applied under `config`.
    fn reconfigure(&mut self, config: Config) {
        self.ingest = ingest(&self.store, &self.tracker, &self.github, config);
    }

    fn executor(&self, config: Config) -> Executor {
        Executor::new(self.store.clone(), self.tracker.clone(), config)
            .with_github(self.github.clone())
    }

    /// Delivers `action_file` for alert `number` of rule `rule`; returns the outcome's actions.
    async fn deliver(
        &mut self,
        action_file: &str,
        number: u64,
        rule: usize,
        level: &str,
    ) -> Vec<String> {
        self.deliveries += 1;
        let body = alert(action_file, number, rule, level);
        let id = format!("budget-{}", self.deliveries);
        let response = handle_github(
            &self.ingest,
            delivery_request("code_scanning_alert", &id, &body, None),
        )
        .await
        .unwrap();
        let status = response.status().as_u16();
        let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(status, 200, "{answer}");
        answer["outcome"]["actions"].as_array().map_or(vec![], |a| {
            a.iter()
                .map(|x| x["action"].as_str().unwrap().to_owned())
                .collect()
        })
    }

    /// Every group, overflow tickets' included.
    async fn groups(&self) -> Vec<GroupRecord> {
        world_groups_of(&self.store).await
    }
}

fn ingest(
    store: &Arc<dyn Store>,
    tracker: &Arc<dyn Tracker>,
    github: &Arc<MemoryGitHub>,
    config: Config,
) -> GithubIngest {
    // No pause before rewriting a ticket (a burst's refreshes are coalesced under a lease; these
    // deliveries come one after another).
    let settings = ExecutorSettings {
        coalesce: Duration::ZERO,
        ..ExecutorSettings::default()
    };
    let executor = Executor::new(store.clone(), tracker.clone(), config)
        .with_github(github.clone())
        .with_settings(settings);
    GithubIngest::new(
        Secret::new(scantix_tests::webhooks::SECRET),
        Arc::new(executor),
    )
}

fn jira_tracker(fake: &FakeJira) -> Arc<dyn Tracker> {
    let settings = JiraSettings {
        request_timeout_secs: 2,
        ..JiraSettings::new(fake.base_url(), jira::Flavor::Cloud, "SEC")
    };
    let auth = JiraAuth::Cloud {
        email: CLOUD_EMAIL.into(),
        api_token: Secret::new(CLOUD_API_TOKEN),
    };
    Arc::new(
        JiraTracker::new(settings, auth)
            .unwrap()
            .with_backoff_base(Duration::from_millis(5)),
    )
}

/// The issues whose summary names rule `NN`, and the overflow issue.
fn issues(fake: &FakeJira) -> (Vec<IssueSnapshot>, Option<IssueSnapshot>) {
    let mut own = Vec::new();
    let mut overflow = None;
    for key in fake.issue_keys() {
        let issue = fake.snapshot(&key).unwrap();
        if issue.summary.starts_with("Ticket budget:") {
            assert!(overflow.is_none(), "one overflow issue per repository");
            overflow = Some(issue);
        } else {
            own.push(issue);
        }
    }
    (own, overflow)
}

fn open_rules(issues: &[IssueSnapshot]) -> Vec<String> {
    let mut rules: Vec<String> = issues
        .iter()
        .filter(|i| i.category != fake_jira::Category::Done)
        .map(|i| rule_in(&i.summary))
        .collect();
    rules.sort();
    rules
}

fn rule_in(text: &str) -> String {
    let at = text.find("Budget rule ").expect("a rule's issue");
    text[at..at + "Budget rule NN".len()].to_owned()
}

/// The rules the overflow issue lists, in its order.
fn listed(overflow: &IssueSnapshot) -> Vec<String> {
    let text = overflow.fields["description"].to_string();
    text.match_indices("Budget rule ")
        .map(|(at, _)| text[at..at + "Budget rule NN".len()].to_owned())
        .collect()
}

fn rules(numbers: &[usize]) -> Vec<String> {
    let mut names: Vec<String> = numbers
        .iter()
        .map(|n| format!("Budget rule {n:02}"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn thirty_groups_under_a_budget_of_five_in_jira_then_closing_promoting_and_rebalancing() {
    let fake = FakeJira::start(fake_jira::Flavor::Cloud).await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut world = World::new(store.clone(), jira_tracker(&fake), budget(5));

    // 30 groups, one alert each, severities cycling low, medium, high. Lowest priority overflows
    // first: a high arriving at a full budget takes the slot of the newest of the lowest holders,
    // whose issue is closed into the overflow issue; a group that outranks no holder waits.
    for rule in 0..30 {
        fake.clear_requests();
        let actions = world
            .deliver(
                "created.payload.json",
                rule as u64 + 1,
                rule,
                LEVELS[rule % 3],
            )
            .await;
        let expected = match rule {
            0..=5 | 7 | 8 | 11 | 14 => "create_ticket",
            _ => "ticket_overflowed",
        };
        assert_eq!(actions, [expected], "rule {rule}");
    }
    // What a group over the budget costs in Jira: the overflow issue updated in place, once.
    let calls: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    println!("Jira calls for the 30th group (over the budget): {calls:?}");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("PUT /rest/api/3/issue/"), "{calls:?}");
    let (own, overflow) = issues(&fake);
    assert_eq!(open_rules(&own), rules(&[2, 5, 8, 11, 14]));
    assert_eq!(own.len(), 10, "five displaced issues, closed");
    for displaced in own
        .iter()
        .filter(|i| i.category == fake_jira::Category::Done)
    {
        let last = displaced.comments.last().unwrap().to_string();
        assert!(last.contains("Closed into the overflow ticket"), "{last}");
    }
    let overflow = overflow.expect("an overflow issue");
    assert_eq!(
        overflow.summary,
        "Ticket budget: 25 groups waiting in Codertocat/Hello-World (budget 5)"
    );
    // Highest priority first (the highs in the order they arrived), then mediums, then lows.
    let expected: Vec<String> = [17, 20, 23, 26, 29]
        .iter()
        .chain(&[1, 4, 7, 10, 13, 16, 19, 22, 25, 28])
        .chain(&[0, 3, 6, 9, 12, 15, 18, 21, 24, 27])
        .map(|n| format!("Budget rule {n:02}"))
        .collect();
    assert_eq!(listed(&overflow), expected);
    let ledger = store
        .get_budget(&BudgetScope::Repository(REPO))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!((ledger.holders.len(), ledger.overflow.len()), (5, 25));
    assert!(ledger.moves.is_empty(), "every move carried out");

    // Rule 02's alert is fixed: its issue goes stale, and the first listed group (rule 17, the
    // oldest high waiting) is promoted to an issue of its own; the overflow issue is updated in
    // place.
    let actions = world.deliver("fixed.payload.json", 3, 2, "high").await;
    assert!(
        actions.contains(&"mark_ticket_stale".to_owned()),
        "{actions:?}"
    );
    let (own, overflow) = issues(&fake);
    assert_eq!(own.len(), 11);
    assert_eq!(open_rules(&own), rules(&[2, 5, 8, 11, 14, 17]));
    let overflow = overflow.unwrap();
    assert!(
        overflow.summary.starts_with("Ticket budget: 24 groups"),
        "{}",
        overflow.summary
    );
    assert_eq!(listed(&overflow), expected[1..]);

    // The budget grows to 8: the next event of the repository promotes the next three highs.
    world.reconfigure(budget(8));
    world.deliver("created.payload.json", 31, 5, "high").await;
    let (own, overflow) = issues(&fake);
    assert_eq!(own.len(), 14);
    assert_eq!(listed(&overflow.unwrap()), expected[4..]);

    // It shrinks to 3, rebalanced at once: the five lowest-priority issues (the newest highs) are
    // closed into the overflow issue, each with a comment saying so; the three oldest stay.
    let executor = world.executor(budget(3));
    let ledger = executor
        .rebalance_budget(&BudgetScope::Repository(REPO), &budget(3), "scantix")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ledger.holders.len(), ledger.overflow.len()), (3, 26));
    let (own, overflow) = issues(&fake);
    // Rule 02's stale issue waits for a person (stale is not done).
    assert_eq!(open_rules(&own), rules(&[2, 5, 8, 11]));
    let done = own
        .iter()
        .filter(|i| i.category == fake_jira::Category::Done)
        .count();
    assert_eq!(done, 10);
    assert!(
        overflow
            .unwrap()
            .summary
            .starts_with("Ticket budget: 26 groups")
    );

    // A critical alert gets its own issue however full the budget.
    world.reconfigure(budget(3));
    let actions = world
        .deliver("created.payload.json", 40, 40, "critical")
        .await;
    assert_eq!(actions, ["create_ticket"]);
    assert_eq!(issues(&fake).0.len(), 15);

    // Retried events and moves never duplicated an issue: one per group, one overflow issue.
    let groups = world.groups().await;
    let ticketed = groups.iter().filter(|g| g.ticket.is_some()).count();
    assert_eq!(fake.issue_keys().len(), ticketed);
    fake.assert_no_violations();
}

#[tokio::test]
async fn the_same_budget_locally_makes_five_drafts_and_one_overflow_draft() {
    let (sqlite, _dir) = scantix_tests::sqlite::temp_store();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let mut world = World::new(store.clone(), Arc::new(DraftTracker), budget(5));
    for rule in 0..30 {
        world
            .deliver(
                "created.payload.json",
                rule as u64 + 1,
                rule,
                LEVELS[rule % 3],
            )
            .await;
    }
    let groups = world.groups().await;
    let drafts: Vec<&GroupRecord> = groups.iter().filter(|g| g.ticket.is_some()).collect();
    // Displaced drafts were withdrawn (filed nowhere, nothing to close).
    assert_eq!(drafts.len(), 6, "five drafts and the overflow draft");
    let overflow_key = BudgetScope::Repository(REPO).overflow_key();
    let overflow = listing::ticket(store.as_ref(), &overflow_key)
        .await
        .unwrap()
        .expect("the overflow draft");
    assert_eq!(
        overflow.title,
        "Ticket budget: 25 groups waiting in Codertocat/Hello-World (budget 5)"
    );
    assert_eq!(overflow.body.matches("Budget rule ").count(), 25);
    // Listed among the tickets in the open state, like any draft.
    let open = store
        .groups_in(&List::State(TicketState::Draft), None, 100)
        .await
        .unwrap();
    assert!(open.items.iter().any(|g| g.value.key == overflow_key));

    // Fixing rule 02's alert promotes rule 17: its draft is made, the overflow draft lists 24.
    world.deliver("fixed.payload.json", 3, 2, "high").await;
    let promoted = world
        .groups()
        .await
        .into_iter()
        .find(|g| g.rule.name == "Budget rule 17")
        .unwrap();
    assert!(promoted.ticket.is_some(), "rule 17 promoted to a draft");
    let overflow = listing::ticket(store.as_ref(), &overflow_key)
        .await
        .unwrap()
        .unwrap();
    assert!(
        overflow.title.starts_with("Ticket budget: 24 groups"),
        "{}",
        overflow.title
    );

    // A person closes rule 05's draft (`scantix tickets close`): its slot frees, rule 20 (the next
    // high waiting) gets its draft.
    let closed = group_named(&store, "Budget rule 05").await;
    let executor = world.executor(budget(5));
    let by = Steerer {
        actor: "alice".into(),
        reason: "accepted risk".into(),
    };
    let change = Steer::Close {
        reason: "accepted risk".into(),
    };
    let steering = executor
        .apply_steer(&closed.key, &change, &by)
        .await
        .unwrap();
    assert_eq!(steering.state, Some(TicketState::Resolved));
    let promoted = group_named(&store, "Budget rule 20").await;
    assert!(promoted.ticket.is_some(), "rule 20 promoted");
    let overflow = listing::ticket(store.as_ref(), &overflow_key)
        .await
        .unwrap()
        .unwrap();
    assert!(
        overflow.title.starts_with("Ticket budget: 23 groups"),
        "{}",
        overflow.title
    );
}

async fn group_named(store: &Arc<dyn Store>, rule: &str) -> GroupRecord {
    world_groups_of(store)
        .await
        .into_iter()
        .find(|g| g.rule.name == rule)
        .unwrap()
}

/// 30 groups' first alerts delivered all at once to a DynamoDB table (DynamoDB Local): the
/// ledger's guarded write in each group's commit lets exactly 5 take a slot, however the
/// deliveries interleave; the moves they recorded, carried out, leave 5 drafts and one overflow
/// draft listing 25.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_groups_racing_on_dynamodb_take_exactly_five_slots() {
    let store: Arc<dyn Store> = Arc::new(scantix_tests::dynamodb::local_store().await);
    let world = World::new(store.clone(), Arc::new(DraftTracker), budget(5));
    let ingest = Arc::new(world.ingest);
    let deliveries = (0..30usize).map(|rule| {
        let ingest = ingest.clone();
        tokio::spawn(async move {
            let body = alert("created.payload.json", rule as u64 + 1, rule, "high");
            let request =
                delivery_request("code_scanning_alert", &format!("race-{rule}"), &body, None);
            let response = handle_github(ingest.as_ref(), request).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
        })
    });
    for delivery in deliveries.collect::<Vec<_>>() {
        delivery.await.unwrap();
    }
    // Moves a racing event left recorded are carried out by the next pass over the scope.
    let scope = BudgetScope::Repository(REPO);
    let executor = Executor::new(store.clone(), Arc::new(DraftTracker), budget(5));
    let ledger = executor
        .rebalance_budget(&scope, &budget(5), "scantix")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ledger.holders.len(), ledger.overflow.len()), (5, 25));
    assert!(ledger.moves.is_empty(), "{:?}", ledger.moves);
    let groups = world_groups_of(&store).await;
    let overflow_key = scope.overflow_key();
    for group in groups.iter().filter(|g| g.key != overflow_key) {
        assert_eq!(
            group.ticket.is_some(),
            ledger.holds(&group.key),
            "{}: a draft exactly when it holds a slot",
            group.key
        );
    }
    assert_eq!(groups.iter().filter(|g| g.ticket.is_some()).count(), 6);
    let overflow = listing::ticket(store.as_ref(), &overflow_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(overflow.body.matches("Budget rule ").count(), 25);
}

/// Every group of `store`, overflow tickets' included.
async fn world_groups_of(store: &Arc<dyn Store>) -> Vec<GroupRecord> {
    read_all(|after| {
        let store = store.clone();
        async move { store.all_groups(after.as_deref(), 100).await }
    })
    .await
    .unwrap()
    .into_iter()
    .map(|g| g.value)
    .collect()
}

/// The burst that crawled through `scantix serve` (1,000 alerts over 10 groups of a repository
/// with a budget of 3: about 300 applied in 15 minutes): every finding joining a group rewrote the
/// repository's one ledger item in its commit, so every event of the repository raced for that
/// item, and the overflow ticket was refreshed once per finding. Here, on DynamoDB Local, 10
/// groups are founded (3 issues, 7 waiting), then 200 alerts join them all at once. Counted, not
/// timed: the joins leave the ledger and the overflow ticket's group as they were (same versions:
/// not one write to either), every delivery is applied, and the store's commits stay within a
/// few per delivery (the races on each group's own item that a burst has without a budget too).
/// Past the recount window, one join writes its count once; a pass over the scope (the sweeper's,
/// `scantix budget rebalance`) brings every count the overflow issue shows up to date, in one
/// refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_into_overflowed_groups_on_dynamodb_writes_neither_the_ledger_nor_the_overflow_ticket_per_finding()
 {
    use chrono::{TimeZone, Utc};
    use scantix_core::memory::counted_tracker::Counted;
    use scantix_core::memory::faults::{Faults, FaultyStore};
    use scantix_core::memory::tracker::MemoryTracker;
    use scantix_core::records::budget::RECOUNT_WINDOW_SECONDS;
    use std::sync::Mutex;

    const GROUPS: usize = 10;
    const JOINING: usize = 20;
    let dynamo = Arc::new(scantix_tests::dynamodb::local_store().await);
    let faults = Faults::new();
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(dynamo, faults.clone()));
    let tickets = MemoryTracker::new();
    let (tracker, calls) = Counted::new(tickets.clone());
    let tracker: Arc<dyn Tracker> = Arc::new(tracker);
    // Time stands still unless the test moves it: the burst falls inside one recount window
    // however slowly the machine runs it.
    let t0 = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
    let now = Arc::new(Mutex::new(t0));
    let clock = {
        let now = now.clone();
        Arc::new(move || *now.lock().unwrap()) as scantix_core::ports::clock::Clock
    };
    let executor = Arc::new(
        Executor::new(store.clone(), tracker.clone(), budget(3))
            .with_github(Arc::new(MemoryGitHub::new()))
            .with_clock(clock)
            .with_settings(ExecutorSettings {
                coalesce: Duration::ZERO,
                ..ExecutorSettings::default()
            }),
    );
    let ingest = Arc::new(GithubIngest::new(
        Secret::new(scantix_tests::webhooks::SECRET),
        executor.clone(),
    ));
    let deliver = |ingest: Arc<GithubIngest>, id: String, number: u64, rule: usize| async move {
        let body = alert("created.payload.json", number, rule, "high");
        let request = delivery_request("code_scanning_alert", &id, &body, None);
        let response = handle_github(ingest.as_ref(), request).await.unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            println!("{id}: {status} {:?}", response.body());
        }
        status
    };

    // Ten groups, one alert each: the first three hold the slots, seven wait.
    for rule in 0..GROUPS {
        let status = deliver(
            ingest.clone(),
            format!("found-{rule}"),
            rule as u64 + 1,
            rule,
        )
        .await;
        assert_eq!(status, 200);
    }
    let scope = BudgetScope::Repository(REPO);
    let overflow_key = scope.overflow_key();
    let ledger = store.get_budget(&scope).await.unwrap().unwrap();
    assert_eq!(
        (ledger.value.holders.len(), ledger.value.overflow.len()),
        (3, 7)
    );
    assert!(ledger.value.moves.is_empty(), "{:?}", ledger.value.moves);
    let overflow = store.get_group(&overflow_key).await.unwrap().unwrap();
    assert!(overflow.value.outbox.is_empty() && overflow.value.ticket.is_some());
    let commits = |faults: &Faults| {
        faults
            .calls()
            .iter()
            .filter(|c| **c == "store.commit")
            .count()
    };
    let (commits_before, calls_before) = (commits(&faults), calls.snapshot());

    // The burst: 20 more alerts for each group, all at once.
    let burst: Vec<_> = (0..GROUPS * JOINING)
        .map(|i| {
            let rule = i % GROUPS;
            let number = 100 + i as u64;
            tokio::spawn(deliver(ingest.clone(), format!("burst-{i}"), number, rule))
        })
        .collect();
    let mut refused = 0;
    for delivery in burst {
        refused += usize::from(delivery.await.unwrap() != 200);
    }
    let deliveries = GROUPS * JOINING;
    let burst_commits = commits(&faults) - commits_before;
    let burst_calls = calls.snapshot();
    let after = store.get_budget(&scope).await.unwrap().unwrap();
    let overflow_after = store.get_group(&overflow_key).await.unwrap().unwrap();
    println!(
        "burst of {deliveries} deliveries: {refused} refused, {burst_commits} store commits \
         ({:.2} per delivery), {} ledger writes, {} writes of the overflow ticket's group, \
         tracker calls {calls_before:?} -> {burst_calls:?}",
        burst_commits as f64 / deliveries as f64,
        after.version - ledger.version,
        overflow_after.version - overflow.version,
    );
    assert_eq!(refused, 0, "every delivery applied");
    assert_eq!(after.version, ledger.version, "no join rewrote the ledger");
    assert_eq!(
        overflow_after.version, overflow.version,
        "no join touched the overflow ticket's group (so no refresh of the overflow issue)"
    );
    // 20 deliveries racing into each group's own item cost several commits each whatever the
    // budget (the same burst without a budget: 9.2 and 10.4 per delivery in two runs). With every
    // join writing the ledger it was 41 per delivery, and 70 of the 200 deliveries gave up after
    // 50 conflicts.
    assert!(
        burst_commits <= 15 * deliveries,
        "{burst_commits} commits for {deliveries} deliveries"
    );
    // Every finding is in its group.
    let groups = world_groups_of(&store).await;
    let open: u32 = groups
        .iter()
        .filter(|g| g.key != overflow_key)
        .map(|g| g.tally.open)
        .sum();
    assert_eq!(open as usize, GROUPS * (JOINING + 1));
    // No issue was created by the burst: still the three holders' and the overflow issue.
    assert_eq!(burst_calls.create, calls_before.create);
    assert_eq!(tickets.all().len(), 3 + 1);

    // Past the window: the next join into a waiting group writes its count (once: the one after
    // it waits for the next window), and the overflow issue is refreshed with it.
    *now.lock().unwrap() = t0 + chrono::Duration::seconds(RECOUNT_WINDOW_SECONDS + 1);
    let waiting: Vec<usize> = (0..GROUPS)
        .filter(|rule| {
            let name = format!("Budget rule {rule:02}");
            ledger.value.overflow.iter().any(|e| e.title == name)
        })
        .collect();
    assert_eq!(waiting.len(), 7);
    for (i, rule) in waiting.iter().enumerate() {
        let status = deliver(ingest.clone(), format!("late-{i}"), 1_000 + i as u64, *rule).await;
        assert_eq!(status, 200);
    }
    let late = store.get_budget(&scope).await.unwrap().unwrap();
    // One write of the count, one settling the overflow issue's refresh.
    assert_eq!(late.version, ledger.version + 2, "{:?}", late.value);
    let updated = calls.snapshot().update - burst_calls.update;
    assert!(updated <= 2, "{updated} overflow issue updates");

    // A pass over the scope recounts what the overflow issue shows: 22 open in each waiting group.
    let passed = executor
        .rebalance_budget(&scope, &budget(3), "scantix")
        .await
        .unwrap()
        .unwrap();
    assert!(passed.moves.is_empty());
    assert!(
        passed.overflow.iter().all(|e| e.open == 22),
        "{:?}",
        passed.overflow
    );
    let overflow = store.get_group(&overflow_key).await.unwrap().unwrap();
    let issue = tickets.ticket(&overflow.value.ticket.unwrap().key).unwrap();
    assert_eq!(
        issue.body.matches("22 open findings").count(),
        7,
        "{}",
        issue.body
    );
    println!(
        "ledger writes: {} in all ({} before the burst)",
        passed_version(&store, &scope).await,
        ledger.version
    );
}

async fn passed_version(store: &Arc<dyn Store>, scope: &BudgetScope) -> u64 {
    store.get_budget(scope).await.unwrap().unwrap().version
}
