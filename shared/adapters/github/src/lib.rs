//! The GitHub port (`scantix_core::ports::github::GitHub`) over GitHub's REST API: reading and
//! listing alerts, dismissing and reopening them, reading files, the configuration-problem issue
//! and pull-request comments; acting as a GitHub App (JWT, installation tokens) or with one token.
//!
//! Not here: incoming webhooks (`scantix-webhooks`; a listed alert is read by the same mapping as
//! a delivered one, `scantix_webhooks::github::alert::finding_from_alert`, hence the dependency),
//! and GitHub Issues as a tracker (`scantix-github-issues`, which gets its tokens through
//! `scantix_http::auth::InstallationAuth`, implemented here by `InstallationTokens`).
//!
//! # Layout
//! - [`rest`]: `RestGitHub`, the port's adapter (paths and bodies from GitHub's OpenAPI
//!   description).
//! - `requests`: the paths, query parameters, cursors and bodies it sends.
//! - [`client`]: the HTTP client under it and under the token exchange (the shared outbound
//!   client, the pinned API version, answers read: rate limits, `Link`, GitHub's `message`).
//! - [`app_auth`]: `AppCredentials` and `InstallationTokens` (App JWT → installation tokens,
//!   cached).
//! - [`clients`]: `AppClients`, one `RestGitHub` per installation, sharing the token cache.

pub mod app_auth;
pub mod client;
pub mod clients;
mod requests;
pub mod rest;
