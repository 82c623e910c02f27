//! Who may upload SARIF, and for which repository. Two credentials, neither a shared secret in
//! the CI system's hands:
//!
//! - [`oidc`]: a GitHub Actions OIDC token (a JWT GitHub signs for one workflow run), verified
//!   against the issuer's published keys ([`jwks`]); its `repository` / `repository_id` claims
//!   name the only repository it may upload for.
//! - [`token`]: an installation's upload token (HMAC-SHA256 of the installation id under a
//!   deployment secret), for CI systems that have no OIDC token GitHub signed; it covers the
//!   repositories of that installation.
//!
//! Not here: fetching the keys over HTTP (a [`jwks::JwksSource`], built by `scantix-wiring`),
//! or the HTTP answer (`scantix_app::ingest::upload` maps these errors to 401 and 403).

pub mod jwks;
pub mod oidc;
pub mod token;
