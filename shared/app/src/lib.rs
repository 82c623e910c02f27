//! The application: what scantix does with an event, through the core's ports. A webhook delivery
//! is answered (`ingest`), made durable and applied by the worker (`worker`), decided by the core
//! (`scantix_core::decide`) and applied through the store, the tracker and GitHub (`execute`);
//! the sweeper reconciles with GitHub's listings (`sync`, `sweep`, `backfill`); each repository's
//! own settings apply (`repo_settings`, `repo_config`).
//!
//! Not here: any vendor. This crate reaches the store, the tracker and GitHub only through the
//! core's ports, and does not depend on an adapter crate (DynamoDB, SQLite, Jira, GitHub REST,
//! GitHub Issues): `scantix-wiring` builds the ports for a deployment. Parsing deliveries is
//! `scantix-webhooks`; triage policies are evaluated with `scantix-policy`.
//!
//! Where a code scanning alert becomes a Jira ticket: `scantix_webhooks::github::alert` (parse) →
//! [`ingest::github`] (answer, enqueue) → [`worker`] → [`execute`] (commit) →
//! `scantix_core::decide::alert` (what to do) → [`execute`] (sync the outbox) → `scantix_jira`.
//!
//! # Layout
//! - [`ingest`]: one webhook request (headers + raw body) → an HTTP answer, shared by the Lambda
//!   functions and the local server: `github`, `jira`, and `receive` (store first, apply later);
//!   `upload`: a CI job's SARIF upload, authenticated, bounded, checked and stored.
//! - [`worker`]: applies inbox items (from the table's stream, or `scantix replay`);
//!   [`uploads`]: the seam where it hands a SARIF upload to the analysis applier.
//! - [`execute`]: `Executor`, which applies decisions through the ports, race-free and safe to
//!   repeat (`pull_request`: a pull request's summary; `own_accounts`: scantix's account in its
//!   tracker, learned once per process, so that echoes of its own writes change nothing).
//! - [`analysis`]: SARIF files applied as one analysis of a repository's ref (`apply_analysis`):
//!   any scanner's results through the same triage, grouping, lifecycle and trackers.
//! - [`sync`]: backfill and reconciliation: GitHub's alert listings through the same executor.
//! - [`sweep`]: the scheduled pass: sync every covered repository, drain queued work, flag overdue
//!   tickets.
//! - [`digest`]: the daily digest the sweeper sends (email in digest mode), once per day.
//! - [`backfill`]: what an installation event covered, synced at once within a deadline.
//! - [`repo_settings`]: a repository's effective settings (config file, org defaults, policy,
//!   CODEOWNERS), cached; [`repo_config`]: `.github/scantix.yml` → those settings.
//! - [`tracker_routes`]: the deployment's trackers as one, each ticket filed where its
//!   repository's `routes` send it and kept there.
//! - [`kev`]: CISA's KEV catalogue from a file, refreshed at every sweep, for the policy.
//! - [`logging`]: JSON log lines with the spans' fields (delivery, repository, group, outcome).

pub mod analysis;
pub mod backfill;
pub mod digest;
pub mod execute;
pub mod ingest;
pub mod kev;
pub mod logging;
pub mod repo_config;
pub mod repo_settings;
pub mod sweep;
pub mod sync;
pub mod tracker_routes;
pub mod uploads;
pub mod worker;
