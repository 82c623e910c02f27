//! Fault injection around the ports: [`Faults`] numbers every call made through the wrappers
//! ([`FaultyStore`], [`FaultyTracker`], [`FaultyGitHub`]), in one sequence across the three, and
//! at one chosen call ([`CrashPoint`]) makes the invocation fail or die — before the call reaches
//! the port, or after the port did what was asked but before the caller heard of it.
//!
//! - **Fail**: the call answers a retryable error (`StoreError::Unavailable`,
//!   `TrackerError::Retryable`, `GitHubError::Retryable`): a throttled store, a dropped connection
//!   whose request may have landed. The caller's own error handling runs.
//! - **Crash**: the call never answers and [`Faults::invoke`] drops the whole invocation, as a
//!   Lambda timeout or an out-of-memory kill does: no error handling, no cleanup, no lease
//!   released. Whatever was written before stays written.
//!
//! [`Faults::interleaving`] perturbs instead of breaking: each call yields to the runtime a chosen
//! number of times before and after it, so that concurrent invocations on one thread interleave
//! at port-call granularity in the order a property test picks.
//!
//! A test runs a scenario once without a fault to count the calls ([`Faults::calls`]), then once
//! per crash point, and checks that recovering (the delivery replayed, the sweeper run) ends
//! where the fault-free run ended. The faults are one-shot: after the armed call, every call
//! passes through.

use crate::finding::{AlertKind, AlertState, DismissReason, Repository};
use crate::identity::{Fingerprint, GroupKey};
use crate::inbox::{Applied, InboxItem};
use crate::ports::github::{
    AlertPage, AlertQuery, AppInstallation, GitHub, GitHubError, IssueComment,
};
use crate::ports::store::{
    Commit, EventKeys, EventRecords, Guarded, Inbox, InboxWriter, List, Members, Page, Store,
    StoreError,
};
use crate::ports::tracker::{Tracker, TrackerError};
use crate::records::{
    AuditEntry, CreateAttempt, CreatedTicket, DeliveryRecord, FindingRecord, GroupContent,
    GroupRecord, InstallationRecord, PullRequestRecord, TicketRef, TicketState, Versioned,
};
use crate::ticket::TicketContent;
use crate::ticket::destination::TrackerSite;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

/// When, around the numbered call, the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The port never sees the call.
    Before,
    /// The port did it; the caller never hears so.
    After,
}

/// What the fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call answers a retryable error.
    Fail,
    /// The invocation dies: [`Faults::invoke`] drops it mid-flight.
    Crash,
}

/// One place to strike: call number `call` (from 0, in the order calls were made through any of
/// the wrappers sharing one [`Faults`]), `moment` it, doing `fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPoint {
    pub call: usize,
    pub moment: Moment,
    pub fault: Fault,
}

/// What [`Faults::invoke`] answers when the invocation crashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crashed;

/// The call counter and the armed crash point, shared by the wrappers of one run.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
    /// Set by a crashing call, taken by `invoke`.
    crashed: AtomicBool,
    /// How often each call yields before and after it (cycled; empty: never).
    yields: Vec<u8>,
}

#[derive(Debug, Default)]
struct FaultState {
    /// Every call made so far, by port and method (`store.commit`, `tracker.create`).
    calls: Vec<&'static str>,
    armed: Option<CrashPoint>,
    /// The call the armed point struck, once it did.
    struck: Option<&'static str>,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Faults whose calls yield to the runtime: call `i` yields `yields[2i]` times before it and
    /// `yields[2i + 1]` times after it (indices cycled over `yields`).
    pub fn interleaving(yields: Vec<u8>) -> Arc<Faults> {
        Arc::new(Faults {
            yields,
            ..Faults::default()
        })
    }

    /// Arms `point` (replacing any point armed before).
    pub fn arm(&self, point: CrashPoint) {
        self.lock().armed = Some(point);
    }

    /// The calls made so far, in order (what a fault-free run counts crash points with).
    pub fn calls(&self) -> Vec<&'static str> {
        self.lock().calls.clone()
    }

    /// The call the armed point struck, if it has.
    pub fn struck(&self) -> Option<&'static str> {
        self.lock().struck
    }

    /// Runs one invocation (a delivery applied, a sweep): its output, or `Crashed` when a call
    /// inside crashed it, in which case the invocation is dropped where it stood.
    pub async fn invoke<F: Future>(&self, invocation: F) -> Result<F::Output, Crashed> {
        let mut invocation = std::pin::pin!(invocation);
        std::future::poll_fn(|cx| match invocation.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Ok(output)),
            // The crashing call set the flag in this very poll and will never wake anyone.
            Poll::Pending if self.crashed.swap(false, Ordering::SeqCst) => {
                Poll::Ready(Err(Crashed))
            }
            Poll::Pending => Poll::Pending,
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers the call; the fault to inject into it, if it is the armed one (then disarmed), and
    /// how often to yield before and after it.
    fn enter(&self, call: &'static str) -> (Option<(Moment, Fault)>, u8, u8) {
        let mut state = self.lock();
        let index = state.calls.len();
        state.calls.push(call);
        let yields = |i: usize| match self.yields.len() {
            0 => 0,
            n => self.yields[i % n],
        };
        let (before, after) = (yields(2 * index), yields(2 * index + 1));
        let fault = match state.armed {
            Some(point) if point.call == index => {
                state.armed = None;
                state.struck = Some(call);
                Some((point.moment, point.fault))
            }
            _ => None,
        };
        (fault, before, after)
    }

    /// Makes `call` through `port`, with the fault armed for it, if any.
    async fn around<T, E>(
        &self,
        call: &'static str,
        injected: impl Fn() -> E,
        port: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let (fault, before, after) = self.enter(call);
        yield_times(before).await;
        match fault {
            Some((Moment::Before, Fault::Fail)) => return Err(injected()),
            Some((Moment::Before, Fault::Crash)) => return self.crash().await,
            _ => {}
        }
        let answer = port.await;
        yield_times(after).await;
        match fault {
            Some((Moment::After, Fault::Fail)) => Err(injected()),
            Some((Moment::After, Fault::Crash)) => self.crash().await,
            _ => answer,
        }
    }

    /// Never returns: flags the crash for `invoke`, which drops the invocation.
    async fn crash<T>(&self) -> T {
        self.crashed.store(true, Ordering::SeqCst);
        std::future::pending().await
    }
}

/// Yields to the runtime `times` times (any runtime: it wakes itself and returns `Pending`).
async fn yield_times(times: u8) {
    for _ in 0..times {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }
}

const INJECTED: &str = "injected fault";

/// A `Store` whose calls go through [`Faults`].
pub struct FaultyStore<S: ?Sized> {
    inner: Arc<S>,
    faults: Arc<Faults>,
}

impl<S: Store + ?Sized> FaultyStore<S> {
    pub fn new(inner: Arc<S>, faults: Arc<Faults>) -> FaultyStore<S> {
        FaultyStore { inner, faults }
    }
}

fn store_error() -> StoreError {
    StoreError::Unavailable(INJECTED.into())
}

#[async_trait]
impl<S: Store + ?Sized> InboxWriter for FaultyStore<S> {
    async fn put_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let port = self.inner.put_inbox(item);
        self.faults
            .around("store.put_inbox", store_error, port)
            .await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Inbox for FaultyStore<S> {
    async fn get_inbox(&self, id: &str) -> Result<Option<InboxItem>, StoreError> {
        let port = self.inner.get_inbox(id);
        self.faults
            .around("store.get_inbox", store_error, port)
            .await
    }

    async fn settle_inbox(
        &self,
        id: &str,
        applied: &Applied,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let port = self.inner.settle_inbox(id, applied, at);
        self.faults
            .around("store.settle_inbox", store_error, port)
            .await
    }

    async fn pending_inbox(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        let port = self.inner.pending_inbox(limit);
        self.faults
            .around("store.pending_inbox", store_error, port)
            .await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for FaultyStore<S> {
    async fn read_event(&self, keys: EventKeys<'_>) -> Result<EventRecords, StoreError> {
        let port = self.inner.read_event(keys);
        self.faults
            .around("store.read_event", store_error, port)
            .await
    }

    async fn get_finding(
        &self,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Versioned<FindingRecord>>, StoreError> {
        let port = self.inner.get_finding(fingerprint);
        self.faults
            .around("store.get_finding", store_error, port)
            .await
    }

    async fn get_group(
        &self,
        key: &GroupKey,
    ) -> Result<Option<Versioned<GroupRecord>>, StoreError> {
        let port = self.inner.get_group(key);
        self.faults
            .around("store.get_group", store_error, port)
            .await
    }

    async fn get_budget(
        &self,
        scope: &crate::records::budget::BudgetScope,
    ) -> Result<Option<Versioned<crate::records::budget::BudgetLedger>>, StoreError> {
        let port = self.inner.get_budget(scope);
        self.faults
            .around("store.get_budget", store_error, port)
            .await
    }

    async fn get_content(&self, key: &GroupKey) -> Result<Option<GroupContent>, StoreError> {
        let port = self.inner.get_content(key);
        self.faults
            .around("store.get_content", store_error, port)
            .await
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let port = self.inner.get_delivery(id);
        self.faults
            .around("store.get_delivery", store_error, port)
            .await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let port = self.inner.commit(commit);
        self.faults.around("store.commit", store_error, port).await
    }

    async fn put_group(&self, group: Guarded<GroupRecord>) -> Result<u64, StoreError> {
        let port = self.inner.put_group(group);
        self.faults
            .around("store.put_group", store_error, port)
            .await
    }

    async fn group_findings(
        &self,
        group: &GroupKey,
        which: Members,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<FindingRecord>>, StoreError> {
        let port = self.inner.group_findings(group, which, after, limit);
        self.faults
            .around("store.group_findings", store_error, port)
            .await
    }

    async fn groups_in(
        &self,
        list: &List,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let port = self.inner.groups_in(list, after, limit);
        self.faults
            .around("store.groups_in", store_error, port)
            .await
    }

    async fn audit_log(&self, key: &GroupKey) -> Result<Vec<AuditEntry>, StoreError> {
        let port = self.inner.audit_log(key);
        self.faults
            .around("store.audit_log", store_error, port)
            .await
    }

    async fn changes_on(
        &self,
        day: chrono::NaiveDate,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let port = self.inner.changes_on(day, after, limit);
        self.faults
            .around("store.changes_on", store_error, port)
            .await
    }

    async fn analysis_findings(
        &self,
        analysis: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Fingerprint>, StoreError> {
        let port = self.inner.analysis_findings(analysis, after, limit);
        self.faults
            .around("store.analysis_findings", store_error, port)
            .await
    }

    async fn group_for_ticket(
        &self,
        tracker: &str,
        ticket_key: &str,
    ) -> Result<Option<GroupKey>, StoreError> {
        let port = self.inner.group_for_ticket(tracker, ticket_key);
        self.faults
            .around("store.group_for_ticket", store_error, port)
            .await
    }

    async fn get_installation(
        &self,
        id: u64,
    ) -> Result<Option<Versioned<InstallationRecord>>, StoreError> {
        let port = self.inner.get_installation(id);
        self.faults
            .around("store.get_installation", store_error, port)
            .await
    }

    async fn put_installation(
        &self,
        record: Guarded<InstallationRecord>,
    ) -> Result<u64, StoreError> {
        let port = self.inner.put_installation(record);
        self.faults
            .around("store.put_installation", store_error, port)
            .await
    }

    async fn installations(&self) -> Result<Vec<Versioned<InstallationRecord>>, StoreError> {
        let port = self.inner.installations();
        self.faults
            .around("store.installations", store_error, port)
            .await
    }

    async fn get_pull_request(
        &self,
        repository_id: u64,
        number: u64,
    ) -> Result<Option<Versioned<PullRequestRecord>>, StoreError> {
        let port = self.inner.get_pull_request(repository_id, number);
        self.faults
            .around("store.get_pull_request", store_error, port)
            .await
    }

    async fn put_pull_request(
        &self,
        record: Guarded<PullRequestRecord>,
    ) -> Result<u64, StoreError> {
        let port = self.inner.put_pull_request(record);
        self.faults
            .around("store.put_pull_request", store_error, port)
            .await
    }

    async fn all_groups(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Versioned<GroupRecord>>, StoreError> {
        let port = self.inner.all_groups(after, limit);
        self.faults
            .around("store.all_groups", store_error, port)
            .await
    }
}

/// A `Tracker` whose calls go through [`Faults`]. It forwards every method, the defaulted ones
/// included, so the wrapped tracker's own lookups and receipts are what the executor sees.
pub struct FaultyTracker<T: ?Sized> {
    inner: Arc<T>,
    faults: Arc<Faults>,
}

impl<T: Tracker + ?Sized> FaultyTracker<T> {
    pub fn new(inner: Arc<T>, faults: Arc<Faults>) -> FaultyTracker<T> {
        FaultyTracker { inner, faults }
    }
}

fn tracker_error() -> TrackerError {
    TrackerError::Retryable(INJECTED.into())
}

#[async_trait]
impl<T: Tracker + ?Sized> Tracker for FaultyTracker<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn site(&self) -> TrackerSite {
        self.inner.site()
    }

    fn kinds(&self) -> Vec<crate::ticket::destination::TrackerKind> {
        self.inner.kinds()
    }

    async fn find_by_group_key(&self, key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        let port = self.inner.find_by_group_key(key);
        self.faults
            .around("tracker.find_by_group_key", tracker_error, port)
            .await
    }

    async fn find_for(&self, content: &TicketContent) -> Result<Option<TicketRef>, TrackerError> {
        let port = self.inner.find_for(content);
        self.faults
            .around("tracker.find_for", tracker_error, port)
            .await
    }

    async fn find_after(
        &self,
        content: &TicketContent,
        attempt: &CreateAttempt,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let port = self.inner.find_after(content, attempt, now);
        self.faults
            .around("tracker.find_after", tracker_error, port)
            .await
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let port = self.inner.create(content);
        self.faults
            .around("tracker.create", tracker_error, port)
            .await
    }

    async fn create_with_receipt(
        &self,
        content: &TicketContent,
    ) -> Result<CreatedTicket, TrackerError> {
        let port = self.inner.create_with_receipt(content);
        self.faults
            .around("tracker.create_with_receipt", tracker_error, port)
            .await
    }

    async fn copy_to(
        &self,
        kind: crate::ticket::destination::TrackerKind,
        content: &TicketContent,
    ) -> Result<Option<TicketRef>, TrackerError> {
        let port = self.inner.copy_to(kind, content);
        self.faults
            .around("tracker.copy_to", tracker_error, port)
            .await
    }

    async fn update(
        &self,
        ticket: &TicketRef,
        content: &TicketContent,
    ) -> Result<(), TrackerError> {
        let port = self.inner.update(ticket, content);
        self.faults
            .around("tracker.update", tracker_error, port)
            .await
    }

    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let port = self.inner.comment(ticket, comment_id, text);
        self.faults
            .around("tracker.comment", tracker_error, port)
            .await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        let port = self.inner.transition(ticket, to);
        self.faults
            .around("tracker.transition", tracker_error, port)
            .await
    }

    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        let port = self.inner.close_not_planned(ticket);
        self.faults
            .around("tracker.close_not_planned", tracker_error, port)
            .await
    }

    async fn own_accounts(&self) -> Result<Vec<String>, TrackerError> {
        let port = self.inner.own_accounts();
        self.faults
            .around("tracker.own_accounts", tracker_error, port)
            .await
    }
}

/// A `GitHub` whose calls go through [`Faults`]. The composite methods (`upsert_marked_comment`,
/// `list_all_alerts`) keep their defaults, so each request they make is a crash point of its own.
pub struct FaultyGitHub<G: ?Sized> {
    inner: Arc<G>,
    faults: Arc<Faults>,
}

impl<G: GitHub + ?Sized> FaultyGitHub<G> {
    pub fn new(inner: Arc<G>, faults: Arc<Faults>) -> FaultyGitHub<G> {
        FaultyGitHub { inner, faults }
    }
}

fn github_error() -> GitHubError {
    GitHubError::Retryable(INJECTED.into())
}

#[async_trait]
impl<G: GitHub + ?Sized> GitHub for FaultyGitHub<G> {
    async fn alert_state(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<AlertState, GitHubError> {
        let port = self.inner.alert_state(repo, kind, number);
        self.faults
            .around("github.alert_state", github_error, port)
            .await
    }

    async fn dismiss_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
        reason: DismissReason,
        comment: &str,
    ) -> Result<(), GitHubError> {
        let port = self
            .inner
            .dismiss_alert(repo, kind, number, reason, comment);
        self.faults
            .around("github.dismiss_alert", github_error, port)
            .await
    }

    async fn reopen_alert(
        &self,
        repo: &Repository,
        kind: AlertKind,
        number: u64,
    ) -> Result<(), GitHubError> {
        let port = self.inner.reopen_alert(repo, kind, number);
        self.faults
            .around("github.reopen_alert", github_error, port)
            .await
    }

    async fn list_alerts(
        &self,
        repo: &Repository,
        kind: AlertKind,
        query: &AlertQuery,
    ) -> Result<AlertPage, GitHubError> {
        let port = self.inner.list_alerts(repo, kind, query);
        self.faults
            .around("github.list_alerts", github_error, port)
            .await
    }

    async fn read_file(
        &self,
        repo: &Repository,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<String>, GitHubError> {
        let port = self.inner.read_file(repo, path, git_ref);
        self.faults
            .around("github.read_file", github_error, port)
            .await
    }

    async fn upsert_problem_issue(
        &self,
        repo: &Repository,
        topic: &str,
        title: &str,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let port = self.inner.upsert_problem_issue(repo, topic, title, body);
        self.faults
            .around("github.upsert_problem_issue", github_error, port)
            .await
    }

    async fn list_issue_comments(
        &self,
        repo: &Repository,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        let port = self.inner.list_issue_comments(repo, number);
        self.faults
            .around("github.list_issue_comments", github_error, port)
            .await
    }

    async fn create_issue_comment(
        &self,
        repo: &Repository,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let port = self.inner.create_issue_comment(repo, number, body);
        self.faults
            .around("github.create_issue_comment", github_error, port)
            .await
    }

    async fn update_issue_comment(
        &self,
        repo: &Repository,
        comment_id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let port = self.inner.update_issue_comment(repo, comment_id, body);
        self.faults
            .around("github.update_issue_comment", github_error, port)
            .await
    }

    async fn list_org_repositories(&self, org: &str) -> Result<Vec<Repository>, GitHubError> {
        let port = self.inner.list_org_repositories(org);
        self.faults
            .around("github.list_org_repositories", github_error, port)
            .await
    }

    async fn list_app_installations(&self) -> Result<Vec<AppInstallation>, GitHubError> {
        let port = self.inner.list_app_installations();
        self.faults
            .around("github.list_app_installations", github_error, port)
            .await
    }

    async fn list_installation_repositories(
        &self,
        installation_id: u64,
    ) -> Result<Vec<Repository>, GitHubError> {
        let port = self.inner.list_installation_repositories(installation_id);
        self.faults
            .around("github.list_installation_repositories", github_error, port)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::tracker::MemoryTracker;
    use crate::testing::code_alert;

    fn content() -> TicketContent {
        crate::testing::ticket_of(&[code_alert(1, "js/xss", "a.js")]).expect("a ticket")
    }

    #[tokio::test]
    async fn a_fault_after_the_call_lets_the_call_take_effect_and_hides_its_answer() {
        let faults = Faults::new();
        let tickets = MemoryTracker::new();
        let tracker = FaultyTracker::new(Arc::new(tickets.clone()), faults.clone());
        faults.arm(CrashPoint {
            call: 0,
            moment: Moment::After,
            fault: Fault::Fail,
        });
        let err = tracker.create(&content()).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(tickets.all().len(), 1, "the tracker made the ticket");
        assert_eq!(faults.struck(), Some("tracker.create"));
        // One-shot: the next call passes.
        tracker.create(&content()).await.unwrap();
        assert_eq!(faults.calls(), ["tracker.create", "tracker.create"]);
    }

    #[tokio::test]
    async fn a_crash_before_the_call_drops_the_invocation_and_the_port_never_sees_it() {
        let faults = Faults::new();
        let tickets = MemoryTracker::new();
        let tracker = FaultyTracker::new(Arc::new(tickets.clone()), faults.clone());
        faults.arm(CrashPoint {
            call: 1,
            moment: Moment::Before,
            fault: Fault::Crash,
        });
        let invocation = async {
            tracker.create(&content()).await.unwrap();
            tracker.create(&content()).await.unwrap();
            "finished"
        };
        assert_eq!(faults.invoke(invocation).await, Err(Crashed));
        assert_eq!(tickets.all().len(), 1, "the second create never went out");
        let finished = faults.invoke(async { "finished" }).await;
        assert_eq!(finished, Ok("finished"));
    }
}
