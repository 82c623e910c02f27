//! A CI job's SARIF upload (`POST /sarif?ref=…&commit=…&category=…`) → one HTTP answer, and, when
//! it is acceptable, one inbox item the worker applies later (like a webhook delivery).
//!
//! Order matters, cheapest refusal first: the size on the wire (413), the credential (401 when
//! absent or bad, 403 when it does not cover the repository named), the URL's parameters (400),
//! then the body, decompressed within a bound (413: a gzip bomb stops at the bound, it is never
//! inflated whole) and checked as SARIF 2.1.0 by streaming it through `scantix_sarif` with the
//! same bounds (400 naming the JSON path). Only then is it stored.
//!
//! The delivery id is a digest of what the upload *is* — repository id, ref, commit, category and
//! the SHA-256 of the decompressed SARIF — so the same upload sent twice (a CI retry, raw once and
//! gzipped once) is one delivery, answered `duplicate` the second time.

use super::Answer;
use super::receive::enqueue;
use http::HeaderMap;
use scantix_core::inbox::{InboxItem, UploadTarget};
use scantix_core::ports::store::{Store, StoreError};
use scantix_sarif::{ParseOptions, SarifError};
use scantix_webhooks::upload::oidc::{OidcError, OidcVerifier};
use scantix_webhooks::upload::token::{TOKEN_PREFIX, UploadTokens};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use tracing::Instrument;

/// Bytes on the wire: a Lambda Function URL takes at most 6 MB of request payload, and a binary
/// (gzip) body travels base64-encoded in it, so ~4.5 MB is the real ceiling; 4 MiB leaves room for
/// the headers.
pub const DEFAULT_MAX_UPLOAD_BODY: usize = 4 * 1024 * 1024;
/// Bytes of SARIF once decompressed. SARIF compresses 10–20×, so 64 MiB is what a 4 MiB gzip
/// body can reasonably hold (tens of thousands of results); more is refused before it is inflated
/// further. It is also what the function holds in memory at once (see the template's MemorySize).
pub const DEFAULT_MAX_UPLOAD_SARIF: u64 = 64 * 1024 * 1024;

/// How a caller may prove who it is; either may be off in a deployment.
pub struct UploadAuth {
    pub oidc: Option<OidcVerifier>,
    pub tokens: Option<UploadTokens>,
}

/// Receives SARIF uploads into the inbox.
pub struct UploadReceiver {
    auth: UploadAuth,
    store: Arc<dyn Store>,
    max_body: usize,
    parse: ParseOptions,
}

/// The URL's parameters.
#[derive(Debug, Default)]
struct UploadQuery {
    repository: Option<String>,
    repository_id: Option<String>,
    git_ref: Option<String>,
    commit: Option<String>,
    category: Option<String>,
}

/// Who the caller proved to be, and for which repository.
struct Authorized {
    repository: String,
    repository_id: u64,
    installation_id: u64,
    /// The run's own ref and commit (OIDC), used when the URL names none.
    git_ref: Option<String>,
    commit: Option<String>,
    by: &'static str,
}

impl UploadReceiver {
    pub fn new(auth: UploadAuth, store: Arc<dyn Store>) -> UploadReceiver {
        let parse = ParseOptions {
            max_input_bytes: DEFAULT_MAX_UPLOAD_SARIF,
            ..ParseOptions::default()
        };
        UploadReceiver {
            auth,
            store,
            max_body: DEFAULT_MAX_UPLOAD_BODY,
            parse,
        }
    }

    /// Bounds: `body` bytes on the wire, `sarif` bytes decompressed.
    pub fn with_limits(mut self, body: usize, sarif: u64) -> UploadReceiver {
        self.max_body = body;
        self.parse.max_input_bytes = sarif;
        self
    }

    /// The largest body this receiver reads, in bytes on the wire.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Answers one upload: 202 with the delivery id once it is durable, 200 `duplicate` for the
    /// same upload again, a JSON refusal otherwise.
    pub async fn handle(&self, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Answer {
        if let Some(refusal) = Answer::too_large(body, self.max_body) {
            return refusal;
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let query = parse_query(query.unwrap_or(""));
        let who = match self.authorize(header("authorization"), &query).await {
            Ok(who) => who,
            Err(refusal) => return refusal,
        };
        let span = tracing::info_span!(
            "upload",
            repository = %who.repository,
            repository_id = who.repository_id,
            by = who.by
        );
        async {
            let (git_ref, commit, category) = match target_of(&query, &who) {
                Ok(target) => target,
                Err(refusal) => return refusal,
            };
            let sarif =
                match decompress(header("content-encoding"), body, self.parse.max_input_bytes) {
                    Ok(sarif) => sarif,
                    Err(refusal) => return refusal,
                };
            if let Err(e) = scantix_sarif::stream_slice(&sarif, &self.parse, |_| {}) {
                return refused_sarif(&e);
            }
            let digest = hex::encode(Sha256::digest(&sarif));
            let target = UploadTarget {
                repository: who.repository,
                repository_id: who.repository_id,
                installation_id: who.installation_id,
                git_ref,
                commit,
                category,
                digest,
                authenticated_by: who.by.to_owned(),
            };
            let id = delivery_id(&target);
            tracing::info!(
                git_ref = %target.git_ref,
                category = %target.category,
                bytes = sarif.len(),
                "upload read"
            );
            let item = InboxItem::uploaded(id, target, sarif, chrono::Utc::now());
            enqueue(self.store.as_ref(), item).await
        }
        .instrument(span)
        .await
    }

    /// The credential in `Authorization: Bearer …`, checked, and the repository it may upload for.
    async fn authorize(
        &self,
        authorization: Option<&str>,
        query: &UploadQuery,
    ) -> Result<Authorized, Answer> {
        let Some(token) = authorization
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err(Answer::refused(
                401,
                "missing_token",
                "send `Authorization: Bearer <token>`: a GitHub Actions OIDC token, or the installation's upload token",
            ));
        };
        if token.starts_with(TOKEN_PREFIX) {
            self.authorize_upload_token(token, query).await
        } else {
            self.authorize_oidc(token, query).await
        }
    }

    async fn authorize_oidc(&self, token: &str, query: &UploadQuery) -> Result<Authorized, Answer> {
        let Some(verifier) = &self.auth.oidc else {
            return Err(Answer::refused(
                401,
                "bad_token",
                "this deployment takes no GitHub Actions OIDC tokens (no audience is configured)",
            ));
        };
        let claims = match verifier.verify(token).await {
            Ok(claims) => claims,
            Err(e) => return Err(oidc_refusal(&e)),
        };
        // A repository uploads for itself only: the URL may repeat the token's repository, never
        // name another.
        if let Some(named) = &query.repository
            && !named.eq_ignore_ascii_case(&claims.repository)
        {
            return Err(forbidden(format!(
                "the token was issued to {}; it cannot upload for {named}",
                claims.repository
            )));
        }
        if let Some(named) = &query.repository_id
            && named != &claims.repository_id.to_string()
        {
            return Err(forbidden(format!(
                "the token was issued to repository id {}; it cannot upload for {named}",
                claims.repository_id
            )));
        }
        // Anyone can ask GitHub for a token with this deployment's audience: only repositories an
        // installation of the App covers may upload.
        let installations = self.store.installations().await.map_err(store_failure)?;
        let Some(installation) = installations
            .iter()
            .find(|i| i.value.covers(claims.repository_id))
        else {
            return Err(forbidden(format!(
                "{} is not covered by an installation of this App",
                claims.repository
            )));
        };
        Ok(Authorized {
            repository: claims.repository,
            repository_id: claims.repository_id,
            installation_id: installation.value.id,
            git_ref: claims.git_ref,
            commit: claims.sha,
            by: "github-oidc",
        })
    }

    async fn authorize_upload_token(
        &self,
        token: &str,
        query: &UploadQuery,
    ) -> Result<Authorized, Answer> {
        let Some(tokens) = &self.auth.tokens else {
            return Err(Answer::refused(
                401,
                "bad_token",
                "this deployment takes no upload tokens (no upload-token secret is configured)",
            ));
        };
        let installation_id = tokens.verify(token).map_err(|e| {
            tracing::warn!(error = %e, "upload token refused");
            Answer::refused(401, "bad_token", e.to_string())
        })?;
        let Some(named) = &query.repository else {
            return Err(Answer::refused(
                400,
                "missing_parameter",
                "an upload token covers an installation: name the repository with `repository=OWNER/NAME`",
            ));
        };
        let record = self
            .store
            .get_installation(installation_id)
            .await
            .map_err(store_failure)?;
        let covered = record.as_ref().and_then(|record| {
            record
                .value
                .covered()
                .find(|r| r.full_name.eq_ignore_ascii_case(named))
        });
        let Some(repository) = covered else {
            return Err(forbidden(format!(
                "installation {installation_id}'s token does not cover {named}"
            )));
        };
        Ok(Authorized {
            repository: repository.full_name.clone(),
            repository_id: repository.id,
            installation_id,
            git_ref: None,
            commit: None,
            by: "upload-token",
        })
    }
}

/// The ref, commit and category of the analysis: the URL's, else the OIDC token's run.
fn target_of(query: &UploadQuery, who: &Authorized) -> Result<(String, String, String), Answer> {
    let missing = |name: &str| {
        Answer::refused(
            400,
            "missing_parameter",
            format!("name the analysed {name} with `{name}=`"),
        )
    };
    let git_ref = query
        .git_ref
        .clone()
        .or_else(|| who.git_ref.clone())
        .ok_or_else(|| missing("ref"))?;
    let commit = query
        .commit
        .clone()
        .or_else(|| who.commit.clone())
        .ok_or_else(|| missing("commit"))?;
    let category = query.category.clone().unwrap_or_default();
    if !git_ref.starts_with("refs/")
        || git_ref.len() > 1024
        || git_ref.chars().any(char::is_control)
    {
        return Err(Answer::refused(
            400,
            "bad_parameter",
            "`ref` must be a full ref such as refs/heads/main or refs/pull/7/merge",
        ));
    }
    // SHA-1 (40) or SHA-256 (64) object names.
    if !matches!(commit.len(), 40 | 64) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Answer::refused(
            400,
            "bad_parameter",
            "`commit` must be the full commit SHA (40 hex digits)",
        ));
    }
    if category.len() > 256 || category.chars().any(char::is_control) {
        return Err(Answer::refused(
            400,
            "bad_parameter",
            "`category` must be at most 256 printable characters",
        ));
    }
    Ok((git_ref, commit.to_ascii_lowercase(), category))
}

/// The body as SARIF bytes: as sent, or gunzipped (`Content-Encoding: gzip`), never more than
/// `max` bytes of it.
fn decompress(encoding: Option<&str>, body: &[u8], max: u64) -> Result<Vec<u8>, Answer> {
    let too_large = || {
        Answer::refused(
            413,
            "payload_too_large",
            format!("the SARIF is more than {max} bytes once decompressed"),
        )
    };
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "identity") => {
            if body.len() as u64 > max {
                return Err(too_large());
            }
            Ok(body.to_vec())
        }
        Some("gzip" | "x-gzip") => {
            let mut sarif = Vec::new();
            // One byte past the bound tells "exactly at it" from "beyond it" without inflating
            // the rest.
            let mut bounded = flate2::read::MultiGzDecoder::new(body).take(max + 1);
            if let Err(e) = bounded.read_to_end(&mut sarif) {
                return Err(malformed(format!("the body is not valid gzip: {e}"), None));
            }
            if sarif.len() as u64 > max {
                return Err(too_large());
            }
            Ok(sarif)
        }
        Some(other) => Err(Answer::refused(
            415,
            "unsupported_encoding",
            format!("Content-Encoding `{other}` is not supported: send the SARIF as is, or gzip"),
        )),
    }
}

/// What a SARIF file that does not read gets: 413 past a bound, 400 naming the JSON path.
fn refused_sarif(e: &SarifError) -> Answer {
    tracing::warn!(error = %e, "upload is not readable SARIF");
    match e {
        SarifError::LimitExceeded { .. } => {
            let mut answer = Answer::refused(413, "payload_too_large", e.to_string());
            if let Some(path) = e.path() {
                answer.body["path"] = serde_json::json!(path);
            }
            answer
        }
        SarifError::Read(_) => Answer::refused(500, "unreadable", e.to_string()),
        _ => malformed(e.to_string(), e.path()),
    }
}

/// 400 for a body that does not read, naming the JSON `path` of what is wrong when known (the
/// same shape as a malformed webhook's answer).
fn malformed(detail: impl Into<String>, path: Option<&str>) -> Answer {
    let mut answer = Answer::refused(400, "malformed_payload", detail);
    if let Some(path) = path {
        answer.body["path"] = serde_json::json!(path);
    }
    answer
}

fn oidc_refusal(e: &OidcError) -> Answer {
    tracing::warn!(error = %e, "OIDC token refused");
    if e.is_token_fault() {
        Answer::refused(401, "bad_token", e.to_string())
    } else {
        // The issuer's keys could not be fetched: the caller's token may be fine; try again.
        Answer::refused(503, "keys_unavailable", e.to_string())
    }
}

fn forbidden(detail: String) -> Answer {
    tracing::warn!(detail = %detail, "upload forbidden");
    Answer::refused(403, "forbidden", detail)
}

fn store_failure(e: StoreError) -> Answer {
    tracing::error!(error = %e, "installations could not be read");
    let status = if e.is_retryable() { 503 } else { 500 };
    Answer::refused(status, "store_unavailable", e.to_string())
}

/// `upload:` + SHA-256 over what the upload is (see the module docs), fields separated by a byte
/// none of them can hold.
pub fn delivery_id(target: &UploadTarget) -> String {
    let mut hash = Sha256::new();
    for part in [
        target.repository_id.to_string().as_str(),
        &target.git_ref,
        &target.commit,
        &target.category,
        &target.digest,
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("upload:{}", hex::encode(hash.finalize()))
}

fn parse_query(query: &str) -> UploadQuery {
    let mut parsed = UploadQuery::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = Some(value.into_owned()).filter(|v| !v.is_empty());
        match name.as_ref() {
            "repository" => parsed.repository = value,
            "repository_id" => parsed.repository_id = value,
            "ref" => parsed.git_ref = value,
            "commit" | "sha" => parsed.commit = value,
            "category" => parsed.category = value,
            _ => {}
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 8 * 1024 * 1024]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let refusal = decompress(Some("gzip"), &bomb, 1024 * 1024).unwrap_err();
        assert_eq!(refusal.status, 413);
        assert_eq!(
            decompress(Some("gzip"), &bomb, 8 * 1024 * 1024)
                .unwrap()
                .len(),
            8 * 1024 * 1024
        );
        assert_eq!(decompress(Some("br"), &bomb, 1).unwrap_err().status, 415);
        assert_eq!(
            decompress(Some("gzip"), b"not gzip", 10)
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn the_delivery_id_is_a_function_of_what_the_upload_is() {
        let target = UploadTarget {
            repository: "acme/app".into(),
            repository_id: 7,
            installation_id: 1,
            git_ref: "refs/heads/main".into(),
            commit: "a".repeat(40),
            category: "semgrep".into(),
            digest: "00".repeat(32),
            authenticated_by: "github-oidc".into(),
        };
        let same = UploadTarget {
            authenticated_by: "upload-token".into(),
            repository: "ACME/app".into(),
            ..target.clone()
        };
        assert_eq!(delivery_id(&target), delivery_id(&same));
        let other = UploadTarget {
            category: "trivy".into(),
            ..target.clone()
        };
        assert_ne!(delivery_id(&target), delivery_id(&other));
    }
}
