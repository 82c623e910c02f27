//! What the email adapter is told: who gets which messages (`EmailSettings`, from
//! `SCANTIX_EMAIL_SETTINGS` or the `SCANTIX_EMAIL_*` variables) and how mail leaves
//! (`SmtpSettings`, with `SmtpAuth` kept apart so it is never serialised or logged).

use scantix_core::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a message can be about. A ticket's life has more events; these are the ones worth a
/// person's attention, and `EmailSettings::events` chooses among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailEvent {
    /// A group got its ticket: the thread's first message, with the whole ticket.
    Created,
    /// A closed ticket is open again (its alerts came back, or a closure was not confirmed).
    Reopened,
    /// Every finding is gone: someone should confirm and close it.
    Stale,
    /// Past its SLA due date with alerts still open.
    Overdue,
    /// Closed (fixed, or every alert dismissed).
    Resolved,
    /// Any other note scantix adds to a ticket (closure checks, dismissals).
    Comment,
}

/// Who gets which messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EmailSettings {
    /// The sender: `scantix <scantix@example.com>`.
    pub from: String,
    /// Who gets every repository's messages, unless `repositories` names the repository.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// `owner/name` → who gets that repository's messages (instead of `recipients`).
    #[serde(default)]
    pub repositories: BTreeMap<String, Vec<String>>,
    /// Also the ticket's owner, when the owners map names one by email address.
    #[serde(default = "yes")]
    pub mail_owners: bool,
    /// Which events send a message.
    #[serde(default = "default_events")]
    pub events: Vec<EmailEvent>,
    /// Starts every subject.
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// The domain of the `Message-ID`s (`<…@domain>`); unset: the sender's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id_domain: Option<String>,
    /// A daily digest instead of one message per event: the sweeper sends, once a day, one
    /// message per recipient list with the previous day's events (those `events` chooses).
    #[serde(default)]
    pub digest: bool,
}

impl EmailSettings {
    pub fn new(from: impl Into<String>, recipients: Vec<String>) -> EmailSettings {
        EmailSettings {
            from: from.into(),
            recipients,
            repositories: BTreeMap::new(),
            mail_owners: true,
            events: default_events(),
            subject_prefix: default_subject_prefix(),
            message_id_domain: None,
            digest: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// Created, reopened, stale and overdue: what asks someone to act.
fn default_events() -> Vec<EmailEvent> {
    vec![
        EmailEvent::Created,
        EmailEvent::Reopened,
        EmailEvent::Stale,
        EmailEvent::Overdue,
    ]
}

fn default_subject_prefix() -> String {
    "[scantix]".into()
}

/// How mail is handed over: an SMTP server (Amazon SES's SMTP interface in a deployment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// 587 with STARTTLS, 465 with TLS from the start, 25 or any port without (local only).
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// A certificate authority (PEM) the server's certificate may chain to besides the public
    /// ones: a relay with a private CA. With `starttls` or `tls` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
}

fn default_timeout_secs() -> u64 {
    15
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    /// Plain connection, then STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only to a server on this machine (tests, a local relay).
    None,
}

/// The SMTP account, when the server wants one. Never serialised; `Debug` shows no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpAuth {
    pub user: String,
    pub password: Secret,
}
