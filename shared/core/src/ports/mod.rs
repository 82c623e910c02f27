//! The ports: what the application needs from the world, as traits. Each has an in-memory twin in
//! `crate::memory`; the real implementations are the adapter crates (`shared/adapters/`).
//!
//! - [`store`]: findings, groups, deliveries, audit, installations, pull requests, the inbox.
//! - [`tracker`]: where tickets live.
//! - [`github`]: what scantix asks of GitHub's REST API.
//! - [`github_clients`]: which GitHub client acts for an installation.
//! - [`clock`]: a source of "now", which tests pin.
//! - [`sink`]: where SIEM events go, and where files (the daily report) are kept.

pub mod clock;
pub mod github;
pub mod github_clients;
pub mod sink;
pub mod store;
pub mod tracker;
