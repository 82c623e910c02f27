//! The decision engine: `decide` (alert events) and `decide_ticket` (tracker events) are the pure
//! core, `execute` applies their decisions through the ports, `triage` says which findings deserve
//! tickets.

pub mod decide;
pub mod decide_ticket;
pub mod execute;
pub mod installations;
pub mod triage;

pub use decide::{Action, Decision, Inputs, decide};
pub use execute::{Committed, ExecuteError, Executor, ExecutorSettings, Outcome};
