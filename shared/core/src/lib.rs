//! scantix turns GitHub security alerts into grouped, deduplicated tickets and keeps both sides in
//! sync.
//!
//! # Layout
//! - [`finding`]: the normalised `Finding` every alert becomes.
//! - [`identity`]: `Fingerprint` (one alert) and `GroupKey` (one unit of work, one ticket).
//! - [`event`]: alert, ticket and pull request events as the engine sees them.
//! - [`github`]: GitHub's side: webhook signatures and alert webhook payloads → events; `issues`
//!   deliveries → ticket events (GitHub Issues as the tracker); `pull_request` deliveries → pull
//!   request events.
//! - [`jira`]: Jira webhook deliveries → ticket events.
//! - [`config`]: the settings the engine follows.
//! - [`state`]: the records kept between events (findings, groups with their ticket and outbox,
//!   deliveries, audit entries, pull requests with their summary comment).
//! - [`engine`]: `decide` (pure: event + state + config + now → new state and tracker ops) and
//!   `execute` (applies a decision through the ports, race-free and safe to repeat);
//!   `decide_pull_request` / `execute_pull_request`: a pull request's one summary comment, and the
//!   tickets its merge fixes; `own_accounts`: scantix's account in its tracker, learned once per
//!   process, so that echoes of its own writes change nothing.
//! - [`repo_settings`]: a repository's effective settings (config file, org defaults, policy, CODEOWNERS), cached.
//! - [`secret`]: values that never reach a log.
//! - [`ticket`]: what a ticket says, and its Markdown rendering.
//! - [`sweep`]: the scheduled pass: sync every covered repository, drain queued work, flag overdue tickets.
//! - [`sync`]: backfill and reconciliation: GitHub's alert listings through the same engine.
//! - [`backfill`]: backfill on install: what an installation event covered, synced at once within
//!   a deadline, the rest left to the sweeper.
//! - [`store`]: the `Store` port, with `memory` and `dynamodb` adapters.
//! - [`tracker`]: the `Tracker` port, with the `draft`, `jira` (Cloud and Data Center) and
//!   `github_issues` adapters.
//! - [`worker`]: applies inbox items (from the table's stream, or `scantix replay`).
//! - [`wiring`]: the ports built from a deployment's environment.
//! - [`policy`]: triage as a Rego policy (bundled or an org's/repo's own) → ticket, record, ignore.
//! - [`logging`]: JSON log lines with the spans' fields (delivery, repository, group, outcome).
//! - [`owners`]: CODEOWNERS parsing and matching, and owner → assignee.
//! - [`sla`]: due dates from severity and first-seen time.
//! - [`repo_config`]: `.github/scantix.yml` (repo, org, defaults) → the engine's settings.
//! - [`legacy`]: records in the format written before findings were records of their own, and
//!   their upgrade.
//! - [`listing`]: a group's ticket as it reads now (how drafts are read).
//! - [`inbox`]: deliveries made durable by the webhook functions, applied by the worker.
//! - [`ingest`]: one webhook request (headers + raw body) → an HTTP answer, shared by the Lambda
//!   function and the local server.

pub mod backfill;
pub mod config;
pub mod engine;
pub mod event;
pub mod finding;
pub mod github;
pub mod identity;
pub mod inbox;
pub mod ingest;
pub mod jira;
pub mod legacy;
pub mod listing;
pub mod logging;
pub mod owners;
pub mod policy;
pub mod repo_config;
pub mod repo_settings;
pub mod secret;
pub mod sla;
pub mod state;
pub mod store;
pub mod sweep;
pub mod sync;
#[doc(hidden)]
pub mod testing;
pub mod ticket;
pub mod tracker;
pub mod wiring;
pub mod worker;

/// Re-exported so that the functions and tools name the same chrono as the library.
pub use chrono;
