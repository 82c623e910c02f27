//! What scantix's outbound HTTP adapters share:
//! - [`outbound`]: the one client (reqwest) and the one retry policy every adapter calls through
//!   (Jira, GitHub REST and the App's token exchange, GitHub Issues): which calls are safe to
//!   repeat, backoff, rate limits; the adapters say what each answer means.
//! - [`auth`]: `InstallationAuth`, a GitHub App's JWT and installation tokens as a caller needs
//!   them, so that the GitHub Issues tracker gets its tokens without knowing the GitHub REST
//!   adapter that mints them (`scantix-wiring` hands one to the other).
//! - [`base_url`]: a vendor's base URL from settings, checked (https unless on this machine).
//! - [`github`]: `API_VERSION` and `pin_api_version`, the `X-GitHub-Api-Version` header both GitHub
//!   adapters send.
//!
//! Not here: any adapter's endpoints or what their answers mean (each adapter crate owns those).

pub mod auth;
pub mod base_url;
pub mod github;
pub mod outbound;
