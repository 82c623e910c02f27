//! Builds the ports from a deployment's environment, once per cold start, so every function wires
//! them the same way:
//!
//! | variable | meaning |
//! |---|---|
//! | `SCANTIX_TABLE` | the DynamoDB table |
//! | `SCANTIX_TRACKER` | `draft` (default), `jira`, `github` (GitHub Issues, as the GitHub App), `linear`, `servicenow` or `email` |
//! | `SCANTIX_ROUTE_TRACKERS` | optional, comma-separated, same names: the deployment's other trackers, which repositories' `routes` (`.github/scantix.yml`) may send tickets to; each is configured by its own variables below |
//! | `SCANTIX_GITHUB_ISSUES_REPO` | with `github`: one `owner/name` for every ticket; without it each ticket goes to its alerts' repository |
//! | `JIRA_URL`, `JIRA_PROJECT`, `JIRA_FLAVOR` | the Jira site, project key, `cloud` (default) or `data-center` |
//! | `JIRA_EMAIL` + `JIRA_API_TOKEN` (Cloud) or `JIRA_TOKEN` (Data Center) | Jira credentials |
//! | `JIRA_SETTINGS` | optional JSON of the full `jira` settings (issue type, priorities, labels, …) |
//! | `LINEAR_TEAM` | with `linear`: the team's key (`SEC`) tickets are filed in |
//! | `LINEAR_OAUTH_TOKEN` (deployed: an OAuth app's token) or `LINEAR_API_KEY` (local: a personal API key) | Linear credentials |
//! | `LINEAR_SETTINGS` | optional JSON of the full `linear` settings (`api-url`, `group-link-base`, `max-attempts`, …) |
//! | `SERVICENOW_URL`, `SERVICENOW_TABLE` | the ServiceNow instance and table (`incident` by default) |
//! | `SERVICENOW_USER` + `SERVICENOW_PASSWORD` (Basic), or `SERVICENOW_CLIENT_ID` + `SERVICENOW_CLIENT_SECRET` (OAuth client credentials; `SERVICENOW_USER` then names the OAuth application's user) | ServiceNow credentials |
//! | `SERVICENOW_SETTINGS` | optional JSON of the full `servicenow` settings (fields, urgency/impact, states, resolve fields, …) |
//! | `SCANTIX_EMAIL_FROM`, `SCANTIX_EMAIL_TO` | with `email`: the sender and the comma-separated recipients of every repository's messages |
//! | `SCANTIX_EMAIL_SETTINGS` | optional JSON of the full `email` settings (per-repository lists, events, owners, `digest`: a daily digest the sweeper sends instead of a message per event) |
//! | `SMTP_CA_CERTIFICATE_FILE` | optional: a PEM certificate authority the SMTP server's certificate may chain to besides the public ones (a relay with a private CA) |
//! | `SMTP_HOST`, `SMTP_PORT`, `SMTP_SECURITY`, `SMTP_USER` + `SMTP_PASSWORD` | with `email`: the SMTP server (`starttls` by default, `tls`, or `none` for a server on this machine) and its account |
//! | `SERVICENOW_WEBHOOK_SECRET` | the servicenow-webhook function: the business rule's shared secret |
//! | `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` | the GitHub App (PEM, PKCS#1 or PKCS#8); without them no GitHub calls are made |
//! | `GITHUB_TOKEN` | local runs without an App: the token the GitHub Issues tracker acts with |
//! | `GITHUB_API_URL` | `https://api.github.com` (default) or `https://HOST/api/v3` (Enterprise Server) |
//! | `SCANTIX_SIEM_SINK`, `SCANTIX_SIEM_TARGET`, `SCANTIX_REPORT_BUCKET` (and prefixes) | where OCSF events and the daily report go ([`siem`]) |
//! | `SCANTIX_KEV_PATH` | optional: a file in CISA's Known Exploited Vulnerabilities JSON format (at most 16 MB), read at cold start and again at every sweep; the triage policy sees a finding's entry as `input.kev` |
//! | `SCANTIX_KEV_S3` | optional, instead: the catalogue as an S3 object, `s3://bucket/key`, read at cold start and at every sweep when its ETag changed |
//! | `SCANTIX_SERVICE_ACCOUNTS` | optional, comma-separated: tracker accounts whose changes are scantix's own besides its credential's, which is asked of the tracker (`GET /myself`, `GET /app`, `GET /user`) |
//!
//! # Secrets
//! Every secret (`GITHUB_WEBHOOK_SECRET`, `GITHUB_APP_PRIVATE_KEY`, `JIRA_API_TOKEN`, `JIRA_TOKEN`,
//! `JIRA_WEBHOOK_SECRET`, `JIRA_WEBHOOK_TOKEN`, `LINEAR_API_KEY`, `LINEAR_OAUTH_TOKEN`,
//! `LINEAR_WEBHOOK_SECRET`, `SCANTIX_UPLOAD_TOKEN_SECRET`, `SERVICENOW_PASSWORD`,
//! `SERVICENOW_CLIENT_SECRET`, `SERVICENOW_WEBHOOK_SECRET`, `SMTP_PASSWORD`) can be given three
//! ways, first found wins:
//! `<NAME>_ARN` (an AWS Secrets Manager secret, fetched once by [`load_secrets`] at cold start:
//! production), `<NAME>_FILE` (a file holding it), or `<NAME>` itself (local runs). Values are
//! wrapped in [`Secret`] as soon as they are read, so no log line can show them.
//!
//! This is the one crate that knows every adapter (`shared/adapters/*`) and the application
//! (`scantix-app`): the functions and the `scantix` command get their ports here, and so depend on
//! no adapter themselves. Not here: what the ports do (the adapters), or what scantix does with
//! them (the app).
//!
//! # Layout
//! - this file: secrets, and the ports from the environment: store, tracker, GitHub App clients,
//!   the engine's configuration.
//! - [`worker`]: the worker assembled from the environment, and the table's stream batches it
//!   applies.
//! - [`upload`]: the SARIF upload endpoint (its `SCANTIX_UPLOAD_*` variables are listed there);
//!   [`jwks`]: the OIDC issuer's keys fetched over HTTPS.
//! - [`local`]: the ports for runs on one machine: the SQLite store, a table on DynamoDB Local,
//!   `migrate`, GitHub with one token.

pub mod jwks;
pub mod kev_s3;
pub mod local;
pub mod siem;
pub mod upload;
pub mod worker;

use scantix_app::digest::{DailyDigest, DigestError};
use scantix_app::execute::{ExecutorSettings, UnknownInstallations};
use scantix_app::tracker_routes::TrackerRoutes;
use scantix_core::chrono::NaiveDate;
use scantix_core::config::Config;
use scantix_core::memory::draft_tracker::DraftTracker;
use scantix_core::ports::github_clients::GitHubClients;
use scantix_core::ports::store::Store;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::AuditEntry;
use scantix_core::secret::Secret;
use scantix_core::ticket::destination::ProjectAllowList;
use scantix_dynamodb::DynamoStore;
use scantix_email::message::{DigestLine, Thread};
use scantix_email::{EmailEvent, EmailSettings, EmailTracker, Security, SmtpAuth, SmtpSettings};
use scantix_github::app_auth::{AppCredentials, InstallationTokens};
use scantix_github::clients::AppClients;
use scantix_github_issues::{GithubIssuesSettings, GithubIssuesTracker, IssuesAuth, RepoName};
use scantix_jira::{Flavor, JiraAuth, JiraSettings, JiraTracker};
use scantix_linear::{LinearAuth, LinearSettings, LinearTracker};
use scantix_servicenow::{ServiceNowAuth, ServiceNowSettings, ServiceNowStates, ServiceNowTracker};
use std::collections::HashMap;
use std::sync::Arc;

/// A deployment setting that is missing or unusable.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {var} is invalid: {why}")]
    Invalid { var: &'static str, why: String },
    #[error("secret {name}: {why}")]
    Secret { name: String, why: String },
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    /// A tracker `SCANTIX_ROUTE_TRACKERS` names cannot be built: said with the route, so the
    /// operator knows which setting belongs to which tracker.
    #[error("route tracker {tracker} (SCANTIX_ROUTE_TRACKERS): {source}")]
    Route {
        tracker: String,
        #[source]
        source: Box<WiringError>,
    },
}

/// The secrets this process fetched from Secrets Manager at cold start (see [`load_secrets`]).
static FETCHED_SECRETS: std::sync::OnceLock<HashMap<String, Secret>> = std::sync::OnceLock::new();

/// The secrets a deployment may name.
pub const SECRET_NAMES: &[&str] = &[
    "GITHUB_WEBHOOK_SECRET",
    "GITHUB_APP_PRIVATE_KEY",
    "JIRA_API_TOKEN",
    "JIRA_TOKEN",
    "JIRA_WEBHOOK_SECRET",
    "JIRA_WEBHOOK_TOKEN",
    "LINEAR_API_KEY",
    "LINEAR_OAUTH_TOKEN",
    "LINEAR_WEBHOOK_SECRET",
    "SCANTIX_UPLOAD_TOKEN_SECRET",
    "SERVICENOW_PASSWORD",
    "SERVICENOW_CLIENT_SECRET",
    "SERVICENOW_WEBHOOK_SECRET",
    "SMTP_PASSWORD",
];

/// Fetches every secret named by a `<NAME>_ARN` variable from Secrets Manager, once per cold start,
/// so that the (synchronous) builders below find them. Without any `_ARN` variable it makes no
/// call. The Secrets Manager endpoint follows the SDK's usual settings
/// (`AWS_ENDPOINT_URL_SECRETS_MANAGER` included).
pub async fn load_secrets() -> Result<(), WiringError> {
    let wanted: Vec<(String, String)> = SECRET_NAMES
        .iter()
        .filter_map(|name| optional(&format!("{name}_ARN")).map(|arn| ((*name).into(), arn)))
        .collect();
    if wanted.is_empty() || FETCHED_SECRETS.get().is_some() {
        return Ok(());
    }
    let client = aws_sdk_secretsmanager::Client::new(aws_config().await);
    let fetched = fetch_secrets(&client, &wanted).await?;
    // A second caller racing this one fetched the same values; either copy will do.
    let _ = FETCHED_SECRETS.set(fetched);
    Ok(())
}

/// Reads each `(name, arn)` from Secrets Manager. The error names the variable and the secret's
/// ARN, never a value.
pub async fn fetch_secrets(
    client: &aws_sdk_secretsmanager::Client,
    wanted: &[(String, String)],
) -> Result<HashMap<String, Secret>, WiringError> {
    let mut fetched = HashMap::new();
    for (name, arn) in wanted {
        let answer = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| WiringError::Secret {
                name: name.clone(),
                why: format!(
                    "reading {arn} from Secrets Manager: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ),
            })?;
        let value = answer.secret_string().ok_or_else(|| WiringError::Secret {
            name: name.clone(),
            why: format!("{arn} has no SecretString (binary secrets are not supported)"),
        })?;
        fetched.insert(name.clone(), Secret::new(value.to_owned()));
    }
    Ok(fetched)
}

/// A secret by name: fetched from Secrets Manager (`<NAME>_ARN`), read from `<NAME>_FILE`, or
/// `<NAME>` itself; `None` when none is set.
pub fn secret(name: &'static str) -> Result<Option<Secret>, WiringError> {
    if let Some(fetched) = FETCHED_SECRETS.get().and_then(|all| all.get(name)) {
        return Ok(Some(fetched.clone()));
    }
    if optional(&format!("{name}_ARN")).is_some() {
        return Err(WiringError::Secret {
            name: name.into(),
            why: format!(
                "{name}_ARN is set but the secret was not loaded (call load_secrets first)"
            ),
        });
    }
    if let Some(path) = optional(&format!("{name}_FILE")) {
        let text = std::fs::read_to_string(&path).map_err(|e| WiringError::Secret {
            name: name.into(),
            why: format!("reading {path}: {e}"),
        })?;
        // Files written by editors and `echo` end with a newline that is not part of the secret.
        return Ok(Some(Secret::new(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        )));
    }
    Ok(optional(name).map(Secret::new))
}

/// A secret that must be there.
pub fn required_secret(name: &'static str) -> Result<Secret, WiringError> {
    secret(name)?.ok_or(WiringError::Missing(name))
}

pub(crate) fn var(name: &'static str) -> Result<String, WiringError> {
    std::env::var(name).map_err(|_| WiringError::Missing(name))
}

pub(crate) fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The engine's deployment-wide configuration: the built-in defaults (a repository's
/// `.github/scantix.yml` overrides them for its own alerts and tickets), with the tracker accounts
/// named in `SCANTIX_SERVICE_ACCOUNTS` counted as scantix's own. The account scantix's tracker
/// credential acts as needs no naming: the executor asks the tracker for it.
pub fn config_from_env() -> Config {
    let service_accounts = optional("SCANTIX_SERVICE_ACCOUNTS")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|account| !account.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Config {
        service_accounts,
        ..Config::default()
    }
}

/// The KEV catalogue named by `SCANTIX_KEV_PATH` (a file) or `SCANTIX_KEV_S3` (an S3 object,
/// `s3://bucket/key`), if either; one that cannot be read stops the cold start with what is wrong
/// with it.
pub async fn kev_from_env() -> Result<Option<Arc<scantix_app::kev::KevSource>>, WiringError> {
    use scantix_app::kev::KevSource;
    let source = match (optional("SCANTIX_KEV_PATH"), optional("SCANTIX_KEV_S3")) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(WiringError::Invalid {
                var: "SCANTIX_KEV_S3",
                why: "SCANTIX_KEV_PATH is set too: name the catalogue once".into(),
            });
        }
        (Some(path), None) => KevSource::load(path).map_err(|e| WiringError::Invalid {
            var: "SCANTIX_KEV_PATH",
            why: e.to_string(),
        })?,
        (None, Some(uri)) => {
            let Some((bucket, key)) = kev_s3::KevObject::parse_uri(&uri) else {
                return Err(WiringError::Invalid {
                    var: "SCANTIX_KEV_S3",
                    why: format!("{uri:?} is not s3://bucket/key"),
                });
            };
            let client = aws_sdk_s3::Client::new(aws_config().await);
            let object = kev_s3::KevObject::new(client, bucket, key);
            KevSource::from_origin(Box::new(object))
                .await
                .map_err(|e| WiringError::Invalid {
                    var: "SCANTIX_KEV_S3",
                    why: e.to_string(),
                })?
        }
    };
    Ok(Some(Arc::new(source)))
}

/// What the deployment does with events of installations it has no record of
/// (`SCANTIX_UNKNOWN_INSTALLATIONS`: `serve`, the default, or `ignore` for a deployment serving
/// several organisations).
pub fn executor_settings_from_env() -> Result<ExecutorSettings, WiringError> {
    let unknown_installations = match optional("SCANTIX_UNKNOWN_INSTALLATIONS") {
        None => UnknownInstallations::default(),
        Some(value) => UnknownInstallations::parse(&value).ok_or_else(|| WiringError::Invalid {
            var: "SCANTIX_UNKNOWN_INSTALLATIONS",
            why: format!("{value:?} is neither `serve` nor `ignore`"),
        })?,
    };
    Ok(ExecutorSettings {
        unknown_installations,
        ..ExecutorSettings::default()
    })
}

/// The tracker projects each organisation may file tickets in (`SCANTIX_ALLOWED_PROJECTS`, JSON:
/// `{"acme": ["SEC"], "globex": ["GLX"]}`; unset or empty: no restriction).
pub fn allowed_projects_from_env() -> Result<ProjectAllowList, WiringError> {
    match optional("SCANTIX_ALLOWED_PROJECTS") {
        None => Ok(ProjectAllowList::default()),
        Some(json) => ProjectAllowList::parse_json(&json).map_err(|why| WiringError::Invalid {
            var: "SCANTIX_ALLOWED_PROJECTS",
            why,
        }),
    }
}

/// The DynamoDB store named by `SCANTIX_TABLE`, with the AWS SDK's default credentials chain.
pub async fn store_from_env() -> Result<Arc<dyn Store>, WiringError> {
    Ok(store_for_table(var("SCANTIX_TABLE")?).await)
}

/// The DynamoDB store named by `SCANTIX_TABLE` for a function whose role may not write the
/// table (the OCSF publisher): groups still in the old format are read without being upgraded
/// (see `DynamoStore::read_only`).
pub async fn read_only_store_from_env() -> Result<Arc<dyn Store>, WiringError> {
    Ok(Arc::new(
        dynamodb_table(var("SCANTIX_TABLE")?).await.read_only(),
    ))
}

/// The DynamoDB store over `table`, with the AWS SDK's default credentials chain and endpoint
/// settings (`AWS_ENDPOINT_URL_DYNAMODB` included).
pub async fn store_for_table(table: String) -> Arc<dyn Store> {
    Arc::new(dynamodb_table(table).await)
}

/// The same store as its adapter type, for the operations only DynamoDB has (`migrate`).
pub async fn dynamodb_table(table: String) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(aws_config().await);
    DynamoStore::new(client, table)
}

/// The AWS SDK's settings, resolved once per process: secrets and store share them, so a cold
/// start resolves region and credentials once.
pub(crate) async fn aws_config() -> &'static aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| aws_config::load_defaults(aws_config::BehaviorVersion::latest()))
        .await
}

/// The deployment's trackers: the one `SCANTIX_TRACKER` names, and, when
/// `SCANTIX_ROUTE_TRACKERS` names others (comma-separated, same spellings), all of them as one
/// (`scantix_app::tracker_routes`), so that repositories' `routes` can send tickets to them.
pub fn tracker_from_env() -> Result<Arc<dyn Tracker>, WiringError> {
    let own = tracker_named(
        optional("SCANTIX_TRACKER").as_deref().unwrap_or("draft"),
        "SCANTIX_TRACKER",
    )?;
    let others = optional("SCANTIX_ROUTE_TRACKERS").unwrap_or_default();
    let others: Vec<&str> = others
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != own.name())
        .collect();
    if others.is_empty() {
        return Ok(own);
    }
    let others = others
        .into_iter()
        .map(|name| {
            tracker_named(name, "SCANTIX_ROUTE_TRACKERS").map_err(|source| WiringError::Route {
                tracker: name.to_owned(),
                source: Box::new(source),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(TrackerRoutes::new(own, others)))
}

/// Whether `name` is one of the deployment's trackers: `SCANTIX_TRACKER`'s, or one of
/// `SCANTIX_ROUTE_TRACKERS`'. Its webhooks back are then applied, whichever is the main one: a
/// group filed in a route tracker gets people's changes back as the main tracker's groups do.
pub fn deployment_has_tracker(name: &str) -> bool {
    has_tracker(
        optional("SCANTIX_TRACKER").as_deref(),
        optional("SCANTIX_ROUTE_TRACKERS").as_deref(),
        name,
    )
}

/// [`deployment_has_tracker`] over the two variables' values.
fn has_tracker(own: Option<&str>, routes: Option<&str>, name: &str) -> bool {
    own.map(str::trim) == Some(name)
        || routes
            .unwrap_or_default()
            .split(',')
            .any(|route| route.trim() == name)
}

/// The daily digest sender, when the deployment mails (`SCANTIX_TRACKER` or
/// `SCANTIX_ROUTE_TRACKERS` names `email`) and its email settings ask for a digest.
pub fn digest_from_env() -> Result<Option<Arc<dyn DailyDigest>>, WiringError> {
    let own = optional("SCANTIX_TRACKER").unwrap_or_default();
    let others = optional("SCANTIX_ROUTE_TRACKERS").unwrap_or_default();
    let mails = std::iter::once(own.as_str())
        .chain(others.split(','))
        .any(|name| name.trim() == "email");
    if !mails {
        return Ok(None);
    }
    let (settings, smtp, auth) = email_from_env()?;
    if !settings.digest {
        return Ok(None);
    }
    Ok(Some(Arc::new(EmailDigest(EmailTracker::new(
        settings, smtp, auth,
    )?))))
}

/// The email tracker as the sweeper's digest sender: the day's audit entries about email threads
/// become the digest's lines.
pub struct EmailDigest(pub EmailTracker);

#[async_trait::async_trait]
impl DailyDigest for EmailDigest {
    async fn send(&self, day: NaiveDate, changes: &[AuditEntry]) -> Result<usize, DigestError> {
        let lines: Vec<DigestLine> = changes
            .iter()
            .filter_map(|entry| {
                let event = match entry.action.as_str() {
                    "ticket.created" => EmailEvent::Created,
                    "ticket.reopened" => EmailEvent::Reopened,
                    "ticket.stale" => EmailEvent::Stale,
                    "ticket.overdue" => EmailEvent::Overdue,
                    "ticket.resolved" | "ticket.closed" => EmailEvent::Resolved,
                    _ => return None,
                };
                // Only email threads: other trackers' keys are no thread's.
                let thread = Thread::parse(entry.ticket.as_deref()?).ok()?;
                Some(DigestLine {
                    at: entry.at,
                    event,
                    thread,
                    what: entry.reason.clone(),
                })
            })
            .collect();
        self.0
            .send_digest(day, &lines)
            .await
            .map_err(|e| DigestError::Send(e.to_string()))
    }
}

/// One tracker by its name in `var`, built from its settings variables.
fn tracker_named(name: &str, var: &'static str) -> Result<Arc<dyn Tracker>, WiringError> {
    match name {
        "draft" => Ok(Arc::new(DraftTracker::new())),
        "jira" => {
            let (settings, auth) = jira_from_env()?;
            Ok(Arc::new(JiraTracker::new(settings, auth)?))
        }
        "github" => Ok(Arc::new(github_issues_from_env()?)),
        "linear" => {
            let (settings, auth) = linear_from_env()?;
            Ok(Arc::new(LinearTracker::new(settings, auth)?))
        }
        "servicenow" => {
            let (settings, auth) = servicenow_from_env()?;
            Ok(Arc::new(ServiceNowTracker::new(settings, auth)?))
        }
        "email" => {
            let (settings, smtp, auth) = email_from_env()?;
            Ok(Arc::new(EmailTracker::new(settings, smtp, auth)?))
        }
        other => Err(WiringError::Invalid {
            var,
            why: format!("`{other}`: expected draft, jira, github, linear, servicenow or email"),
        }),
    }
}

/// `JIRA_FLAVOR`: `cloud` (default) or `data-center`; anything else is refused rather than read
/// as Cloud, which would check every Data Center delivery the wrong way.
pub fn jira_flavor() -> Result<Flavor, WiringError> {
    match optional("JIRA_FLAVOR").as_deref().unwrap_or("cloud") {
        "cloud" => Ok(Flavor::Cloud),
        "data-center" => Ok(Flavor::DataCenter),
        other => Err(WiringError::Invalid {
            var: "JIRA_FLAVOR",
            why: format!("`{other}`: expected cloud or data-center"),
        }),
    }
}

/// Jira settings and credentials from the environment.
pub fn jira_from_env() -> Result<(JiraSettings, JiraAuth), WiringError> {
    let settings = match optional("JIRA_SETTINGS") {
        Some(json) => serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "JIRA_SETTINGS",
            why: e.to_string(),
        })?,
        None => JiraSettings::new(var("JIRA_URL")?, jira_flavor()?, var("JIRA_PROJECT")?),
    };
    let auth = match settings.flavor {
        Flavor::Cloud => JiraAuth::Cloud {
            email: var("JIRA_EMAIL")?,
            api_token: required_secret("JIRA_API_TOKEN")?,
        },
        Flavor::DataCenter => JiraAuth::DataCenter {
            // The SAM template's one Jira token parameter is JIRA_API_TOKEN for either flavour.
            token: match secret("JIRA_TOKEN")? {
                Some(token) => token,
                None => required_secret("JIRA_API_TOKEN")?,
            },
        },
    };
    Ok((settings, auth))
}

/// Linear settings and credentials from the environment: `LINEAR_SETTINGS` (JSON) or
/// `LINEAR_TEAM`, and the OAuth app's token (deployments) or else a personal API key (local runs).
pub fn linear_from_env() -> Result<(LinearSettings, LinearAuth), WiringError> {
    let settings = match optional("LINEAR_SETTINGS") {
        Some(json) => serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "LINEAR_SETTINGS",
            why: e.to_string(),
        })?,
        None => LinearSettings::new(var("LINEAR_TEAM")?),
    };
    let auth = match secret("LINEAR_OAUTH_TOKEN")? {
        Some(token) => LinearAuth::OAuth(token),
        None => match secret("LINEAR_API_KEY")? {
            Some(key) => LinearAuth::ApiKey(key),
            None => {
                return Err(WiringError::Missing(
                    "LINEAR_OAUTH_TOKEN (or LINEAR_API_KEY)",
                ));
            }
        },
    };
    Ok((settings, auth))
}

/// ServiceNow settings and credentials from the environment: `SERVICENOW_SETTINGS` (JSON) and/or
/// `SERVICENOW_URL` (+ `SERVICENOW_TABLE`), the variables winning over the JSON; OAuth when
/// `SERVICENOW_CLIENT_ID` is set, else Basic.
pub fn servicenow_from_env() -> Result<(ServiceNowSettings, ServiceNowAuth), WiringError> {
    let mut settings = match optional("SERVICENOW_SETTINGS") {
        Some(json) => serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "SERVICENOW_SETTINGS",
            why: e.to_string(),
        })?,
        None => ServiceNowSettings::new(var("SERVICENOW_URL")?),
    };
    if let Some(url) = optional("SERVICENOW_URL") {
        settings.base_url = url;
    }
    if let Some(table) = optional("SERVICENOW_TABLE") {
        settings.table = table;
    }
    let auth = match optional("SERVICENOW_CLIENT_ID") {
        Some(client_id) => ServiceNowAuth::OAuth {
            client_id,
            client_secret: required_secret("SERVICENOW_CLIENT_SECRET")?,
            user: optional("SERVICENOW_USER"),
        },
        None => ServiceNowAuth::Basic {
            user: var("SERVICENOW_USER")?,
            password: required_secret("SERVICENOW_PASSWORD")?,
        },
    };
    Ok((settings, auth))
}

/// What the ServiceNow table's state values mean: `SERVICENOW_SETTINGS`' `states`, or the incident
/// table's. The webhook function needs only these (not the credentials).
pub fn servicenow_states_from_env() -> Result<ServiceNowStates, WiringError> {
    let Some(json) = optional("SERVICENOW_SETTINGS") else {
        return Ok(ServiceNowStates::default());
    };
    let settings: ServiceNowSettings =
        serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "SERVICENOW_SETTINGS",
            why: e.to_string(),
        })?;
    settings
        .states
        .check()
        .map_err(|why| WiringError::Invalid {
            var: "SERVICENOW_SETTINGS",
            why,
        })?;
    Ok(settings.states)
}

/// Email settings, the SMTP server and its account from the environment:
/// `SCANTIX_EMAIL_SETTINGS` (JSON) or `SCANTIX_EMAIL_FROM` + `SCANTIX_EMAIL_TO`; `SMTP_HOST`,
/// `SMTP_PORT`, `SMTP_SECURITY`; `SMTP_USER` + `SMTP_PASSWORD` when the server wants an account.
pub fn email_from_env() -> Result<(EmailSettings, SmtpSettings, Option<SmtpAuth>), WiringError> {
    let settings = match optional("SCANTIX_EMAIL_SETTINGS") {
        Some(json) => serde_json::from_str(&json).map_err(|e| WiringError::Invalid {
            var: "SCANTIX_EMAIL_SETTINGS",
            why: e.to_string(),
        })?,
        None => EmailSettings::new(
            var("SCANTIX_EMAIL_FROM")?,
            var("SCANTIX_EMAIL_TO")?
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
    };
    let security = match optional("SMTP_SECURITY").as_deref().unwrap_or("starttls") {
        "starttls" => Security::Starttls,
        "tls" => Security::Tls,
        "none" => Security::None,
        other => {
            return Err(WiringError::Invalid {
                var: "SMTP_SECURITY",
                why: format!("`{other}`: expected starttls, tls or none"),
            });
        }
    };
    let port = optional("SMTP_PORT")
        .map(|p| {
            p.parse().map_err(|_| WiringError::Invalid {
                var: "SMTP_PORT",
                why: format!("`{p}` is not a port"),
            })
        })
        .transpose()?;
    let smtp = SmtpSettings {
        host: var("SMTP_HOST")?,
        port,
        security,
        timeout_secs: 15,
        ca_certificate: optional("SMTP_CA_CERTIFICATE_FILE")
            .map(|path| {
                std::fs::read_to_string(&path).map_err(|e| WiringError::Invalid {
                    var: "SMTP_CA_CERTIFICATE_FILE",
                    why: format!("`{path}`: {e}"),
                })
            })
            .transpose()?,
    };
    let auth = match optional("SMTP_USER") {
        Some(user) => Some(SmtpAuth {
            user,
            password: required_secret("SMTP_PASSWORD")?,
        }),
        None => None,
    };
    Ok((settings, smtp, auth))
}

/// The GitHub App's per-installation clients, when `GITHUB_APP_ID` is set.
pub fn github_clients_from_env() -> Result<Option<Arc<dyn GitHubClients>>, WiringError> {
    Ok(github_app_tokens_from_env()?
        .map(|tokens| Arc::new(AppClients::new(tokens)) as Arc<dyn GitHubClients>))
}

/// GitHub Issues as the tracker, acting as the GitHub App (or, for a local run without one, with
/// the token in `GITHUB_TOKEN`): in `SCANTIX_GITHUB_ISSUES_REPO` if set, else in each alert's
/// repository. Call it inside the Tokio runtime. (Its installation tokens are cached apart from
/// `github_clients_from_env`'s: one more token per installation and hour, and the two stay
/// independent of each other.)
pub fn github_issues_from_env() -> Result<GithubIssuesTracker, WiringError> {
    let auth = match github_app_tokens_from_env()? {
        Some(tokens) => IssuesAuth::App(tokens),
        None => match secret("GITHUB_TOKEN")? {
            Some(token) => IssuesAuth::Token {
                base_url: optional("GITHUB_API_URL")
                    .unwrap_or_else(|| "https://api.github.com".into()),
                token,
            },
            None => return Err(WiringError::Missing("GITHUB_APP_ID (or GITHUB_TOKEN)")),
        },
    };
    let repository = optional("SCANTIX_GITHUB_ISSUES_REPO");
    if let Some(repository) = &repository {
        RepoName::parse(repository).map_err(|why| WiringError::Invalid {
            var: "SCANTIX_GITHUB_ISSUES_REPO",
            why,
        })?;
    }
    let settings = GithubIssuesSettings {
        repository,
        ..GithubIssuesSettings::default()
    };
    Ok(GithubIssuesTracker::new(settings, auth)?)
}

/// The GitHub App's installation tokens, when `GITHUB_APP_ID` is set.
fn github_app_tokens_from_env() -> Result<Option<Arc<InstallationTokens>>, WiringError> {
    let Some(app_id) = optional("GITHUB_APP_ID") else {
        return Ok(None);
    };
    let app_id = app_id.parse().map_err(|_| WiringError::Invalid {
        var: "GITHUB_APP_ID",
        why: "not a number".into(),
    })?;
    let key = required_secret("GITHUB_APP_PRIVATE_KEY")?;
    let base = optional("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
    let tokens =
        InstallationTokens::new(&base, &AppCredentials::new(app_id, key)).map_err(|e| {
            WiringError::Invalid {
                var: "GITHUB_APP_PRIVATE_KEY",
                why: e.to_string(),
            }
        })?;
    Ok(Some(Arc::new(tokens)))
}

#[cfg(test)]
mod tests {
    use super::has_tracker;

    #[test]
    fn a_tracker_is_the_deployments_as_its_main_one_or_a_routes() {
        assert!(has_tracker(Some("servicenow"), None, "servicenow"));
        assert!(has_tracker(
            Some("jira"),
            Some("linear, servicenow"),
            "servicenow"
        ));
        assert!(!has_tracker(
            Some("jira"),
            Some("linear,email"),
            "servicenow"
        ));
        assert!(!has_tracker(None, Some(""), "servicenow"));
        // Whole names only.
        assert!(!has_tracker(
            Some("jira"),
            Some("servicenow-dev"),
            "servicenow"
        ));
    }
}
