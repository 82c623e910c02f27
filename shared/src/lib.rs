//! scantix turns GitHub security alerts into grouped, deduplicated tickets and keeps both sides in
//! sync.
//!
//! # Layout
//! - [`finding`]: the normalised `Finding` every alert becomes.
//! - [`identity`]: `Fingerprint` (one alert) and `GroupKey` (one unit of work, one ticket).
//! - [`event`]: alert events as the engine sees them.
//! - [`github`]: GitHub's side: webhook signatures and alert webhook payloads → events.
//! - [`jira`]: Jira webhook deliveries → ticket events.
//! - [`config`]: the settings the engine follows.
//! - [`state`]: the records kept between events (findings, groups with their ticket and outbox,
//!   deliveries, audit entries).
//! - [`engine`]: `decide` (pure: event + state + config + now → new state and tracker ops) and
//!   `execute` (applies a decision through the ports, race-free and safe to repeat).
//! - [`repo_settings`]: a repository's effective settings (config file, org defaults, policy, CODEOWNERS), cached.
//! - [`secret`]: values that never reach a log.
//! - [`ticket`]: what a ticket says, and its Markdown rendering.
//! - [`sweep`]: the scheduled pass: sync every covered repository, drain queued work, flag overdue tickets.
//! - [`sync`]: backfill and reconciliation: GitHub's alert listings through the same engine.
//! - [`store`]: the `Store` port, with `memory` and `dynamodb` adapters.
//! - [`tracker`]: the `Tracker` port, with the `draft` and `jira` (Cloud and Data Center) adapters.
//! - [`wiring`]: the ports built from a deployment's environment.
//! - [`policy`]: triage as a Rego policy (bundled or an org's/repo's own) → ticket, record, ignore.
//! - [`owners`]: CODEOWNERS parsing and matching, and owner → assignee.
//! - [`sla`]: due dates from severity and first-seen time.
//! - [`repo_config`]: `.github/scantix.yml` (repo, org, defaults) → the engine's settings.
//! - [`ingest`]: one webhook request (headers + raw body) → an HTTP answer, shared by the Lambda
//!   function and the local server.

pub mod config;
pub mod engine;
pub mod event;
pub mod finding;
pub mod github;
pub mod identity;
pub mod ingest;
pub mod jira;
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

/// Re-exported so that the functions and tools name the same chrono as the library.
pub use chrono;
