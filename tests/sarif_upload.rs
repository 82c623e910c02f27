//! SARIF uploads, end to end over HTTP: the GitHub webhook function's routes (`POST /sarif`)
//! served on a local port, a fake OIDC issuer on another (discovery document and JWKS, its key a
//! test-only RSA key from `tests/fixtures/upload`), the deployment's real JWKS fetcher, tokens
//! shaped as GitHub Actions issues them, and real SARIF files from `../shared/fixtures/sarif`.
//! What a CI job sends, what it gets back, and what the inbox then holds; then the worker's side.

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Request as AxumRequest, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use chrono::Utc;
use github_webhook::{Routes, UPLOAD_PATH, route};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use scantix_app::execute::{ExecuteError, Executor};
use scantix_app::ingest::github::GithubGate;
use scantix_app::ingest::upload::{UploadAuth, UploadReceiver};
use scantix_app::ingest::{GithubIngest, GithubReceiver};
use scantix_app::uploads::{AnalysisApplier, UploadOutcome, UploadedAnalysis};
use scantix_app::worker::Worker;
use scantix_core::config::Config;
use scantix_core::inbox::{InboxItem, InboxSource, InboxStatus, UploadTarget};
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::store::{Guarded, Inbox, Store};
use scantix_core::records::{CoveredRepository, InstallationRecord};
use scantix_core::secret::Secret;
use scantix_dynamodb::inbox_stream_image;
use scantix_tests::webhooks::{SECRET, fixture_path};
use scantix_webhooks::upload::jwks::JwksCache;
use scantix_webhooks::upload::oidc::{OidcSettings, OidcVerifier};
use scantix_webhooks::upload::token::UploadTokens;
use scantix_wiring::jwks::{HttpJwks, JwksLocation};
use scantix_wiring::worker::{BatchResponse, StreamBatch, apply_batch};
use serde_json::{Value, json};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const AUDIENCE: &str = "https://scantix.example.com/test-deployment";
const KID: &str = "test-key-1";
const REPOSITORY: &str = "octo-org/octo-repo";
const REPOSITORY_ID: u64 = 1296269;
const INSTALLATION: u64 = 42;
/// An installation of the App that does not cover `REPOSITORY`.
const OTHER_INSTALLATION: u64 = 43;
const SHA: &str = "e6a08c5e3fd3ad86ae40b5b8b6bf0b0a6e8b3f11";
const UPLOAD_TOKEN_SECRET: &str = "test-only upload-token secret";

fn key_pem(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/upload")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_pem("test-only-oidc-signing-key.pem")).unwrap()
}

fn unpublished_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&key_pem("test-only-unpublished-key.pem")).unwrap()
}

/// The public half of `key`, as a JWK with id `kid`.
fn public_jwk(key: &EncodingKey, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

// ----- The fake OIDC issuer -----

/// Serves `/.well-known/openid-configuration` and the key set it names, and counts key set
/// fetches.
struct FakeIssuer {
    base_url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct IssuerState {
    base_url: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

impl FakeIssuer {
    async fn start() -> FakeIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(vec![public_jwk(&signing_key(), KID)]));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let state = IssuerState {
            base_url: base_url.clone(),
            keys: keys.clone(),
            jwks_fetches: jwks_fetches.clone(),
        };
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(|State(s): State<IssuerState>| async move {
                    // The fields GitHub's discovery document has that a verifier reads.
                    json_response(json!({
                        "issuer": s.base_url,
                        "jwks_uri": format!("{}/.well-known/jwks", s.base_url),
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_id", "repository_owner"]
                    }))
                }),
            )
            .route(
                "/.well-known/jwks",
                axum::routing::get(|State(s): State<IssuerState>| async move {
                    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                    let keys = s.keys.lock().unwrap().clone();
                    json_response(serde_json::to_value(JwkSet { keys }).unwrap())
                }),
            )
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeIssuer {
            base_url,
            keys,
            jwks_fetches,
        }
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Claims as GitHub Actions writes them for a push to main of `REPOSITORY`.
    fn claims(&self) -> Value {
        let now = Utc::now().timestamp();
        json!({
            "jti": "example-id",
            "sub": format!("repo:{REPOSITORY}:ref:refs/heads/main"),
            "aud": AUDIENCE,
            "ref": "refs/heads/main",
            "sha": SHA,
            "repository": REPOSITORY,
            "repository_owner": "octo-org",
            "repository_owner_id": "6811672",
            "run_id": "6028023913",
            "run_number": "12",
            "run_attempt": "1",
            "repository_visibility": "private",
            "repository_id": REPOSITORY_ID.to_string(),
            "actor_id": "12",
            "actor": "octocat",
            "workflow": "scan",
            "head_ref": "",
            "base_ref": "",
            "event_name": "push",
            "ref_type": "branch",
            "workflow_ref": format!("{REPOSITORY}/.github/workflows/scan.yml@refs/heads/main"),
            "job_workflow_ref": format!("{REPOSITORY}/.github/workflows/scan.yml@refs/heads/main"),
            "iss": self.base_url,
            "nbf": now - 5,
            "exp": now + 300,
            "iat": now
        })
    }

    fn token(&self) -> String {
        sign(&self.claims(), KID, &signing_key())
    }

    fn token_with(&self, edits: &[(&str, Value)]) -> String {
        let mut claims = self.claims();
        for (name, value) in edits {
            claims[*name] = value.clone();
        }
        sign(&claims, KID, &signing_key())
    }
}

fn json_response(value: Value) -> AxumResponse {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn sign(claims: &Value, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

// ----- The function, served over HTTP -----

struct World {
    issuer: FakeIssuer,
    store: Arc<dyn Store>,
    url: String,
    http: reqwest::Client,
}

struct Limits {
    body: usize,
    sarif: u64,
    min_refetch: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body: 4 * 1024 * 1024,
            sarif: 64 * 1024 * 1024,
            min_refetch: Duration::from_secs(60),
        }
    }
}

async fn world() -> World {
    world_with(Arc::new(MemoryStore::new()), Limits::default()).await
}

async fn world_with(store: Arc<dyn Store>, limits: Limits) -> World {
    let issuer = FakeIssuer::start().await;
    // The installations the App has: one covering REPOSITORY, one that does not.
    for (id, repository, repository_id) in [
        (INSTALLATION, REPOSITORY, REPOSITORY_ID),
        (OTHER_INSTALLATION, "other-org/elsewhere", 99),
    ] {
        let record = InstallationRecord {
            id,
            account: repository.split('/').next().unwrap().into(),
            active: true,
            repositories: [(
                repository_id,
                CoveredRepository {
                    id: repository_id,
                    full_name: repository.into(),
                    active: true,
                    sync: Default::default(),
                },
            )]
            .into_iter()
            .collect(),
            updated_at: Utc::now(),
        };
        store
            .put_installation(Guarded {
                value: record,
                expected_version: None,
                previous: None,
            })
            .await
            .unwrap();
    }
    let source = HttpJwks::new(JwksLocation::Issuer(issuer.base_url.clone())).unwrap();
    let keys = JwksCache::new(Arc::new(source)).with_min_refetch(limits.min_refetch);
    let settings = OidcSettings {
        issuer: issuer.base_url.clone(),
        ..OidcSettings::github(AUDIENCE)
    };
    let auth = UploadAuth {
        oidc: Some(OidcVerifier::new(settings, keys)),
        tokens: Some(UploadTokens::new(Secret::new(UPLOAD_TOKEN_SECRET))),
    };
    let routes = Arc::new(Routes {
        webhooks: GithubReceiver::new(GithubGate::new(Secret::new(SECRET)), store.clone()),
        uploads: Some(
            UploadReceiver::new(auth, store.clone()).with_limits(limits.body, limits.sarif),
        ),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(serve_function).with_state(routes);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    World {
        issuer,
        store,
        url,
        http: reqwest::Client::new(),
    }
}

/// The function's handler behind a real HTTP listener: the request as a Function URL hands it
/// to Lambda (method, path, query, headers, body bytes), the answer as Lambda returns it.
async fn serve_function(State(routes): State<Arc<Routes>>, request: AxumRequest) -> AxumResponse {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let request = http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()));
    let response = route(&routes, request).await.unwrap();
    let (parts, body) = response.into_parts();
    let text = match body {
        lambda_http::Body::Text(text) => text,
        other => panic!("answers are JSON text, not {other:?}"),
    };
    (parts.status, parts.headers, text).into_response()
}

struct Upload<'a> {
    token: Option<String>,
    query: &'a str,
    body: Vec<u8>,
    gzip: bool,
}

impl World {
    async fn upload(&self, upload: Upload<'_>) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{UPLOAD_PATH}?{}", self.url, upload.query))
            .header("content-type", "application/sarif+json")
            .body(upload.body);
        if upload.gzip {
            request = request.header("content-encoding", "gzip");
        }
        if let Some(token) = upload.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/json", "every answer is JSON");
        (status, response.json().await.unwrap())
    }

    async fn with_token(&self, token: String, query: &str, body: Vec<u8>) -> (u16, Value) {
        self.upload(Upload {
            token: Some(token),
            query,
            body,
            gzip: false,
        })
        .await
    }

    async fn pending(&self) -> Vec<InboxItem> {
        self.store.pending_inbox(100).await.unwrap()
    }
}

fn sarif(relative: &str) -> Vec<u8> {
    std::fs::read(fixture_path(&format!("sarif/{relative}"))).unwrap()
}

const CODEQL: &str = "codeql/fabasoad-sarif-to-slack.codeql-python.sarif";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

// ----- GitHub Actions OIDC -----

#[tokio::test]
async fn a_workflow_uploads_for_its_repository_and_the_inbox_holds_it_once() {
    let w = world().await;
    let body = sarif(CODEQL);
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "category=codeql%2Fpython",
            body: gzip(&body),
            gzip: true,
        })
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );
    let delivery = answer["delivery"].as_str().unwrap().to_owned();
    assert!(delivery.starts_with("upload:"), "{delivery}");

    // Durable in the inbox, as the worker will read it: the SARIF decompressed, and the analysis
    // named by the token (repository, its id, ref and commit) and the URL (category).
    let pending = w.pending().await;
    assert_eq!(pending.len(), 1);
    let item = &pending[0];
    assert_eq!(item.id, delivery);
    assert_eq!(item.source, InboxSource::Upload);
    assert_eq!(item.body, body);
    assert_eq!(
        item.upload.as_ref().unwrap(),
        &UploadTarget {
            repository: REPOSITORY.into(),
            repository_id: REPOSITORY_ID,
            installation_id: INSTALLATION,
            git_ref: "refs/heads/main".into(),
            commit: SHA.into(),
            category: "codeql/python".into(),
            digest: item.upload.as_ref().unwrap().digest.clone(),
            authenticated_by: "github-oidc".into(),
        }
    );
    assert_eq!(item.upload.as_ref().unwrap().digest.len(), 64);

    // The same upload again — a CI retry, this time uncompressed — is the same delivery.
    let (status, again) = w
        .with_token(w.issuer.token(), "category=codeql%2Fpython", body.clone())
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("duplicate")),
        "{again}"
    );
    assert_eq!(again["delivery"].as_str(), Some(delivery.as_str()));
    assert_eq!(w.pending().await.len(), 1);

    // Another category, or another commit named in the URL, is another analysis.
    let (status, other) = w
        .with_token(w.issuer.token(), "category=codeql%2Fjs", body.clone())
        .await;
    assert_eq!(status, 202, "{other}");
    let (status, _) = w
        .with_token(
            w.issuer.token(),
            &format!(
                "category=codeql%2Fpython&ref=refs/heads/release&commit={}",
                "b".repeat(40)
            ),
            body,
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(w.pending().await.len(), 3);
    // One key set fetch served every one of them.
    assert_eq!(w.issuer.fetches(), 1);
}

#[tokio::test]
async fn a_token_speaks_for_its_own_repository_only() {
    let w = world().await;
    let body = sarif("semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif");
    // The URL names another repository than the token's.
    let (status, answer) = w
        .with_token(
            w.issuer.token(),
            "repository=other-org/elsewhere",
            body.clone(),
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("forbidden")),
        "{answer}"
    );
    assert!(
        answer["detail"].as_str().unwrap().contains(REPOSITORY),
        "{answer}"
    );
    let (status, _) = w
        .with_token(w.issuer.token(), "repository_id=99", body.clone())
        .await;
    assert_eq!(status, 403);
    // Naming its own repository is fine (any case, as GitHub treats names).
    let (status, answer) = w
        .with_token(
            w.issuer.token(),
            "repository=Octo-Org/Octo-Repo",
            body.clone(),
        )
        .await;
    assert_eq!(status, 202, "{answer}");

    // A token GitHub signed for a repository no installation of the App covers: anyone can
    // ask GitHub for a token with this audience, so the audience alone admits nobody.
    let stranger = w.issuer.token_with(&[
        ("repository", json!("mallory/fork")),
        ("repository_id", json!("666")),
    ]);
    let (status, answer) = w.with_token(stranger, "", body).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("not covered"),
        "{answer}"
    );
    assert_eq!(w.pending().await.len(), 1);
}

#[tokio::test]
async fn tokens_that_do_not_verify_are_refused_with_401_and_store_nothing() {
    let w = world().await;
    let body = sarif(CODEQL);
    let now = Utc::now().timestamp();
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(KID.into());
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "missing_token"),
        ("not a JWT", Some("not-a-jwt".into()), "bad_token"),
        (
            "expired",
            Some(
                w.issuer
                    .token_with(&[("exp", json!(now - 120)), ("nbf", json!(now - 420))]),
            ),
            "bad_token",
        ),
        (
            "not yet valid",
            Some(
                w.issuer
                    .token_with(&[("nbf", json!(now + 600)), ("exp", json!(now + 900))]),
            ),
            "bad_token",
        ),
        (
            "wrong audience",
            Some(
                w.issuer
                    .token_with(&[("aud", json!("https://github.com/octo-org"))]),
            ),
            "bad_token",
        ),
        (
            "wrong issuer",
            Some(
                w.issuer
                    .token_with(&[("iss", json!("https://token.actions.githubusercontent.com"))]),
            ),
            "bad_token",
        ),
        (
            "unknown key id",
            Some(sign(&w.issuer.claims(), "not-published", &signing_key())),
            "bad_token",
        ),
        (
            "signed by a key the issuer does not publish",
            Some(sign(&w.issuer.claims(), KID, &unpublished_key())),
            "bad_token",
        ),
        (
            "HS256 with the public key's id",
            Some(
                jsonwebtoken::encode(
                    &hs256,
                    &w.issuer.claims(),
                    &EncodingKey::from_secret(b"guessable"),
                )
                .unwrap(),
            ),
            "bad_token",
        ),
    ];
    for (case, token, error) in cases {
        let (status, answer) = w
            .upload(Upload {
                token,
                query: "",
                body: body.clone(),
                gzip: false,
            })
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some(error)),
            "{case}: {answer}"
        );
        assert!(
            answer["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{case}"
        );
    }
    assert!(w.pending().await.is_empty());
}

#[tokio::test]
async fn unknown_key_ids_refetch_the_key_set_at_most_once_per_interval() {
    let w = world().await;
    let body = sarif(CODEQL);
    let (status, _) = w.with_token(w.issuer.token(), "", body.clone()).await;
    assert_eq!(status, 202);
    assert_eq!(w.issuer.fetches(), 1);
    // A made-up key id costs one refetch; the next ones within the interval cost none.
    for kid in ["made-up-1", "made-up-2", "made-up-3"] {
        let token = sign(&w.issuer.claims(), kid, &signing_key());
        let (status, _) = w.with_token(token, "", body.clone()).await;
        assert_eq!(status, 401);
    }
    assert_eq!(w.issuer.fetches(), 2);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_the_refetch() {
    let w = world_with(
        Arc::new(MemoryStore::new()),
        Limits {
            min_refetch: Duration::from_millis(100),
            ..Limits::default()
        },
    )
    .await;
    let body = sarif(CODEQL);
    let (status, _) = w.with_token(w.issuer.token(), "", body.clone()).await;
    assert_eq!(status, 202);
    // The issuer starts signing with a new key, published beside the old one.
    w.issuer
        .keys
        .lock()
        .unwrap()
        .push(public_jwk(&unpublished_key(), "test-key-2"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rotated = sign(&w.issuer.claims(), "test-key-2", &unpublished_key());
    let (status, answer) = w.with_token(rotated, "category=after-rotation", body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(w.issuer.fetches(), 2);
}

// ----- Upload tokens (other CI systems) -----

#[tokio::test]
async fn an_installation_upload_token_covers_its_installation_repositories() {
    let w = world().await;
    let tokens = UploadTokens::new(Secret::new(UPLOAD_TOKEN_SECRET));
    let token = tokens.mint(INSTALLATION).expose().to_owned();
    let body = sarif("semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif");
    let query =
        format!("repository={REPOSITORY}&ref=refs/heads/main&commit={SHA}&category=semgrep");
    let (status, answer) = w.with_token(token.clone(), &query, body.clone()).await;
    assert_eq!(status, 202, "{answer}");
    let item = &w.pending().await[0];
    let target = item.upload.as_ref().unwrap();
    assert_eq!(
        (
            target.repository_id,
            target.installation_id,
            target.authenticated_by.as_str()
        ),
        (REPOSITORY_ID, INSTALLATION, "upload-token")
    );

    // Tampered, or minted under another secret: 401.
    let tampered = format!("{}0", &token[..token.len() - 1]);
    let tampered = if tampered == token {
        format!("{}1", &token[..token.len() - 1])
    } else {
        tampered
    };
    let other_secret = UploadTokens::new(Secret::new("another deployment"))
        .mint(INSTALLATION)
        .expose()
        .to_owned();
    for bad in [tampered, other_secret, "stxu_42_nothex".to_owned()] {
        let (status, answer) = w.with_token(bad, &query, body.clone()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (401, Some("bad_token")),
            "{answer}"
        );
    }
    // Another installation's token does not cover this repository: 403.
    let other = tokens.mint(OTHER_INSTALLATION).expose().to_owned();
    let (status, _) = w.with_token(other, &query, body.clone()).await;
    assert_eq!(status, 403);
    // A token names no repository by itself, nor a commit: the URL must.
    let (status, answer) = w
        .with_token(token.clone(), "ref=refs/heads/main", body.clone())
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_parameter"))
    );
    let (status, answer) = w
        .with_token(
            token,
            &format!("repository={REPOSITORY}&ref=refs/heads/main"),
            body,
        )
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("missing_parameter")),
        "{answer}"
    );
    assert_eq!(w.pending().await.len(), 1);
}

// ----- Bodies -----

#[tokio::test]
async fn oversized_bodies_get_413_compressed_or_not() {
    let w = world_with(
        Arc::new(MemoryStore::new()),
        Limits {
            body: 64 * 1024,
            sarif: 512 * 1024,
            ..Limits::default()
        },
    )
    .await;
    // Over the wire limit (a real 137 KB CodeQL file against 64 KiB).
    let big = sarif("codeql/fabasoad-sarif-to-slack.codeql-typescript.sarif");
    let (status, answer) = w.with_token(w.issuer.token(), "", big.clone()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large")),
        "{answer}"
    );
    // The same file gzipped fits on the wire and under the SARIF bound.
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "",
            body: gzip(&big),
            gzip: true,
        })
        .await;
    assert_eq!(status, 202, "{answer}");
    // A gzip bomb: 40 KB on the wire, 40 MB inflated; refused at the 512 KiB bound.
    let bomb = gzip(&vec![b' '; 40 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let started = std::time::Instant::now();
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "",
            body: bomb,
            gzip: true,
        })
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (413, Some("payload_too_large")),
        "{answer}"
    );
    assert!(
        answer["detail"].as_str().unwrap().contains("decompressed"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(w.pending().await.len(), 1);
}

#[tokio::test]
async fn bodies_that_are_not_sarif_get_400_naming_the_json_path() {
    let w = world().await;
    // A real CodeQL file with four results, the fourth's `locations` made a string.
    let mut sarif_value: Value =
        serde_json::from_slice(&sarif("codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif")).unwrap();
    sarif_value["runs"][0]["results"][3]["locations"] = json!("src/app.py:12");
    let broken = serde_json::to_vec(&sarif_value).unwrap();
    let (status, answer) = w.with_token(w.issuer.token(), "", broken.clone()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("malformed_payload")),
        "{answer}"
    );
    assert_eq!(
        answer["path"].as_str(),
        Some("runs[0].results[3].locations"),
        "{answer}"
    );
    // The same, gzipped: the path is the same.
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "",
            body: gzip(&broken),
            gzip: true,
        })
        .await;
    assert_eq!(
        (status, answer["path"].as_str()),
        (400, Some("runs[0].results[3].locations"))
    );
    // Not SARIF 2.1.0; not gzip although it says so; truncated.
    let mut old = sarif_value.clone();
    old["version"] = json!("2.0.0");
    let truncated = sarif(CODEQL)[..5000].to_vec();
    for (case, body, gzip) in [
        ("version 2.0.0", serde_json::to_vec(&old).unwrap(), false),
        ("gzip header on plain JSON", sarif(CODEQL), true),
        ("truncated", truncated, false),
        ("empty", Vec::new(), false),
    ] {
        let (status, answer) = w
            .upload(Upload {
                token: Some(w.issuer.token()),
                query: "",
                body,
                gzip,
            })
            .await;
        assert_eq!(status, 400, "{case}: {answer}");
    }
    // A bad parameter: a ref that is not a full ref.
    let (status, answer) = w
        .with_token(w.issuer.token(), "ref=main", sarif(CODEQL))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("bad_parameter"))
    );
    assert!(w.pending().await.is_empty());
}

#[tokio::test]
async fn uploads_and_webhooks_share_the_url_by_path() {
    let w = world().await;
    // GET on the upload path: 405, JSON.
    let response = w
        .http
        .get(format!("{}{UPLOAD_PATH}", w.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"].as_str(), Some("method_not_allowed"));
    // Any other path is the webhook: an unsigned body there is refused as a webhook would be.
    let response = w
        .http
        .post(format!("{}/", w.url))
        .header("x-github-event", "ping")
        .body(sarif(CODEQL))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

// ----- The worker's side -----

/// Records what it is handed; applies everything.
#[derive(Default)]
struct RecordingApplier {
    seen: Mutex<Vec<(String, UploadTarget, Vec<u8>)>>,
}

#[async_trait]
impl AnalysisApplier for RecordingApplier {
    async fn apply_upload(
        &self,
        upload: UploadedAnalysis<'_>,
    ) -> Result<UploadOutcome, ExecuteError> {
        self.seen.lock().unwrap().push((
            upload.delivery.to_owned(),
            upload.target.clone(),
            upload.sarif.to_vec(),
        ));
        Ok(UploadOutcome::Applied {
            summary: "applied".into(),
        })
    }
}

fn worker(store: Arc<dyn Store>) -> Worker {
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        Config::default(),
    ));
    Worker::new(store, GithubIngest::for_worker(executor), None)
}

/// A stream batch as Lambda hands it to the worker, one INSERT per item.
fn batch_of(items: &[InboxItem]) -> StreamBatch {
    let records: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(n, item)| {
            let image = inbox_stream_image(item).unwrap();
            json!({
                "eventID": format!("event-{n}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {
                    "Keys": { "pk": image["pk"].clone(), "sk": image["sk"].clone() },
                    "NewImage": image,
                    "SequenceNumber": format!("{:021}", 100 + n),
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn until_analyses_can_be_applied_an_upload_stays_pending_without_holding_up_the_stream() {
    let w = world().await;
    let (status, _) = w.with_token(w.issuer.token(), "", sarif(CODEQL)).await;
    assert_eq!(status, 202);
    let pending = w.pending().await;
    let worker = worker(w.store.clone());
    // Not reported as a batch failure (nothing behind it waits), not marked done either.
    assert_eq!(
        apply_batch(&worker, &batch_of(&pending)).await,
        BatchResponse::default()
    );
    let item = w.store.get_inbox(&pending[0].id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Pending);
    assert_eq!(item.attempts, 1);
    assert!(item.last_error.unwrap().contains("not applied"));
    let report = worker.replay(10).await.unwrap();
    assert_eq!((report.pending, report.applied, report.deferred), (1, 0, 1));

    // Once an applier is wired, replay hands it the upload whole and the item is done.
    let applier = Arc::new(RecordingApplier::default());
    let worker = worker_with(w.store.clone(), applier.clone());
    let report = worker.replay(10).await.unwrap();
    assert_eq!((report.applied, report.deferred), (1, 0));
    let seen = applier.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, pending[0].id);
    assert_eq!(seen[0].1.repository, REPOSITORY);
    assert_eq!(seen[0].2, sarif(CODEQL));
    assert!(w.pending().await.is_empty());
}

fn worker_with(store: Arc<dyn Store>, applier: Arc<RecordingApplier>) -> Worker {
    worker(store).with_uploads(applier)
}

// ----- DynamoDB: an upload larger than one item -----

/// A real Semgrep file grown to `results` results, each with a distinct, poorly compressible
/// fingerprint, so that even compressed it is larger than one DynamoDB item.
fn large_sarif(results: usize) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&sarif(
        "semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif",
    ))
    .unwrap();
    let template = value["runs"][0]["results"][0].clone();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut noise = || {
        // xorshift64*: deterministic, incompressible enough.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        format!("{:016x}", state.wrapping_mul(0x2545_F491_4F6C_DD1D))
    };
    let grown: Vec<Value> = (0..results)
        .map(|n| {
            let mut result = template.clone();
            result["partialFingerprints"] =
                json!({ "primaryLocationLineHash": format!("{}{}{}{}:{n}", noise(), noise(), noise(), noise()) });
            result
        })
        .collect();
    value["runs"][0]["results"] = Value::Array(grown);
    serde_json::to_vec(&value).unwrap()
}

#[tokio::test]
async fn on_dynamodb_an_upload_larger_than_an_item_is_stored_in_parts_and_read_back_whole() {
    let store: Arc<dyn Store> = Arc::new(scantix_tests::dynamodb::local_store().await);
    let w = world_with(store.clone(), Limits::default()).await;
    let body = large_sarif(12_000);
    let wire = gzip(&body);
    assert!(
        wire.len() > 400 * 1024,
        "the test needs a body larger than one item: {}",
        wire.len()
    );
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "category=semgrep",
            body: wire.clone(),
            gzip: true,
        })
        .await;
    assert_eq!(status, 202, "{answer}");
    let delivery = answer["delivery"].as_str().unwrap().to_owned();
    // The same upload again: one delivery, and the parts rewritten identically.
    let (status, _) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "category=semgrep",
            body: wire,
            gzip: true,
        })
        .await;
    assert_eq!(status, 200);

    // Read back whole, by id and from the pending index.
    let item = store.get_inbox(&delivery).await.unwrap().unwrap();
    assert!(!item.body_elsewhere);
    assert_eq!(item.body, body);
    let pending = store.pending_inbox(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].body, body);

    // The stream image carries no body; the worker reads it whole before handing it over.
    let image = inbox_stream_image(&item).unwrap();
    assert!(
        image.get("body").is_none(),
        "the image must not carry the body"
    );
    let applier = Arc::new(RecordingApplier::default());
    let worker = worker_with(store.clone(), applier.clone());
    assert_eq!(
        apply_batch(&worker, &batch_of(&[item])).await,
        BatchResponse::default()
    );
    let seen = applier.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].2, body);
    let settled = store.get_inbox(&delivery).await.unwrap().unwrap();
    assert_eq!(settled.status, InboxStatus::Done);
}

#[tokio::test]
async fn on_dynamodb_an_upload_is_durable_in_the_inbox() {
    let store: Arc<dyn Store> = Arc::new(scantix_tests::dynamodb::local_store().await);
    let w = world_with(store.clone(), Limits::default()).await;
    let body = sarif(CODEQL);
    let (status, answer) = w
        .upload(Upload {
            token: Some(w.issuer.token()),
            query: "",
            body: gzip(&body),
            gzip: true,
        })
        .await;
    assert_eq!(status, 202, "{answer}");
    let item = store
        .get_inbox(answer["delivery"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(item.body, body);
    assert_eq!(item.upload.unwrap().repository_id, REPOSITORY_ID);
    let (status, _) = w.with_token(w.issuer.token(), "", body).await;
    assert_eq!(status, 200);
    assert_eq!(store.pending_inbox(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_uploaded_analysis_is_applied_by_the_worker_and_applying_it_again_changes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let w = world_with(store.clone(), Limits::default()).await;
    let semgrep = sarif("semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif");
    let (status, _) = w.with_token(w.issuer.token(), "", semgrep).await;
    assert_eq!(status, 202);
    let pending = w.pending().await;
    assert_eq!(pending.len(), 1);

    // The worker as wiring builds it: uploads applied as analyses, here under the default
    // settings (no GitHub to read the repository's own from).
    let executor = Arc::new(Executor::new(
        store.clone(),
        Arc::new(DraftTracker::new()),
        Config::default(),
    ));
    let uploads = scantix_app::uploads::ApplyAnalyses::new(executor.clone(), None);
    let worker = Worker::new(store.clone(), GithubIngest::for_worker(executor), None)
        .with_uploads(Arc::new(uploads));
    assert_eq!(
        apply_batch(&worker, &batch_of(&pending)).await,
        BatchResponse::default()
    );
    let item = store.get_inbox(&pending[0].id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Done, "{:?}", item.last_error);
    assert!(w.pending().await.is_empty());

    let groups = store.groups();
    assert!(!groups.is_empty(), "the analysis' findings were grouped");
    let findings: usize = groups
        .iter()
        .map(|g| store.findings_of(&g.value.key).len())
        .sum();
    assert!(findings > 1, "{findings} findings");
    for group in &groups {
        assert!(
            group.value.key.as_str().contains("sarif"),
            "{}",
            group.value.key
        );
        assert!(
            group.value.ticket.is_some(),
            "{} has its ticket",
            group.value.key
        );
    }

    // The same analysis again (a replay, a second upload of the same file): nothing changes.
    let before: Vec<_> = store.groups().into_iter().map(|g| g.version).collect();
    let uploaded = store.get_inbox(&pending[0].id).await.unwrap().unwrap();
    let outcome = worker
        .with_uploads(Arc::new(scantix_app::uploads::ApplyAnalyses::new(
            Arc::new(Executor::new(
                store.clone(),
                Arc::new(DraftTracker::new()),
                Config::default(),
            )),
            None,
        )))
        .apply(&InboxItem {
            status: InboxStatus::Pending,
            ..uploaded
        })
        .await;
    assert!(
        matches!(&outcome, scantix_core::inbox::Applied::Done { outcome } if outcome.contains("0 writes")),
        "{outcome:?}"
    );
    let after: Vec<_> = store.groups().into_iter().map(|g| g.version).collect();
    assert_eq!(before, after);
}
