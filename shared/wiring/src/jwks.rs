//! The one place the OIDC issuer's keys are fetched over HTTP (reqwest, rustls): the issuer's
//! discovery document (`<issuer>/.well-known/openid-configuration`) names `jwks_uri`, which holds
//! the key set; or a key set URL given directly. Caching is `scantix_webhooks::upload::jwks`'s.
//! (The shared outbound HTTP layer, `scantix-http`, is meant to take this call over.)

use async_trait::async_trait;
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
    client: reqwest::Client,
    location: JwksLocation,
}

impl HttpJwks {
    pub fn new(location: JwksLocation) -> Result<HttpJwks, JwksError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent("scantix")
            .build()
            .map_err(|e| JwksError::Unreachable(format!("building the HTTP client: {e}")))?;
        Ok(HttpJwks { client, location })
    }

    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, JwksError> {
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| JwksError::Unreachable(format!("GET {url}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Unreachable(format!("GET {url}: HTTP {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| JwksError::Unreachable(format!("GET {url}: {e}")))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(JwksError::Invalid(format!(
                    "GET {url}: more than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| JwksError::Invalid(format!("GET {url}: {e}")))
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
