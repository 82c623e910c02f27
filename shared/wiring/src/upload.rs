//! The SARIF upload endpoint of a deployment, from its environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `SCANTIX_UPLOAD_AUDIENCE` | the audience GitHub Actions OIDC tokens must carry; OIDC uploads are off without it |
//! | `SCANTIX_UPLOAD_OIDC_ISSUER` | the tokens' issuer: `https://token.actions.githubusercontent.com` (default), or `https://HOST/_services/token` (GitHub Enterprise Server) |
//! | `SCANTIX_UPLOAD_JWKS_URL` | optional: the issuer's key set URL, instead of its discovery document's `jwks_uri` |
//! | `SCANTIX_UPLOAD_TOKEN_SECRET` | a secret (`_ARN`, `_FILE` or the value): installations' upload tokens are HMACs under it; upload tokens are off without it |
//! | `SCANTIX_UPLOAD_MAX_BODY` | bytes on the wire (default 4 MiB) |
//! | `SCANTIX_UPLOAD_MAX_SARIF` | bytes of SARIF once decompressed (default 64 MiB) |

use crate::jwks::{HttpJwks, JwksLocation};
use crate::{WiringError, optional, secret};
use scantix_app::ingest::upload::{
    DEFAULT_MAX_UPLOAD_BODY, DEFAULT_MAX_UPLOAD_SARIF, UploadAuth, UploadReceiver,
};
use scantix_core::ports::store::Store;
use scantix_webhooks::upload::jwks::JwksCache;
use scantix_webhooks::upload::oidc::{GITHUB_ACTIONS_ISSUER, OidcSettings, OidcVerifier};
use scantix_webhooks::upload::token::UploadTokens;
use std::sync::Arc;

/// The upload endpoint over `store`, or `None` when the deployment takes no uploads (neither an
/// audience nor an upload-token secret is set). Secrets must be loaded first (`load_secrets`).
pub fn upload_receiver_from_env(
    store: Arc<dyn Store>,
) -> Result<Option<UploadReceiver>, WiringError> {
    let oidc = match optional("SCANTIX_UPLOAD_AUDIENCE") {
        Some(audience) => {
            let issuer = optional("SCANTIX_UPLOAD_OIDC_ISSUER")
                .unwrap_or_else(|| GITHUB_ACTIONS_ISSUER.to_owned());
            let location = match optional("SCANTIX_UPLOAD_JWKS_URL") {
                Some(url) => JwksLocation::Url(url),
                None => JwksLocation::Issuer(issuer.clone()),
            };
            let source = HttpJwks::new(location).map_err(|e| WiringError::Invalid {
                var: "SCANTIX_UPLOAD_OIDC_ISSUER",
                why: e.to_string(),
            })?;
            let settings = OidcSettings {
                issuer,
                ..OidcSettings::github(audience)
            };
            Some(OidcVerifier::new(
                settings,
                JwksCache::new(Arc::new(source)),
            ))
        }
        None => None,
    };
    let tokens = secret("SCANTIX_UPLOAD_TOKEN_SECRET")?.map(UploadTokens::new);
    if oidc.is_none() && tokens.is_none() {
        return Ok(None);
    }
    let max_body = bytes("SCANTIX_UPLOAD_MAX_BODY", DEFAULT_MAX_UPLOAD_BODY as u64)?;
    let max_sarif = bytes("SCANTIX_UPLOAD_MAX_SARIF", DEFAULT_MAX_UPLOAD_SARIF)?;
    let max_body = usize::try_from(max_body).map_err(|_| WiringError::Invalid {
        var: "SCANTIX_UPLOAD_MAX_BODY",
        why: "too large for this machine".into(),
    })?;
    Ok(Some(
        UploadReceiver::new(UploadAuth { oidc, tokens }, store).with_limits(max_body, max_sarif),
    ))
}

/// The upload tokens of this deployment, for `scantix upload-token` (the same secret as the
/// endpoint's).
pub fn upload_tokens_from_env() -> Result<UploadTokens, WiringError> {
    secret("SCANTIX_UPLOAD_TOKEN_SECRET")?
        .map(UploadTokens::new)
        .ok_or(WiringError::Missing("SCANTIX_UPLOAD_TOKEN_SECRET"))
}

fn bytes(var: &'static str, default: u64) -> Result<u64, WiringError> {
    match optional(var) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(WiringError::Invalid {
                var,
                why: format!("`{text}` is not a positive number of bytes"),
            }),
        },
    }
}
