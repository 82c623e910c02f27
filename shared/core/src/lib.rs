//! The core of scantix: what an alert, a group and a ticket are, what happens to them (the pure
//! decisions), and the ports through which the rest of scantix acts, each with an in-memory twin.
//!
//! This crate does no I/O of its own and knows no vendor: no AWS SDK, no HTTP client, no Rego
//! engine, no SQLite, no Lambda runtime (`cargo tree -p scantix-core -e normal` shows it, and the
//! compiler keeps it so: the adapters are crates that depend on this one, never the reverse).
//! Parsing webhook deliveries is `scantix-webhooks`; applying decisions through the ports is
//! `scantix-app`; the ports' real implementations are the crates under `shared/adapters/`.
//!
//! # Layout
//! - [`finding`]: the normalised `Finding` every alert becomes, and why an alert is dismissed.
//! - [`identity`]: `Fingerprint` (one alert) and `GroupKey` (one unit of work, one ticket).
//! - [`event`]: alert, ticket, pull request and installation events as the decisions see them.
//! - [`records`]: what is kept between events (findings, groups with their ticket and outbox,
//!   deliveries, audit entries, installations, pull requests), `budget`: the ticket budget's ledger
//!   per repository or owner, and `legacy`: records in the format written before findings were
//!   records of their own, and their upgrade.
//! - [`config`]: the settings the decisions follow.
//! - [`sla`]: due dates from severity and first-seen time.
//! - [`owners`]: CODEOWNERS parsing and matching, and owner → assignee.
//! - [`secret`]: values that never reach a log.
//! - [`inbox`]: deliveries made durable by the webhook functions, applied by the worker.
//! - [`ticket`]: what a ticket says (`anatomy`) and its Markdown (`markdown`); where it is filed
//!   (`destination`: tracker kind and site, the Jira section, priorities, a repository's choices);
//!   how a GitHub issue is named (`github_issue`); how a group's ticket reads now (`listing`); a
//!   ticket budget's overflow ticket (`overflow`).
//! - [`decide`]: the pure decisions: an alert event (`alert`), a SARIF analysis compared with
//!   the previous one (`analysis`), a tracker event (`ticket`), a pull
//!   request's summary (`pull_request`), an installation change (`installations`), draft tickets
//!   (`drafts`), the ticket budget (`budget`), triage verdicts (`triage`); what they answer is
//!   `action`.
//! - [`ports`]: the traits the application acts through: `store`, `tracker`, `github` and
//!   `github_clients` (per installation), `clock`, `sink` (SIEM events, archived files).
//! - [`memory`]: in-memory twins of the ports (store, tracker, GitHub), the draft tracker, and a
//!   call-counting tracker wrapper.
//! - [`testing`]: sample findings and records, for tests and benchmarks.

pub mod config;
pub mod decide;
pub mod event;
pub mod finding;
pub mod identity;
pub mod inbox;
pub mod memory;
pub mod owners;
pub mod ports;
pub mod records;
pub mod secret;
pub mod sla;
#[doc(hidden)]
pub mod testing;
pub mod ticket;

/// Re-exported so that the functions and tools name the same chrono as the library.
pub use chrono;
