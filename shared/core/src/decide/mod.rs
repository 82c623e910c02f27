//! The decisions, pure: each takes an event and what is stored, and answers what to write, which
//! tracker calls a group now owes, and what was decided (`action`). No I/O and no clock: every
//! input is an argument. `scantix_app::execute` applies them through the ports.
//!
//! - [`alert`]: an alert event → its finding, group and ticket (and `decide_overdue`).
//! - [`analysis`]: a SARIF analysis (repository, tool, category, ref) compared with the previous
//!   one: each result an alert event, absent findings fixed, closed tickets re-verified.
//! - [`ticket`]: a tracker event (a person moved, closed or deleted a ticket) → the group's
//!   findings.
//! - [`pull_request`]: a pull request's one summary comment, and the tickets its merge fixes.
//! - [`installations`]: an installation change → which repositories are covered.
//! - [`budget`]: the ticket budget: a group over its repository's (or owner's) budget is listed
//!   in an overflow ticket, promoted as budget frees up.
//! - [`drafts`]: tickets kept as drafts (no tracker): their calls settled in the same commit.
//! - [`steer`]: a person's change (a draft pushed or discarded, a ticket closed, reopened,
//!   assigned, reprioritised or regenerated) → the group and the tracker calls it owes.
//! - [`triage`]: the verdict type, and the built-in rule used where no policy is wanted.
//! - [`action`]: `Action` and `Decision`, what every decision answers.

pub mod action;
pub mod alert;
pub mod analysis;
pub mod budget;
pub mod drafts;
pub mod installations;
pub mod pull_request;
pub mod steer;
pub mod ticket;
pub mod triage;

pub use action::{Action, Decision};
pub use alert::{Inputs, decide};
