//! GitHub App authentication: an App JWT signed with the App's private key, exchanged for an
//! installation access token (`POST /app/installations/{id}/access_tokens`), kept per
//! installation until five minutes before it expires.
//!
//! [`InstallationTokens`] is built once per cold start and shared (`Arc`) by every request the
//! warm Lambda serves, so a token minted for one delivery serves the next ones: one RSA signature
//! and one exchange per installation per hour, not per call.

use crate::client::{Client, SetupError};
use chrono::{DateTime, Utc};
use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use scantix_core::ports::clock::Clock;
use scantix_core::ports::github::GitHubError;
use scantix_core::secret::Secret;
use scantix_http::auth::InstallationAuth;
use scantix_http::outbound::Replay;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

/// How long before its `expires_at` a cached token is replaced: a call that starts with a token
/// about to expire can still be in flight (or retried) minutes later.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// How long an installation token lives when GitHub's answer does not say (GitHub documents one
/// hour and always sends `expires_at`; this is only the fallback).
const DEFAULT_LIFETIME: chrono::Duration = chrono::Duration::hours(1);

/// A GitHub App's identity, as its settings page gives it.
#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: u64,
    /// The App's private key, PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as GitHub downloads it) or
    /// PKCS#8 (`BEGIN PRIVATE KEY`).
    pub private_key: Secret,
}

impl AppCredentials {
    pub fn new(app_id: u64, private_key: Secret) -> AppCredentials {
        AppCredentials {
            app_id,
            private_key,
        }
    }

    /// The signing key, checked: a key that cannot sign is a configuration error, found at cold
    /// start rather than at the first alert.
    fn signing_key(&self) -> Result<EncodingKey, SetupError> {
        let pem = self.private_key.expose().trim();
        if !pem.starts_with("-----BEGIN RSA PRIVATE KEY-----")
            && !pem.starts_with("-----BEGIN PRIVATE KEY-----")
        {
            return Err(SetupError::InvalidKey(
                "not a PEM private key (it must start with `-----BEGIN RSA PRIVATE KEY-----` or \
                 `-----BEGIN PRIVATE KEY-----`)"
                    .to_owned(),
            ));
        }
        // The error says what is wrong with the PEM, never what is in it.
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|err| SetupError::InvalidKey(err.to_string()))?;
        sign_jwt(self.app_id, &key).map_err(|err| SetupError::InvalidKey(err.to_string()))?;
        Ok(key)
    }
}

/// Installation access tokens, minted on demand and cached per installation.
///
/// Concurrency: each installation has its own async lock, held while its token is checked and,
/// if need be, refreshed; so concurrent calls for one installation wait for one refresh instead
/// of each minting a token, and installations do not wait for one another.
pub struct InstallationTokens {
    client: Client,
    app_id: u64,
    key: EncodingKey,
    clock: Clock,
    slots: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Option<CachedToken>>>>>,
}

struct CachedToken {
    token: Secret,
    expires_at: DateTime<Utc>,
}

impl fmt::Debug for InstallationTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallationTokens")
            .field("base_url", &self.client.base_url())
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl InstallationTokens {
    /// Tokens of `credentials`' App from the GitHub at `base_url` (`https://api.github.com`, or
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    pub fn new(
        base_url: &str,
        credentials: &AppCredentials,
    ) -> Result<InstallationTokens, SetupError> {
        Ok(InstallationTokens {
            client: Client::new(base_url)?,
            app_id: credentials.app_id,
            key: credentials.signing_key()?,
            clock: Arc::new(Utc::now),
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the clock that decides when a cached token is due for refresh (tests pin it).
    pub fn with_clock(mut self, clock: Clock) -> InstallationTokens {
        self.clock = clock;
        self
    }

    pub fn app_id(&self) -> u64 {
        self.app_id
    }

    /// A fresh App JWT (RS256; `iss` the App id, `iat` 60 s in the past against clock drift,
    /// `exp` 9 minutes ahead, inside GitHub's 10-minute limit). Its times come from the system
    /// clock, the one GitHub compares them with, whatever clock was injected.
    pub fn app_jwt(&self) -> Result<Secret, GitHubError> {
        sign_jwt(self.app_id, &self.key)
            .map(Secret::new)
            .map_err(|err| GitHubError::Refused(format!("cannot sign the App JWT: {err}")))
    }

    /// A token for `installation_id`, valid for at least five more minutes: the cached one, or
    /// a new one when there is none or it is about to expire.
    pub async fn token(&self, installation_id: u64) -> Result<Secret, GitHubError> {
        let slot = self.slot(installation_id);
        let mut cached = slot.lock().await;
        let now = (self.clock)();
        if let Some(token) = cached
            .as_ref()
            .filter(|t| now < t.expires_at - REFRESH_MARGIN)
        {
            return Ok(token.token.clone());
        }
        let fresh = self.mint(installation_id).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `stale` from the cache (GitHub answered 401 to it: revoked, or expired early), so
    /// the next `token` mints another. A token that has already replaced it is kept.
    pub async fn forget(&self, installation_id: u64, stale: &Secret) {
        let slot = self.slot(installation_id);
        let mut cached = slot.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == *stale) {
            *cached = None;
        }
    }

    /// The HTTP client against this App's GitHub, for the adapters that use its tokens.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// A failed token exchange, its 401 naming the App's own credential (its id or key). A 403 or
    /// 404 (an installation suspended, uninstalled, or another App's) stays as GitHub said it, for
    /// the caller to tell apart.
    fn mint_error(&self, error: GitHubError) -> GitHubError {
        error.naming_credential(format!(
            "the GitHub App's JWT (App id {}; check the App id and private key)",
            self.app_id
        ))
    }

    fn slot(&self, installation_id: u64) -> Arc<tokio::sync::Mutex<Option<CachedToken>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(installation_id).or_default())
    }

    async fn mint(&self, installation_id: u64) -> Result<CachedToken, GitHubError> {
        #[derive(Deserialize)]
        struct Minted {
            token: String,
            expires_at: Option<String>,
        }
        let jwt = self.app_jwt()?;
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let now = (self.clock)();
        let answer = self
            .client
            .call(Method::POST, &path, &jwt, None, Replay::Safe, now)
            .await
            .map_err(|e| self.mint_error(e))?;
        let minted: Minted = answer.json()?;
        let expires_at = match minted
            .expires_at
            .as_deref()
            .map(str::parse::<DateTime<Utc>>)
        {
            Some(Ok(at)) => at,
            other => {
                tracing::warn!(
                    installation_id,
                    expires_at = ?other,
                    "installation token without a readable expires_at; assuming one hour"
                );
                now + DEFAULT_LIFETIME
            }
        };
        tracing::debug!(installation_id, %expires_at, "minted an installation token");
        Ok(CachedToken {
            token: Secret::new(minted.token),
            expires_at,
        })
    }
}

/// How the GitHub Issues tracker gets the App's tokens (`scantix-wiring` hands these over).
#[async_trait::async_trait]
impl InstallationAuth for InstallationTokens {
    fn api_url(&self) -> &str {
        self.client.base_url()
    }

    fn app_jwt(&self) -> Result<Secret, GitHubError> {
        InstallationTokens::app_jwt(self)
    }

    async fn token(&self, installation_id: u64) -> Result<Secret, GitHubError> {
        InstallationTokens::token(self, installation_id).await
    }

    async fn forget(&self, installation_id: u64, stale: &Secret) {
        InstallationTokens::forget(self, installation_id, stale).await
    }
}

/// An App JWT as GitHub documents it: RS256, `iss` the App id, `iat` 60 s in the past (clock
/// drift), `exp` 9 minutes ahead (GitHub refuses more than 10).
fn sign_jwt(app_id: u64, key: &EncodingKey) -> Result<String, jsonwebtoken::errors::Error> {
    #[derive(serde::Serialize)]
    struct Claims {
        iat: i64,
        exp: i64,
        iss: u64,
    }
    let now = Utc::now().timestamp();
    let claims = Claims {
        iat: now - 60,
        exp: now + 9 * 60,
        iss: app_id,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Test keys generated once for these tests (`openssl genrsa -traditional 2048`, then
    // `openssl pkcs8 -topk8 -nocrypt` and `openssl rsa -pubout`); no App uses them.
    const PKCS1: &str = include_str!("testdata/app-key.pkcs1.pem");
    const PKCS8: &str = include_str!("testdata/app-key.pkcs8.pem");
    const PUBLIC: &str = include_str!("testdata/app-key.public.pem");
    const APP_ID: u64 = 1_234_567;

    #[derive(Deserialize)]
    struct Claims {
        iss: u64,
        iat: i64,
        exp: i64,
    }

    fn claims_of(jwt: &str) -> Claims {
        let key = DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).expect("the test public key");
        let mut validation = Validation::new(Algorithm::RS256);
        // jsonwebtoken checks `iss` only as a string; GitHub takes the App id as a number, which
        // `Claims` reads.
        validation.set_required_spec_claims(&["exp"]);
        decode::<Claims>(jwt, &key, &validation)
            .expect("the JWT verifies with the App's public key")
            .claims
    }

    /// A GitHub that answers only the token exchange, on a free local port: each request gets
    /// token `ghs_<n>`, expiring an hour after `clock`'s now; the App JWTs it was sent are kept.
    struct TokenServer {
        base_url: String,
        minted: Arc<AtomicU32>,
        jwts: Arc<Mutex<Vec<String>>>,
    }

    impl TokenServer {
        async fn start(clock: Clock) -> TokenServer {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base_url = format!("http://{}", listener.local_addr().unwrap());
            let minted = Arc::new(AtomicU32::new(0));
            let jwts = Arc::new(Mutex::new(Vec::new()));
            let (count, seen) = (Arc::clone(&minted), Arc::clone(&jwts));
            tokio::spawn(async move {
                while let Ok((mut socket, _)) = listener.accept().await {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    assert!(
                        head.starts_with("POST /app/installations/99/access_tokens "),
                        "{head}"
                    );
                    let bearer = head
                        .lines()
                        .find_map(|l| l.strip_prefix("authorization: Bearer "))
                        .unwrap_or_default();
                    seen.lock().unwrap().push(bearer.to_owned());
                    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                    let expires_at = clock() + chrono::Duration::hours(1);
                    let body = format!(
                        r#"{{"token":"ghs_{n}","expires_at":"{}"}}"#,
                        expires_at.to_rfc3339()
                    );
                    let reply = format!(
                        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                }
            });
            TokenServer {
                base_url,
                minted,
                jwts,
            }
        }

        fn minted(&self) -> u32 {
            self.minted.load(Ordering::SeqCst)
        }
    }

    fn noon() -> DateTime<Utc> {
        "2026-03-01T12:00:00Z".parse().unwrap()
    }

    /// A clock the test moves.
    fn pinned(start: DateTime<Utc>) -> (Clock, Arc<Mutex<DateTime<Utc>>>) {
        let now = Arc::new(Mutex::new(start));
        let read = Arc::clone(&now);
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    #[tokio::test]
    async fn both_pem_formats_sign_a_jwt_github_accepts() {
        for pem in [PKCS1, PKCS8] {
            let server = TokenServer::start(Arc::new(Utc::now)).await;
            let credentials = AppCredentials::new(APP_ID, Secret::new(pem));
            let tokens = InstallationTokens::new(&server.base_url, &credentials).unwrap();
            let token = tokens.token(99).await.unwrap();
            assert_eq!(token.expose(), "ghs_1");

            let jwts = server.jwts.lock().unwrap().clone();
            assert_eq!(jwts.len(), 1);
            let claims = claims_of(&jwts[0]);
            let now = Utc::now().timestamp();
            assert_eq!(claims.iss, APP_ID);
            assert!((now - 62..=now - 58).contains(&claims.iat), "iat 60 s ago");
            assert!(
                claims.exp > now && claims.exp - claims.iat <= 600,
                "exp within 10 min"
            );
        }
    }

    #[tokio::test]
    async fn a_token_is_reused_until_five_minutes_before_it_expires() {
        let expires_at = noon() + chrono::Duration::hours(1);
        let (clock, now) = pinned(noon());
        let server = TokenServer::start(Arc::clone(&clock)).await;
        let credentials = AppCredentials::new(APP_ID, Secret::new(PKCS1));
        let tokens = InstallationTokens::new(&server.base_url, &credentials)
            .unwrap()
            .with_clock(clock);

        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_1");
        *now.lock().unwrap() =
            expires_at - chrono::Duration::minutes(5) - chrono::Duration::seconds(1);
        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_1");
        assert_eq!(server.minted(), 1);

        *now.lock().unwrap() = expires_at - chrono::Duration::minutes(5);
        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_2");
        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_2");
        assert_eq!(server.minted(), 2);

        // A 401 on the current token drops it; forgetting a token already replaced does not.
        tokens.forget(99, &Secret::new("ghs_1")).await;
        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_2");
        tokens.forget(99, &Secret::new("ghs_2")).await;
        assert_eq!(tokens.token(99).await.unwrap().expose(), "ghs_3");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let (clock, _) = pinned(noon());
        let server = TokenServer::start(Arc::clone(&clock)).await;
        let credentials = AppCredentials::new(APP_ID, Secret::new(PKCS8));
        let tokens = Arc::new(
            InstallationTokens::new(&server.base_url, &credentials)
                .unwrap()
                .with_clock(clock),
        );
        let calls = (0..8).map(|_| {
            let tokens = Arc::clone(&tokens);
            tokio::spawn(async move { tokens.token(99).await.unwrap().expose().to_owned() })
        });
        for call in calls {
            assert_eq!(call.await.unwrap(), "ghs_1");
        }
        assert_eq!(server.minted(), 1);
    }

    #[tokio::test]
    async fn a_key_that_cannot_sign_is_refused_at_setup_without_echoing_it() {
        for pem in [
            "ghp_not_a_key",
            "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n",
        ] {
            let credentials = AppCredentials::new(APP_ID, Secret::new(pem));
            let err = InstallationTokens::new("https://api.github.com", &credentials)
                .expect_err("an invalid key");
            assert!(matches!(err, SetupError::InvalidKey(_)), "{err}");
            assert!(!err.to_string().contains("bm90IGEga2V5"), "{err}");
            assert!(!err.to_string().contains("ghp_not_a_key"), "{err}");
        }
        let credentials = AppCredentials::new(APP_ID, Secret::new(PKCS1));
        assert!(!format!("{credentials:?}").contains("PRIVATE KEY"));
        let tokens = InstallationTokens::new("https://api.github.com", &credentials).unwrap();
        assert!(!format!("{tokens:?}").contains("PRIVATE KEY"));
    }
}
