//! The one way the adapter talks to ServiceNow: `Http::send`, a `Call` sent through the shared
//! outbound client (`scantix_http::outbound`: its retry policy repeats what is safe to repeat,
//! waits out short rate limits, and reports ambiguity), with the instance's credentials: HTTP
//! Basic, or an OAuth bearer token got with the client credentials grant at `/oauth_token.do`,
//! kept until a minute before it expires and got anew once after a 401. Every answer that is not a
//! success becomes the `TrackerError` it means here. Logs carry method, path and status — never a
//! credential, a token or a body.

use crate::settings::ServiceNowAuth;
use ::http::{Method, StatusCode};
use scantix_core::ports::tracker::TrackerError;
use scantix_core::secret::Secret;
pub use scantix_http::outbound::Replay;
use scantix_http::outbound::{HttpClient, Request, SendError, basic, bearer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Longest wait the adapter sits through inside one call (a `Retry-After` asking for more gives up
/// retryably now).
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// How long before its stated expiry a token is no longer used.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// One request, described.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    /// Under the base URL, starting with `/api/now/table/`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub replay: Replay,
    /// The record the call is about: a 404 then means it is gone.
    pub record: Option<&'a str>,
    /// The setting to blame for a 400 (the fields of a create, the resolve fields of a move).
    pub blame: &'static str,
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: String, replay: Replay) -> Call<'a> {
        Call {
            method,
            path,
            query: Vec::new(),
            body: None,
            replay,
            record: None,
            blame: "servicenow.fields",
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn about(mut self, record: &'a str) -> Self {
        self.record = Some(record);
        self
    }

    pub fn blaming(mut self, setting: &'static str) -> Self {
        self.blame = setting;
        self
    }
}

/// A failed call, with what the adapter needs beyond the `TrackerError` it becomes.
#[derive(Debug)]
pub struct Failure {
    /// The call may have taken effect although it failed: look before repeating it.
    pub ambiguous: bool,
    pub error: TrackerError,
}

impl From<TrackerError> for Failure {
    fn from(error: TrackerError) -> Failure {
        Failure {
            ambiguous: false,
            error,
        }
    }
}

impl From<Failure> for TrackerError {
    fn from(f: Failure) -> TrackerError {
        f.error
    }
}

/// A successful answer's body.
#[derive(Debug)]
pub struct Reply {
    pub body: Vec<u8>,
}

impl Reply {
    /// The body read as `T`. A body that is not the Table API's JSON is most often a developer
    /// instance that went to sleep (it answers 200 with a web page): worth trying later.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, Failure> {
        serde_json::from_slice(&self.body).map_err(|e| {
            let looks_like_html =
                self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
            Failure::from(if looks_like_html {
                TrackerError::Retryable(format!(
                    "ServiceNow answered {what} with a web page, not JSON (is the instance \
                     hibernating or behind a login page?)"
                ))
            } else {
                TrackerError::Failed(format!("unexpected answer from ServiceNow to {what}: {e}"))
            })
        })
    }
}

pub struct Http {
    pub client: HttpClient,
    /// Without a trailing slash.
    pub base_url: String,
    pub auth: ServiceNowAuth,
    /// The OAuth token and when it stops being used (OAuth only). An async mutex: one token
    /// request at a time, the others wait for its answer.
    token: Mutex<Option<(Secret, Instant)>>,
}

impl Http {
    pub fn new(client: HttpClient, base_url: String, auth: ServiceNowAuth) -> Http {
        Http {
            client,
            base_url,
            auth,
            token: Mutex::new(None),
        }
    }

    pub async fn send(&self, call: &Call<'_>) -> Result<Reply, Failure> {
        let mut renewed = false;
        loop {
            let authorization = self.authorization().await?;
            let mut request = Request::new(
                call.method.clone(),
                format!("{}{}", self.base_url, call.path),
                call.replay,
            )
            .header(
                ::http::header::ACCEPT,
                ::http::header::HeaderValue::from_static("application/json"),
            )
            .authorization(authorization);
            request.query.clone_from(&call.query);
            request.body.clone_from(&call.body);
            let answer = match self.client.send(&request).await {
                Ok(answer) => answer,
                Err(SendError::Ambiguous { problem, .. }) => {
                    return Err(Failure {
                        ambiguous: true,
                        error: TrackerError::Retryable(problem),
                    });
                }
                Err(e @ (SendError::GaveUp { .. } | SendError::RateLimited { .. })) => {
                    return Err(TrackerError::Retryable(format!("ServiceNow: {e}")).into());
                }
                Err(SendError::TooLarge(problem)) => {
                    return Err(TrackerError::Failed(problem).into());
                }
                Err(SendError::Invalid(problem)) => {
                    return Err(misconfigured("servicenow.base-url", problem).into());
                }
            };
            if answer.status.is_success() {
                return Ok(Reply {
                    body: answer.body.to_vec(),
                });
            }
            tracing::debug!(
                method = %call.method, path = %call.path, status = answer.status.as_u16(),
                "servicenow call refused"
            );
            if answer.status == StatusCode::UNAUTHORIZED
                && !renewed
                && matches!(self.auth, ServiceNowAuth::OAuth { .. })
            {
                // Revoked or expired early: once more with a new token.
                *self.token.lock().await = None;
                renewed = true;
                continue;
            }
            return Err(rejection(answer.status, &answer.body, call).into());
        }
    }

    /// The `Authorization` header value: Basic, or the OAuth token (got first if need be).
    async fn authorization(&self) -> Result<::http::HeaderValue, Failure> {
        let unusable = || {
            Failure::from(misconfigured(
                "servicenow.auth",
                "the credentials cannot be sent in a header (a line break?)".into(),
            ))
        };
        match &self.auth {
            ServiceNowAuth::Basic { user, password } => {
                basic(user, password.expose()).ok_or_else(unusable)
            }
            ServiceNowAuth::OAuth {
                client_id,
                client_secret,
                ..
            } => {
                let mut cached = self.token.lock().await;
                if let Some((token, until)) = cached.as_ref()
                    && Instant::now() < *until
                {
                    return bearer(token.expose()).ok_or_else(unusable);
                }
                let (token, lifetime) = self.oauth_token(client_id, client_secret).await?;
                let header = bearer(token.expose()).ok_or_else(unusable)?;
                *cached = Some((
                    token,
                    Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
                ));
                Ok(header)
            }
        }
    }

    /// `POST /oauth_token.do` with the client credentials grant: a token and how long it lasts.
    async fn oauth_token(
        &self,
        client_id: &str,
        client_secret: &Secret,
    ) -> Result<(Secret, Duration), Failure> {
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let request = Request::new(
            Method::POST,
            format!("{}/oauth_token.do", self.base_url),
            // A token request creates nothing anyone looks for: repeating it is harmless.
            Replay::Safe,
        )
        .header(
            ::http::header::ACCEPT,
            ::http::header::HeaderValue::from_static("application/json"),
        )
        .form(vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", client_id.into()),
            ("client_secret", client_secret.expose().into()),
        ]);
        let answer = self
            .client
            .send(&request)
            .await
            .map_err(|e| TrackerError::Retryable(format!("ServiceNow OAuth: {e}")))?;
        if !answer.status.is_success() {
            let status = answer.status;
            return Err(match status.as_u16() {
                400 | 401 | 403 => misconfigured(
                    "servicenow.auth",
                    format!(
                        "ServiceNow refused the OAuth client credentials ({status}): check the \
                         client id and secret, and that the client credentials grant is enabled \
                         for the application"
                    ),
                ),
                _ => TrackerError::Failed(format!(
                    "ServiceNow answered {status} to the token request"
                )),
            }
            .into());
        }
        let token: Token = serde_json::from_slice(&answer.body).map_err(|e| {
            TrackerError::Failed(format!(
                "unexpected answer from ServiceNow to the token request: {e}"
            ))
        })?;
        // ServiceNow's default access token lifespan is 1,800 s.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(1_800));
        Ok((Secret::new(token.access_token), lifetime))
    }

    /// The pause before running an ambiguous flow again.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.client.retry_policy().backoff(attempt)
    }

    pub fn max_attempts(&self) -> u32 {
        self.client.retry_policy().max_attempts
    }
}

fn misconfigured(setting: &str, message: String) -> TrackerError {
    TrackerError::Misconfigured {
        setting: setting.into(),
        message,
    }
}

/// ServiceNow's error answer: `{"error": {"message": …, "detail": …}, "status": "failure"}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<ErrorBody>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// What a refusal means. ServiceNow's own messages are kept (they never hold our credentials,
/// which travel only in a header), one line, capped.
fn rejection(status: StatusCode, body: &[u8], call: &Call<'_>) -> TrackerError {
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    let said_parts: Vec<String> = answer
        .error
        .map(|e| [e.message, e.detail].into_iter().flatten().collect())
        .unwrap_or_default();
    let said = scantix_core::ticket::plain::cap(
        &scantix_core::ticket::plain::line(&said_parts.join(": ")),
        400,
    );
    let said = if said.is_empty() {
        format!(
            "ServiceNow answered {status} to {} {}",
            call.method, call.path
        )
    } else {
        format!(
            "ServiceNow answered {status} to {} {}: {said}",
            call.method, call.path
        )
    };
    // A data policy (mandatory fields on resolving, say) refuses with 403 "Operation Failed" and a
    // "Data Policy Exception" detail: the fields sent are to blame, not the account.
    let data_policy = said.to_lowercase().contains("data policy");
    match status.as_u16() {
        403 if data_policy => misconfigured(call.blame, said),
        401 => misconfigured(
            "servicenow.auth",
            format!("{said} (the credentials were refused)"),
        ),
        403 => misconfigured(
            "servicenow.auth",
            format!("{said} (the account lacks a role or an ACL on the table)"),
        ),
        404 => match call.record {
            Some(record) => TrackerError::NotFound(record.to_owned()),
            None => misconfigured(
                "servicenow.table",
                format!("{said} (no such table, or no Table API at this address)"),
            ),
        },
        400 if said.to_lowercase().contains("invalid table") => {
            misconfigured("servicenow.table", said)
        }
        400 | 405..=422 => misconfigured(call.blame, said),
        429 => TrackerError::Retryable(said),
        300..=399 => misconfigured(
            "servicenow.base-url",
            format!("{said} (a redirect: set base-url to the address the instance answers on)"),
        ),
        _ => TrackerError::Failed(said),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call<'static> {
        Call::new(
            Method::POST,
            "/api/now/table/incident".into(),
            Replay::Unsafe,
        )
    }

    #[test]
    fn refusals_name_the_setting_to_fix() {
        let body =
            br#"{"error":{"message":"Invalid table nope","detail":null},"status":"failure"}"#;
        let setting = |e: TrackerError| match e {
            TrackerError::Misconfigured { setting, .. } => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            setting(rejection(StatusCode::BAD_REQUEST, body, &call())),
            "servicenow.table"
        );
        let policy = br#"{"error":{"message":"Operation Failed","detail":"Data Policy Exception: Resolution code is mandatory"}}"#;
        let moved = call().blaming("servicenow.resolve-fields");
        let e = rejection(StatusCode::FORBIDDEN, policy, &moved);
        assert!(e.to_string().contains("Data Policy Exception"), "{e}");
        assert_eq!(setting(e), "servicenow.resolve-fields");
        let acl = br#"{"error":{"message":"Operation Failed","detail":"ACL Exception Insert Failed due to security constraints"}}"#;
        assert_eq!(
            setting(rejection(StatusCode::FORBIDDEN, acl, &call())),
            "servicenow.auth"
        );
        assert_eq!(
            setting(rejection(StatusCode::UNAUTHORIZED, b"", &call())),
            "servicenow.auth"
        );
        let about = call().about("a9e30c7dc61122760116894de7bcc7bd");
        assert!(matches!(
            rejection(StatusCode::NOT_FOUND, b"", &about),
            TrackerError::NotFound(_)
        ));
        assert!(rejection(StatusCode::TOO_MANY_REQUESTS, b"", &call()).is_retryable());
    }

    #[test]
    fn a_web_page_instead_of_json_is_worth_retrying() {
        let page = Reply {
            body: b"\n<html><body>Your instance is hibernating</body></html>".to_vec(),
        };
        let e = page.json::<Value>("a search").unwrap_err();
        assert!(e.error.is_retryable(), "{:?}", e.error);
        let junk = Reply {
            body: b"{\"result\": 7".to_vec(),
        };
        assert!(
            !junk
                .json::<Value>("a search")
                .unwrap_err()
                .error
                .is_retryable()
        );
    }
}
