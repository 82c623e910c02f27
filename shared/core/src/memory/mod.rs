//! In-memory twins of the ports, for tests, benchmarks and the local mode, and the draft tracker
//! (no tracker at all: tickets are drafts kept with their groups).
//!
//! - [`store`]: `MemoryStore`, the `Store` port in a process's memory.
//! - [`tracker`]: `MemoryTracker`, a tracker that keeps tickets in memory as a real one would.
//! - [`draft_tracker`]: `DraftTracker`, the tracker of a deployment without one.
//! - [`counted_tracker`]: `Counted`, a wrapper counting the calls made through it.
//! - [`github`]: `MemoryGitHub`, the `GitHub` port's twin.
//! - [`sink`]: `MemorySink`, the `Sink` and `Archive` ports' twin.
//! - [`faults`]: wrappers around each port that fail or crash an invocation at a chosen call
//!   (the crash-point tests).

pub mod counted_tracker;
pub mod draft_tracker;
pub mod faults;
pub mod github;
pub mod sink;
pub mod store;
pub mod tracker;
