//! The decision engine: `decide` is the pure core, `execute` applies its decisions through the
//! ports, `triage` says which findings deserve tickets.

pub mod decide;
pub mod execute;
pub mod triage;

pub use decide::{Action, Decision, Inputs, decide};
pub use execute::{ExecuteError, Executor, ExecutorSettings, Outcome};
