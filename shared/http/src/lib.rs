//! What scantix's outbound HTTP adapters share. Today: how a call is authorised as a GitHub App
//! (`auth`), so that the GitHub Issues tracker gets its tokens without knowing the GitHub REST
//! adapter that mints them (`scantix-wiring` hands one to the other); and the GitHub REST API
//! version every call to GitHub pins (`github`), so both GitHub adapters send the same one.
//!
//! Not here: any adapter's calls or what they mean (each adapter crate owns its endpoints), and no
//! HTTP client yet: the adapters still build their own; one shared client and one retry policy are
//! the next step of issue 7.
//!
//! # Layout
//! - [`auth`]: `InstallationAuth`, a GitHub App's JWT and installation tokens as a caller needs
//!   them.
//! - [`github`]: `API_VERSION` and `pin_api_version`, the `X-GitHub-Api-Version` header.

pub mod auth;
pub mod github;
