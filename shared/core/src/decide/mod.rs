//! The decision engine: `decide` (alert events), `decide_ticket` (tracker events) and
//! `decide_pull_request` (a pull request's summary comment) are the pure core, `execute` applies
//! their decisions through the ports, `triage` says which findings deserve tickets, `own_accounts`
//! learns which tracker account is scantix's own (its echoes).

pub mod decide;
pub mod decide_pull_request;
pub mod decide_ticket;
pub mod drafts;
pub mod execute;
pub mod installations;
pub mod own_accounts;
pub mod triage;

pub use decide::{Action, Decision, Inputs, decide};
pub use execute::{Committed, ExecuteError, Executor, ExecutorSettings, Outcome};
