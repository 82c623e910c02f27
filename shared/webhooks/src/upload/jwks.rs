//! The OIDC issuer's signing keys (a JSON Web Key Set), cached: fetched on first use, kept for a
//! TTL, and fetched again at once when a token names a key id the cache does not have (GitHub
//! rotates its keys and publishes the new one before signing with it) — but at most once per
//! `min_refetch`, so that tokens naming made-up key ids cannot make every request a fetch.
//!
//! Fetching is a [`JwksSource`]: the deployment's goes over HTTPS (`scantix_wiring::jwks`),
//! tests serve their own keys.

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why the keys could not be had. Never the uploader's fault: the answer is a 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The issuer (or its discovery document) could not be reached or answered an error status;
    /// a retry may help.
    #[error("the OIDC issuer's keys could not be fetched: {0}")]
    Unreachable(String),
    /// The issuer answered something that is not a key set (or discovery document).
    #[error("the OIDC issuer's keys are unreadable: {0}")]
    Invalid(String),
}

/// Where the key set comes from.
#[async_trait]
pub trait JwksSource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, JwksError>;
}

/// Looking a key up by id.
#[derive(Debug)]
pub enum KeyLookup {
    Found(DecodingKey),
    /// Not in the set, even after the one refetch allowed now.
    Unknown,
}

/// The key set, cached (see the module docs).
pub struct JwksCache {
    source: Arc<dyn JwksSource>,
    ttl: Duration,
    min_refetch: Duration,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    keys: Option<JwkSet>,
    /// When `keys` was fetched.
    fetched_at: Option<Instant>,
    /// When a key id missing from fresh keys last caused a refetch (successful or not): such
    /// refetches are bounded by it.
    refetched_at: Option<Instant>,
}

/// GitHub's keys change rarely; an hour keeps a warm Lambda from fetching per request while a
/// rotation is picked up by the unknown-kid refetch anyway.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// At most one refetch per minute for key ids the cache does not know.
pub const DEFAULT_MIN_REFETCH: Duration = Duration::from_secs(60);

impl JwksCache {
    pub fn new(source: Arc<dyn JwksSource>) -> JwksCache {
        JwksCache {
            source,
            ttl: DEFAULT_TTL,
            min_refetch: DEFAULT_MIN_REFETCH,
            state: Mutex::new(CacheState::default()),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> JwksCache {
        self.ttl = ttl;
        self
    }

    pub fn with_min_refetch(mut self, interval: Duration) -> JwksCache {
        self.min_refetch = interval;
        self
    }

    /// The RSA key `kid`. The lock is held across a fetch on purpose: concurrent requests of a
    /// cold instance wait for one fetch instead of each making their own.
    pub async fn rsa_key(&self, kid: &str) -> Result<KeyLookup, JwksError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let fresh = state
            .fetched_at
            .is_some_and(|at| now.duration_since(at) < self.ttl);
        if fresh {
            if let Some(key) = find(state.keys.as_ref(), kid)? {
                return Ok(KeyLookup::Found(key));
            }
            let may_refetch = state
                .refetched_at
                .is_none_or(|at| now.duration_since(at) >= self.min_refetch);
            if !may_refetch {
                return Ok(KeyLookup::Unknown);
            }
            state.refetched_at = Some(now);
        }
        match self.source.fetch().await {
            Ok(keys) => {
                state.keys = Some(keys);
                state.fetched_at = Some(now);
            }
            // Keys that expired are still the issuer's best-known keys: better than refusing
            // every upload while the issuer is unreachable.
            Err(e) if state.keys.is_some() => {
                tracing::warn!(error = %e, "JWKS refetch failed; using the keys fetched before");
            }
            Err(e) => return Err(e),
        }
        Ok(match find(state.keys.as_ref(), kid)? {
            Some(key) => KeyLookup::Found(key),
            None => KeyLookup::Unknown,
        })
    }
}

/// The RSA key with id `kid` in `keys`; keys of other types under that id do not count (only
/// RS256 is accepted).
fn find(keys: Option<&JwkSet>, kid: &str) -> Result<Option<DecodingKey>, JwksError> {
    let Some(jwk) = keys.and_then(|keys| keys.find(kid)) else {
        return Ok(None);
    };
    if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
        return Ok(None);
    }
    DecodingKey::from_jwk(jwk)
        .map(Some)
        .map_err(|e| JwksError::Invalid(format!("key {kid}: {e}")))
}
