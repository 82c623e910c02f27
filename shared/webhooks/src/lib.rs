//! Incoming webhook deliveries, read: a GitHub, Jira or ServiceNow delivery's body becomes the
//! core's events (`scantix_core::event`), and its signature is checked. Deliveries are
//! attacker-reachable input: every parser is lenient where the sender may add fields, strict where
//! scantix depends on a value, and reports what it refused with the JSON path, never by panicking.
//!
//! Not here: deciding anything (`scantix_core::decide`), or the HTTP answer a delivery gets
//! (`scantix_app::ingest`, which calls these parsers).
//!
//! # Layout
//! - [`github`]: GitHub App deliveries: `alert` (code scanning, Dependabot, secret scanning alerts;
//!   also how a listed alert becomes a `Finding`), `installation` (+ `installation_repositories`),
//!   `issues` (tickets in GitHub Issues), `pull_request`.
//! - [`jira`]: Jira Cloud and Data Center deliveries → ticket events.
//! - [`linear`]: Linear deliveries (issue moved by state type, removed, commented) → ticket events.
//! - [`servicenow`]: the deliveries scantix's business rule posts from ServiceNow → ticket events,
//!   and their signature (base64 HMAC-SHA256).
//! - [`signature`]: HMAC-SHA256 signatures (`X-Hub-Signature-256`, Jira's `X-Hub-Signature`,
//!   Linear's `Linear-Signature`).
//! - [`upload`]: SARIF uploaders' credentials: GitHub Actions OIDC tokens (`oidc`, keys from the
//!   issuer's JWKS through `jwks`) and installations' upload tokens (`token`).

pub mod github;
pub mod jira;
pub mod linear;
pub mod servicenow;
pub mod signature;
pub mod upload;
