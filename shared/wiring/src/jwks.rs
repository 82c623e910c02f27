//! The one place the OIDC issuer's keys are fetched, through the shared outbound client
//! (`scantix_http::outbound`): the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`) names `jwks_uri`, which holds the key set; or a
//! key set URL given directly. Caching is `scantix_webhooks::upload::jwks`'s.

use async_trait::async_trait;
use http::Method;
use http::header::{ACCEPT, HeaderValue};
use scantix_http::outbound::{
    ClientSettings, HttpClient, Redirects, Replay, Request, RetryPolicy, SendError,
};
use scantix_webhooks::upload::jwks::{JwksError, JwksSource};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A key set or discovery document is a few KB; anything past this is not one.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// A cold upload waits for this fetch: keep it well inside the function's timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the key set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// The issuer: its discovery document names the key set.
    Issuer(String),
    /// The key set's URL itself.
    Url(String),
}

/// Fetches the key set over HTTPS.
pub struct HttpJwks {
    client: HttpClient,
    location: JwksLocation,
}

impl HttpJwks {
    pub fn new(location: JwksLocation) -> Result<HttpJwks, JwksError> {
        let client = HttpClient::new(ClientSettings {
            timeout: TIMEOUT,
            connect_timeout: TIMEOUT,
            redirects: Redirects::SameHost,
            retry: RetryPolicy {
                max_attempts: 2,
                backoff_base: Duration::from_millis(200),
                max_backoff: Duration::from_secs(1),
                max_rate_limit_wait: Duration::ZERO,
            },
            max_body: MAX_RESPONSE_BYTES,
            ..ClientSettings::new("oidc issuer")
        })
        .map_err(|e| JwksError::Unreachable(e.to_string()))?;
        Ok(HttpJwks { client, location })
    }

    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, JwksError> {
        let request = Request::new(Method::GET, url.to_owned(), Replay::Safe)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        let response = self.client.send(&request).await.map_err(|e| match e {
            SendError::TooLarge(problem) => JwksError::Invalid(problem),
            other => JwksError::Unreachable(format!("GET {url}: {other}")),
        })?;
        if !response.status.is_success() {
            return Err(JwksError::Unreachable(format!(
                "GET {url}: HTTP {}",
                response.status
            )));
        }
        response
            .json()
            .map_err(|e| JwksError::Invalid(format!("GET {url}: {e}")))
    }
}

#[derive(serde::Deserialize)]
struct Discovery {
    jwks_uri: String,
}

#[async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self) -> Result<jsonwebtoken::jwk::JwkSet, JwksError> {
        let url = match &self.location {
            JwksLocation::Url(url) => url.clone(),
            JwksLocation::Issuer(issuer) => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                self.get::<Discovery>(&discovery).await?.jwks_uri
            }
        };
        self.get(&url).await
    }
}
