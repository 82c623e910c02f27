//! The sweeper's pass: when it learns installations, record those the App has and scantix has no
//! record of (an `installation` event lost or never sent); then, for every active installation,
//! sync each covered repository (backfill what was never read, reconcile what changed since the
//! last complete read, balance its ticket budget against the budget its settings give now; then
//! the budgets of the owners of its groups, once each), then
//! finish tracker work
//! left queued by events whose worker died, flag tickets past their due date, and send the daily
//! digest when the deployment has one.
//!
//! One failing repository or installation does not stop the pass: it is reported and retried on
//! the next one, from the progress it saved.

use crate::digest::{DailyDigest, send_daily_digest};
use crate::execute::Executor;
use crate::repo_settings::SettingsCache;
use crate::sync::{Rules, SyncReport, Syncer};
use chrono::{DateTime, Utc};
use scantix_core::config::Config;
use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::store::{List, Store, StoreError, read_all};
use scantix_core::records::budget::BudgetScope;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub installations: u32,
    /// Installations the App has that scantix had no record of, recorded by this sweep as their
    /// `installation` created event would have recorded them.
    pub installations_learned: u32,
    pub repositories: u32,
    /// Totals over every repository synced.
    pub sync: SyncReport,
    /// Groups whose queued tracker calls were finished.
    pub groups_drained: u32,
    /// Tickets newly flagged overdue.
    pub overdue_flagged: u32,
    /// Ticket budgets (repositories', owners') that changed in the settings and were rebalanced.
    pub budgets_rebalanced: u32,
    /// Messages of the daily digest sent by this sweep (the first sweep of each day sends it).
    pub digest_messages: u32,
    /// One line per repository or group that failed; retried next time.
    pub failures: Vec<String>,
}

/// Runs sweeps.
pub struct Sweeper {
    executor: Arc<Executor>,
    syncer: Syncer,
    clients: Arc<dyn GitHubClients>,
    /// Each repository's own settings, as the webhook path reads them; `None`: the syncer's.
    settings: Option<SettingsCache>,
    /// Sends the daily digest, when the deployment has one.
    digest: Option<Arc<dyn DailyDigest>>,
    /// Whether each pass first records the App's installations scantix has no record of.
    learn_installations: bool,
}

impl Sweeper {
    pub fn new(
        executor: Arc<Executor>,
        syncer: Syncer,
        clients: Arc<dyn GitHubClients>,
    ) -> Sweeper {
        Sweeper {
            executor,
            syncer,
            clients,
            settings: None,
            digest: None,
            learn_installations: false,
        }
    }

    /// Starts each pass by learning installations from GitHub: every installation the App lists
    /// (`GET /app/installations`, not suspended) that the store has no record of is recorded with
    /// the repositories it can access (`GET /installation/repositories`), exactly as its
    /// `installation` created event would have been applied, so its deliveries are applied from
    /// then on, and the pass backfills its repositories as it backfills any never read. What the
    /// App does not list is never recorded. Needs the App's clients (`GitHubClients::for_app`).
    pub fn learning_installations(mut self) -> Sweeper {
        self.learn_installations = true;
        self
    }

    /// Sends the daily digest (`crate::digest`) on the first sweep of each day.
    pub fn with_digest(mut self, digest: Arc<dyn DailyDigest>) -> Sweeper {
        self.digest = Some(digest);
        self
    }

    /// Judges listed alerts by each repository's settings (config file, org defaults, policy,
    /// CODEOWNERS), like the webhook path.
    pub fn with_settings(mut self, cache: SettingsCache) -> Sweeper {
        // A repository's `tracker` section applies only within the tracker the executor files in.
        let cache = match cache.tracker_site() {
            Some(_) => cache,
            None => cache.for_tracker(self.executor.tracker().site()),
        };
        let cache = match cache.trackers() {
            Some(_) => cache,
            None => cache.with_trackers(self.executor.tracker().kinds()),
        };
        self.settings = Some(cache);
        self
    }

    /// One pass over every installation and group.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let store = self.executor.store();
        let mut report = SweepReport {
            sync: SyncReport {
                complete: true,
                ..SyncReport::default()
            },
            ..SweepReport::default()
        };
        // A refreshed copy of the KEV catalogue takes effect from this pass on.
        if let Some(kev) = self.settings.as_ref().and_then(SettingsCache::kev)
            && let Err(e) = kev.refresh().await
        {
            tracing::warn!(error = %e, "KEV catalogue not refreshed; the last one read stays");
            report.failures.push(format!("kev: {e}"));
        }
        if self.learn_installations {
            self.learn_installations(&mut report).await?;
        }
        let mut owners = OwnerBudgets::default();
        for installation in store.installations().await? {
            let installation = installation.value;
            if !installation.active {
                continue;
            }
            report.installations += 1;
            let github = match self.clients.for_installation(Some(installation.id)) {
                Ok(github) => github,
                Err(e) => {
                    report
                        .failures
                        .push(format!("installation {}: {e}", installation.id));
                    continue;
                }
            };
            for covered in installation.covered() {
                report.repositories += 1;
                let repo = covered.repository();
                let synced = match &self.settings {
                    Some(cache) => {
                        let (settings, _) = cache.for_repo(github.as_ref(), &repo).await;
                        let scope = BudgetScope::Repository(repo.id);
                        self.rebalance(&scope, &settings.engine, &mut report).await;
                        owners
                            .note(store.as_ref(), repo.id, &settings.engine, &mut report)
                            .await;
                        let triage =
                            |finding: &scantix_core::finding::Finding| settings.verdict(finding);
                        let rules = Rules {
                            config: &settings.engine,
                            triage: &triage,
                        };
                        self.syncer
                            .sync_repository_with(github.as_ref(), installation.id, &repo, rules)
                            .await
                    }
                    None => {
                        let config = self.executor.config();
                        let scope = BudgetScope::Repository(repo.id);
                        self.rebalance(&scope, config, &mut report).await;
                        owners
                            .note(store.as_ref(), repo.id, config, &mut report)
                            .await;
                        self.syncer
                            .sync_repository(
                                github.as_ref(),
                                installation.id,
                                &repo,
                                self.executor.config(),
                            )
                            .await
                    }
                };
                match synced {
                    Ok(sync) => report.sync.absorb(&sync),
                    Err(e) => report.failures.push(format!("{}: {e}", covered.full_name)),
                }
            }
        }
        // Owners' budgets span repositories: balanced once each, after every repository.
        for (scope, config) in owners.scopes(store.as_ref(), &mut report).await {
            self.rebalance(&scope, &config, &mut report).await;
        }
        let drained = drain_queued(&self.executor, now, Drain::EveryGroup).await?;
        report.groups_drained = drained.drained;
        report.failures.extend(drained.failures);
        report.overdue_flagged = self.executor.flag_overdue(now).await.unwrap_or_else(|e| {
            report.failures.push(format!("overdue: {e}"));
            0
        });
        // After the overdue flags, so that yesterday's are in it.
        if let Some(digest) = &self.digest {
            match send_daily_digest(store.as_ref(), digest.as_ref(), now).await {
                Ok(sent) => report.digest_messages = sent.unwrap_or(0) as u32,
                Err(e) => report.failures.push(format!("digest: {e}")),
            }
        }
        Ok(report)
    }
}

impl Sweeper {
    /// Balances `scope`'s ticket budget (a repository's, an owner's) against the budget `config`
    /// gives it now, so a changed budget takes effect without waiting for an event of the scope,
    /// and recounts the groups its overflow ticket shows (events write counts at most once per
    /// `RECOUNT_WINDOW_SECONDS`): the same path as `scantix budget rebalance`. One key read when
    /// nothing waits and nothing changed (and for a scope never counted in a budget), plus one
    /// read per group shown when some wait.
    async fn rebalance(&self, scope: &BudgetScope, config: &Config, report: &mut SweepReport) {
        let scope = scope.clone();
        let changed = match self.executor.preview_rebalance(&scope, config).await {
            // Moves left by a crash are carried out too.
            Ok(Some((stored, next))) if stored != next || !stored.moves.is_empty() => {
                stored.limit != next.limit
            }
            Ok(_) => return,
            Err(e) => {
                report.failures.push(format!("budget of {scope}: {e}"));
                return;
            }
        };
        match self
            .executor
            .rebalance_budget(&scope, config, "scantix")
            .await
        {
            Ok(_) => report.budgets_rebalanced += u32::from(changed),
            Err(e) => report.failures.push(format!("budget of {scope}: {e}")),
        }
    }

    /// Records the installations the App lists that the store has no record of (see
    /// [`Sweeper::learning_installations`]). A listing that fails is a failure of this pass, retried
    /// on the next; one installation that fails does not stop the others.
    async fn learn_installations(&self, report: &mut SweepReport) -> Result<(), StoreError> {
        let listed = match self.clients.for_app() {
            Ok(app) => app.list_app_installations().await.map(|l| (app, l)),
            Err(e) => Err(e),
        };
        let (app, listed) = match listed {
            Ok(listed) => listed,
            Err(e) => {
                report
                    .failures
                    .push(format!("listing the App's installations: {e}"));
                return Ok(());
            }
        };
        let known: std::collections::BTreeSet<u64> = self
            .executor
            .store()
            .installations()
            .await?
            .into_iter()
            .map(|i| i.value.id)
            .collect();
        // A suspended installation gets no token: it is learned once unsuspended.
        for installation in listed
            .into_iter()
            .filter(|i| !i.suspended && !known.contains(&i.id))
        {
            let repositories = match app.list_installation_repositories(installation.id).await {
                Ok(repositories) => repositories,
                Err(e) => {
                    report
                        .failures
                        .push(format!("installation {}: {e}", installation.id));
                    continue;
                }
            };
            let event = InstallationEvent {
                installation_id: installation.id,
                account: installation.account,
                change: InstallationChange::Created(
                    repositories
                        .into_iter()
                        .map(|r| NamedRepository {
                            id: r.id,
                            full_name: r.full_name,
                        })
                        .collect(),
                ),
            };
            // One delivery id per installation: a sweep that crashed after recording it and the
            // next one record the same thing (applying an installation event is idempotent).
            let delivery = format!("sweeper:installation/{}", installation.id);
            match self
                .executor
                .apply_installation(&delivery, &event, Some("sweeper"))
                .await
            {
                Ok(record) => {
                    tracing::info!(
                        installation = record.id,
                        account = %record.account,
                        repositories = record.repositories.len(),
                        outcome = "installation_learned",
                        "an installation scantix had no record of, learned from GitHub"
                    );
                    report.installations_learned += 1;
                }
                Err(e) => report
                    .failures
                    .push(format!("installation {}: {e}", installation.id)),
            }
        }
        Ok(())
    }
}

/// The owners whose budgets a pass balances, gathered repository by repository: the owners
/// (assignees) of the groups of every repository whose settings give a `per-owner` budget. An
/// owner's budget is balanced against the settings of its ledger's home repository (where its
/// overflow ticket is filed) when the pass covered it, else of the first repository it was seen
/// in. A `per-owner` budget taken out of every repository's settings is not noticed here (no
/// group is read for it): `scantix budget rebalance` frees those slots.
#[derive(Default)]
struct OwnerBudgets {
    /// Owner → the repositories the pass saw their groups in, in pass order.
    seen: BTreeMap<String, Vec<u64>>,
    /// The settings of those repositories.
    configs: BTreeMap<u64, Config>,
}

impl OwnerBudgets {
    /// Notes the owners of repository `id`'s groups, when `config` gives owners a budget. A failed
    /// read is reported; the owners seen elsewhere are still balanced.
    async fn note(
        &mut self,
        store: &dyn Store,
        id: u64,
        config: &Config,
        report: &mut SweepReport,
    ) {
        if config.budget.per_owner.is_none() {
            return;
        }
        let home = &List::Home(id.to_string());
        let groups =
            read_all(|after| async move { store.groups_in(home, after.as_deref(), 200).await })
                .await;
        let groups = match groups {
            Ok(groups) => groups,
            Err(e) => {
                report
                    .failures
                    .push(format!("owners of repository {id}: {e}"));
                return;
            }
        };
        for group in groups {
            let group = group.value;
            let Some(owner) = group.assignee else {
                continue;
            };
            if BudgetScope::of_overflow_key(&group.key).is_some() {
                continue;
            }
            let repos = self.seen.entry(owner).or_default();
            if !repos.contains(&id) {
                repos.push(id);
            }
        }
        self.configs.entry(id).or_insert_with(|| config.clone());
    }

    /// Each owner's scope with the settings to balance it against.
    async fn scopes(
        &self,
        store: &dyn Store,
        report: &mut SweepReport,
    ) -> Vec<(BudgetScope, Config)> {
        let mut scopes = Vec::new();
        for (owner, repos) in &self.seen {
            let scope = BudgetScope::Owner(owner.clone());
            let home = match store.get_budget(&scope).await {
                Ok(ledger) => ledger.and_then(|l| l.value.home.map(|h| h.id)),
                Err(e) => {
                    report.failures.push(format!("budget of {scope}: {e}"));
                    continue;
                }
            };
            let repo = home
                .filter(|h| repos.contains(h))
                .or(repos.first().copied());
            if let Some(config) = repo.and_then(|r| self.configs.get(&r)) {
                scopes.push((scope, config.clone()));
            }
        }
        scopes
    }
}

/// How far a pass over the queued tracker work goes when the tracker fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Try every group: a failure of one (a refused field, a deleted ticket) says nothing about
    /// the next. The sweeper's choice: it runs unattended, and has the time.
    EveryGroup,
    /// Stop at the first group the tracker could not take for a reason a retry can help (down,
    /// rate limited): every other group would wait out the same retries. A local command's
    /// choice: someone is waiting, and the next run picks the rest up.
    UntilUnavailable,
}

/// What a pass over the queued tracker work did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// Groups whose queued tracker calls were all made.
    pub drained: u32,
    /// Groups that still owe tracker calls after the pass (failed, skipped, or leased by another
    /// worker that is busy with them).
    pub still_queued: u32,
    /// One line per group that failed.
    pub failures: Vec<String>,
}

/// Makes the tracker calls queued in every group's outbox whose lease is free at `now`: work a
/// worker committed but could not finish (the tracker was down, the process died). The tracker
/// calls of an event are durable from its commit on, but only an event on the same group, or
/// this pass, makes them; the sweeper runs it on schedule, the local commands on every run.
pub async fn drain_queued(
    executor: &Executor,
    now: DateTime<Utc>,
    how: Drain,
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let mut stopped = false;
    // The groups with calls still queued, from their list: not a scan of every group.
    let store = executor.store();
    let queued = scantix_core::ports::store::read_all(|after| async move {
        store
            .groups_in(
                &scantix_core::ports::store::List::Queued,
                after.as_deref(),
                200,
            )
            .await
    })
    .await?;
    for group in queued {
        let group = group.value;
        if group.outbox.is_empty() {
            continue;
        }
        let idle = group.lease.as_ref().is_none_or(|l| l.until <= now);
        if !idle || stopped {
            report.still_queued += 1;
            continue;
        }
        match executor.sync_group(&group.key).await {
            Ok(Some(left)) if !left.outbox.is_empty() => report.still_queued += 1,
            Ok(_) => report.drained += 1,
            Err(e) => {
                report.still_queued += 1;
                report.failures.push(format!("{}: {e}", group.key));
                stopped = how == Drain::UntilUnavailable && e.is_retryable();
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use scantix_core::config::Config;
    use scantix_core::event::{AlertChange, AlertEvent};
    use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
    use scantix_core::finding::{AlertState, Finding};
    use scantix_core::memory::github::MemoryGitHub;
    use scantix_core::memory::store::MemoryStore;
    use scantix_core::memory::tracker::MemoryTracker;
    use scantix_core::ports::github_clients::OneClient;
    use scantix_core::records::{TicketState, Triage};
    use scantix_core::testing::code_alert;

    #[tokio::test]
    async fn a_sweep_reads_the_kev_catalogue_again_and_keeps_the_last_good_one() {
        use crate::kev::KevSource;
        let dir = std::env::temp_dir().join(format!("scantix-sweep-kev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kev.json");
        std::fs::write(&path, r#"{"vulnerabilities": []}"#).unwrap();
        let kev = Arc::new(KevSource::load(&path).unwrap());
        let github = Arc::new(MemoryGitHub::new());
        let executor = Arc::new(
            Executor::new(
                Arc::new(MemoryStore::new()),
                Arc::new(MemoryTracker::new()),
                Config::default(),
            )
            .with_github(github.clone()),
        );
        let syncer = Syncer::new(
            executor.clone(),
            Arc::new(scantix_core::decide::triage::builtin),
        );
        let settings =
            SettingsCache::new(std::time::Duration::from_secs(60)).with_kev(Some(kev.clone()));
        let sweeper = Sweeper::new(executor.clone(), syncer, Arc::new(OneClient(github)))
            .with_settings(settings);

        // A fresh copy of the catalogue is read by the next sweep.
        std::fs::copy("../adapters/policy/tests/fixtures/kev-sample.json", &path).unwrap();
        let report = sweeper.sweep(executor.now()).await.unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert!(kev.current().get("CVE-2021-44228").is_some());

        // A half-written copy is reported, and the last good catalogue stays.
        std::fs::write(&path, "{\"vulnerabilities\": [").unwrap();
        let report = sweeper.sweep(executor.now()).await.unwrap();
        assert!(
            report.failures.iter().any(|f| f.starts_with("kev: ")),
            "{report:?}"
        );
        assert!(kev.current().get("CVE-2021-44228").is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// 30 groups under a budget of 5: 5 tickets and 25 waiting. The budget in the settings grows
    /// to 8, then shrinks to 3: each sweep rebalances at once, without an event of the repository.
    #[tokio::test]
    async fn a_sweep_rebalances_a_repository_whose_budget_changed() {
        let store = Arc::new(MemoryStore::new());
        let github = Arc::new(MemoryGitHub::new());
        let tracker = MemoryTracker::new();
        let with_budget = |n: u32| Config {
            budget: scantix_core::config::TicketBudget {
                per_repository: Some(n),
                ..Default::default()
            },
            ..Config::default()
        };
        let executor = |n: u32| {
            Arc::new(
                Executor::new(store.clone(), Arc::new(tracker.clone()), with_budget(n))
                    .with_github(github.clone()),
            )
        };
        let first = executor(5);
        let repo = code_alert(1, "js/rule-1", "src/a.js").repository;
        let install = InstallationEvent {
            installation_id: 9,
            account: "acme".into(),
            change: InstallationChange::Created(vec![NamedRepository {
                id: repo.id,
                full_name: repo.full_name.clone(),
            }]),
        };
        first
            .apply_installation("github:i", &install, None)
            .await
            .unwrap();
        for n in 1..=30 {
            let finding = code_alert(n, &format!("js/rule-{n}"), "src/a.js");
            github.add_finding(finding.clone());
            let event = AlertEvent {
                change: AlertChange::Opened,
                action: "created".into(),
                finding,
                actor: None,
                installation_id: Some(9),
            };
            first
                .apply_alert(&format!("github:{n}"), &event, Triage::Ticket)
                .await
                .unwrap();
        }
        let scope = BudgetScope::Repository(repo.id);
        use scantix_core::ports::store::Store;
        let counts = || async {
            let ledger = store.get_budget(&scope).await.unwrap().unwrap().value;
            let open = store
                .groups()
                .iter()
                .filter(|g| {
                    g.value.ticket.is_some()
                        && !g.value.ticket_state.is_closed()
                        && BudgetScope::of_overflow_key(&g.value.key).is_none()
                })
                .count();
            (ledger.holders.len(), ledger.overflow.len(), open)
        };
        assert_eq!(counts().await, (5, 25, 5));

        for (budget, expected, rebalanced) in
            [(8, (8, 22, 8), 1), (3, (3, 27, 3), 1), (3, (3, 27, 3), 0)]
        {
            let executor = executor(budget);
            let sweeper = Sweeper::new(
                executor.clone(),
                Syncer::new(
                    executor.clone(),
                    Arc::new(scantix_core::decide::triage::builtin),
                ),
                Arc::new(OneClient(github.clone())),
            );
            let report = sweeper.sweep(executor.now()).await.unwrap();
            assert!(report.failures.is_empty(), "{report:?}");
            assert_eq!(report.budgets_rebalanced, rebalanced, "budget {budget}");
            assert_eq!(counts().await, expected, "budget {budget}");
        }
    }

    /// Eight groups of one owner (`@acme/payments`, their CODEOWNERS assignee) under a `per-owner`
    /// budget of 3: 3 tickets and 5 waiting in the owner's overflow ticket. The budget in the
    /// settings grows to 5, then shrinks to 2: each sweep rebalances the owner's budget at once,
    /// as `scantix budget rebalance` would, without an event of the owner's groups.
    #[tokio::test]
    async fn a_sweep_rebalances_an_owner_whose_budget_changed() {
        let store = Arc::new(MemoryStore::new());
        let github = Arc::new(MemoryGitHub::new());
        let tracker = MemoryTracker::new();
        let per_owner = |n: u32| Config {
            budget: scantix_core::config::TicketBudget {
                per_owner: Some(n),
                ..Default::default()
            },
            ..Config::default()
        };
        let executor = |n: u32| {
            Arc::new(
                Executor::new(store.clone(), Arc::new(tracker.clone()), per_owner(n))
                    .with_github(github.clone()),
            )
        };
        let first = executor(3);
        let repo = code_alert(1, "js/rule-1", "src/a.js").repository;
        let install = InstallationEvent {
            installation_id: 9,
            account: "acme".into(),
            change: InstallationChange::Created(vec![NamedRepository {
                id: repo.id,
                full_name: repo.full_name.clone(),
            }]),
        };
        first
            .apply_installation("github:i", &install, None)
            .await
            .unwrap();
        let owner = "@acme/payments";
        for n in 1..=8 {
            let finding = code_alert(n, &format!("js/rule-{n}"), "src/a.js");
            github.add_finding(finding.clone());
            let event = AlertEvent {
                change: AlertChange::Opened,
                action: "created".into(),
                finding,
                actor: None,
                installation_id: Some(9),
            };
            let mut verdict = scantix_core::decide::triage::plain(Triage::Ticket, "ticket");
            verdict.assignee = Some(owner.into());
            first
                .apply_verdict(&format!("github:{n}"), &event, &verdict, first.config())
                .await
                .unwrap();
        }
        let scope = BudgetScope::Owner(owner.into());
        use scantix_core::ports::store::Store;
        let counts = || async {
            let ledger = store.get_budget(&scope).await.unwrap().unwrap().value;
            let open = store
                .groups()
                .iter()
                .filter(|g| {
                    g.value.ticket.is_some()
                        && !g.value.ticket_state.is_closed()
                        && BudgetScope::of_overflow_key(&g.value.key).is_none()
                })
                .count();
            (ledger.holders.len(), ledger.overflow.len(), open)
        };
        assert_eq!(counts().await, (3, 5, 3));

        for (budget, expected, rebalanced) in
            [(5, (5, 3, 5), 1), (2, (2, 6, 2), 1), (2, (2, 6, 2), 0)]
        {
            let executor = executor(budget);
            let sweeper = Sweeper::new(
                executor.clone(),
                Syncer::new(
                    executor.clone(),
                    Arc::new(scantix_core::decide::triage::builtin),
                ),
                Arc::new(OneClient(github.clone())),
            );
            let report = sweeper.sweep(executor.now()).await.unwrap();
            assert!(report.failures.is_empty(), "{report:?}");
            assert_eq!(report.budgets_rebalanced, rebalanced, "budget {budget}");
            assert_eq!(counts().await, expected, "budget {budget}");
        }
        // The owner's overflow ticket lists the six waiting.
        let overflow = store
            .groups()
            .into_iter()
            .find(|g| g.value.key == scope.overflow_key())
            .expect("the owner's overflow ticket");
        let ticket = overflow.value.ticket.expect("filed");
        let filed = tracker.ticket(&ticket.key).expect("in the tracker");
        assert!(
            filed
                .title
                .starts_with("Ticket budget: 6 groups waiting in @acme/payments"),
            "{}",
            filed.title
        );
    }

    #[tokio::test]
    async fn a_sweep_repairs_a_missed_fix_and_flags_overdue_tickets_once() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock_now = Arc::new(std::sync::Mutex::new(start));
        let clock = {
            let now = clock_now.clone();
            Arc::new(move || *now.lock().unwrap()) as scantix_core::ports::clock::Clock
        };
        let store = Arc::new(MemoryStore::new());
        let github = Arc::new(MemoryGitHub::new());
        let tracker = MemoryTracker::new();
        let executor = Arc::new(
            Executor::new(store.clone(), Arc::new(tracker.clone()), Config::default())
                .with_github(github.clone())
                .with_clock(clock),
        );
        let alert = |n| Finding {
            updated_at: Some(start),
            ..code_alert(n, "js/xss", "src/app.js")
        };
        let repo = alert(1).repository;
        let install = InstallationEvent {
            installation_id: 9,
            account: "acme".into(),
            change: InstallationChange::Created(vec![NamedRepository {
                id: repo.id,
                full_name: repo.full_name.clone(),
            }]),
        };
        executor
            .apply_installation("github:i", &install, None)
            .await
            .unwrap();
        for n in [1, 2] {
            github.add_finding(alert(n));
            let event = AlertEvent {
                change: AlertChange::Opened,
                action: "created".into(),
                finding: alert(n),
                actor: None,
                installation_id: Some(9),
            };
            executor
                .apply_alert(&format!("github:{n}"), &event, Triage::Ticket)
                .await
                .unwrap();
        }
        let clients = Arc::new(OneClient(github.clone()));
        let sweeper = Sweeper::new(
            executor.clone(),
            Syncer::new(
                executor.clone(),
                Arc::new(scantix_core::decide::triage::builtin),
            ),
            clients,
        );
        let first = sweeper.sweep(start).await.unwrap();
        assert_eq!(
            (first.sync.applied, first.overdue_flagged),
            (0, 0),
            "{first:?}"
        );

        // Both alerts are fixed on GitHub; the deliveries were lost.
        *clock_now.lock().unwrap() = start + Duration::days(1);
        for n in [1, 2] {
            github.add_finding(Finding {
                state: AlertState::Fixed,
                updated_at: Some(start + Duration::days(1)),
                ..alert(n)
            });
        }
        // A third alert stays open past its SLA (high: 30 days).
        github.add_finding(Finding {
            updated_at: Some(start + Duration::days(1)),
            ..code_alert(3, "js/sqli", "src/db.js")
        });
        let second = sweeper.sweep(start + Duration::days(1)).await.unwrap();
        assert_eq!(second.sync.applied, 3, "{second:?}");
        let groups = store.groups();
        let xss = groups.iter().find(|g| g.value.rule.id == "js/xss").unwrap();
        assert_eq!(
            xss.value.ticket_state,
            TicketState::Stale,
            "the missed fix is repaired"
        );

        let late = start + Duration::days(40);
        *clock_now.lock().unwrap() = late;
        let third = sweeper.sweep(late).await.unwrap();
        assert_eq!(third.overdue_flagged, 1, "{third:?}");
        let again = sweeper.sweep(late + Duration::days(1)).await.unwrap();
        assert_eq!(again.overdue_flagged, 0, "flagged once");
        let sqli = store
            .groups()
            .into_iter()
            .find(|g| g.value.rule.id == "js/sqli")
            .unwrap()
            .value;
        let draft = tracker.ticket(&sqli.ticket.unwrap().key).unwrap();
        assert!(
            draft.labels.contains(&"scantix-overdue".to_string()),
            "{:?}",
            draft.labels
        );
        assert_eq!(
            draft
                .comments
                .iter()
                .filter(|c| c.text.starts_with("Overdue"))
                .count(),
            1
        );
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use crate::repo_settings::SettingsCache;
    use scantix_core::config::Config;
    use scantix_core::event::{InstallationChange, InstallationEvent, NamedRepository};
    use scantix_core::memory::draft_tracker::DraftTracker;
    use scantix_core::memory::github::MemoryGitHub;
    use scantix_core::memory::store::MemoryStore;
    use scantix_core::ports::github_clients::OneClient;
    use scantix_core::testing::code_alert;
    use std::time::Duration;

    #[tokio::test]
    async fn a_sweep_judges_listed_alerts_by_the_repository_settings() {
        let store = Arc::new(MemoryStore::new());
        let github = Arc::new(MemoryGitHub::new());
        let executor = Arc::new(
            Executor::new(
                store.clone(),
                Arc::new(DraftTracker::new()),
                Config::default(),
            )
            .with_github(github.clone()),
        );
        let app = code_alert(1, "js/xss", "src/app.js");
        let in_tests = code_alert(2, "js/xss", "tests/app.test.js");
        let repo = app.repository.clone();
        github.add_finding(app);
        github.add_finding(in_tests);
        github.put_file(
            repo.id,
            ".github/scantix.yml",
            None,
            "grouping:\n  code-scanning: alert\n",
        );
        let install = InstallationEvent {
            installation_id: 3,
            account: "acme".into(),
            change: InstallationChange::Created(vec![NamedRepository {
                id: repo.id,
                full_name: repo.full_name.clone(),
            }]),
        };
        executor
            .apply_installation("github:i", &install, None)
            .await
            .unwrap();
        let syncer = Syncer::new(
            executor.clone(),
            Arc::new(scantix_core::decide::triage::builtin),
        );
        let sweeper = Sweeper::new(
            executor.clone(),
            syncer,
            Arc::new(OneClient(github.clone())),
        )
        .with_settings(SettingsCache::new(Duration::from_secs(60)));

        let report = sweeper.sweep(executor.now()).await.unwrap();
        assert_eq!(report.sync.applied, 2, "{report:?}");
        let groups = store.groups();
        let app_group = groups
            .iter()
            .find(|g| {
                store
                    .findings_of(&g.value.key)
                    .iter()
                    .any(|m| m.number() == 1)
            })
            .unwrap();
        assert!(
            app_group.value.key.as_str().ends_with("/alert:1"),
            "the repository's grouping: {}",
            app_group.value.key
        );
        assert!(app_group.value.ticket.is_some());
        let test_group = groups
            .iter()
            .find(|g| {
                store
                    .findings_of(&g.value.key)
                    .iter()
                    .any(|m| m.number() == 2)
            })
            .unwrap();
        assert!(
            test_group.value.ticket.is_none(),
            "the bundled policy records test-path alerts"
        );
    }
}
