//! The email adapter: the `Tracker` port as mail, outbound only. A group's "ticket" is a thread:
//! its first message (the whole ticket) when the ticket is created, then one reply per event
//! worth a person's attention (reopened, stale, overdue by default; resolved and other notes if
//! chosen), to the repository's list (or everyone's) and the owner, over SMTP (`lettre`, rustls;
//! Amazon SES's SMTP interface in a deployment).
//!
//! What "one ticket per group" means here: one thread per group, whose messages carry ids made
//! from the group and the event (`message::Thread`), never random. Mail cannot be looked up, so
//! `find_by_group_key` finds nothing and a create retried after a lost answer sends the first
//! message again *with the same `Message-ID`*: a repeat the receiving side recognises (mail
//! clients and archives show one message per id), never a second thread. An event is one message
//! per (group, event, day) for moves, and per comment id for notes.
//!
//! With `digest` set, no event sends a message of its own: the sweeper sends, once a day, one
//! message per recipient list with the previous day's events (`EmailTracker::send_digest`, from
//! the audit log), and the threads are never begun.
//!
//! Nothing comes back: no webhook, so no echoes; `own_accounts` is nobody. Refreshes (a finding
//! joined) send nothing: the thread is not a ticket to keep current.
//!
//! # Layout
//! - [`settings`]: `EmailSettings` (recipients, events), `SmtpSettings`, `SmtpAuth` (never
//!   serialised).
//! - [`message`]: threads, ids, recipients and the two parts, decided without sending.
//! - `smtp`: handing a message to the SMTP server, and its refusals → `TrackerError`.

pub mod message;
pub mod settings;
mod smtp;

pub use settings::{EmailEvent, EmailSettings, Security, SmtpAuth, SmtpSettings};

use async_trait::async_trait;
use message::{Mail, Thread};
use scantix_core::decide::alert::OVERDUE_PREFIX;
use scantix_core::identity::GroupKey;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::{TicketRef, TicketState};
use scantix_core::ticket::TicketContent;

/// `TicketRef::tracker` of email threads.
pub const TRACKER_NAME: &str = "email";

/// Tickets as email threads.
pub struct EmailTracker {
    settings: EmailSettings,
    /// The domain of every `Message-ID`.
    domain: String,
    smtp: smtp::Smtp,
}

impl std::fmt::Debug for EmailTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTracker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EmailTracker {
    /// Checks the settings and builds the SMTP transport (once: it pools connections).
    pub fn new(
        settings: EmailSettings,
        smtp: SmtpSettings,
        auth: Option<SmtpAuth>,
    ) -> Result<EmailTracker, TrackerError> {
        let misconfigured = |setting: &str, message: String| TrackerError::Misconfigured {
            setting: setting.into(),
            message,
        };
        let domain = match &settings.message_id_domain {
            Some(domain) => domain.trim().to_ascii_lowercase(),
            None => message::sender_domain(&settings.from).ok_or_else(|| {
                misconfigured(
                    "email.from",
                    format!("`{}` has no address to take a domain from", settings.from),
                )
            })?,
        };
        if domain.is_empty()
            || !domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(misconfigured(
                "email.message-id-domain",
                format!("`{domain}` is not a domain"),
            ));
        }
        let mut addresses: Vec<&String> = settings.recipients.iter().collect();
        addresses.extend(settings.repositories.values().flatten());
        if let Some(bad) = addresses.iter().find(|a| message::address(a).is_none()) {
            return Err(misconfigured(
                "email.recipients",
                format!("`{bad}` is not an address (name@host.tld)"),
            ));
        }
        if settings.recipients.is_empty()
            && settings.repositories.is_empty()
            && !settings.mail_owners
        {
            return Err(misconfigured(
                "email.recipients",
                "nobody would get any message: name recipients, repositories or mail owners".into(),
            ));
        }
        let smtp = smtp::Smtp::new(&smtp, auth, &settings.from)?;
        Ok(EmailTracker {
            settings,
            domain,
            smtp,
        })
    }

    /// Whether `event` sends a message now: never in digest mode, where the sweeper's daily
    /// digest reports it instead.
    fn wants(&self, event: EmailEvent) -> bool {
        !self.settings.digest && self.settings.events.contains(&event)
    }

    /// Whether the settings ask for a daily digest instead of a message per event.
    pub fn is_digest(&self) -> bool {
        self.settings.digest
    }

    /// Sends `day`'s digest of `lines` (the events `events` chooses; others are left out): one
    /// message per recipient list, each line to the recipients of its thread. Returns how many
    /// messages went out (none when no line is wanted). Sending a day again sends the same
    /// messages under the same ids.
    pub async fn send_digest(
        &self,
        day: chrono::NaiveDate,
        lines: &[message::DigestLine],
    ) -> Result<usize, TrackerError> {
        let mut lists: Vec<(Vec<String>, Vec<&message::DigestLine>)> = Vec::new();
        for line in lines {
            if !self.settings.events.contains(&line.event) {
                continue;
            }
            let mut to = line.thread.recipients(&self.settings);
            to.sort();
            if to.is_empty() {
                continue;
            }
            match lists.iter_mut().find(|(list, _)| *list == to) {
                Some((_, members)) => members.push(line),
                None => lists.push((to, vec![line])),
            }
        }
        let mut sent = 0;
        for (to, members) in lists {
            let mail = message::digest(day, to, &members, &self.settings, &self.domain);
            self.send(mail).await?;
            sent += 1;
        }
        Ok(sent)
    }

    async fn send(&self, mail: Mail) -> Result<(), TrackerError> {
        if mail.to.is_empty() {
            tracing::warn!(message_id = %mail.message_id, "no recipient for this thread; nothing sent");
            return Ok(());
        }
        self.smtp.send(&mail).await?;
        tracing::info!(message_id = %mail.message_id, recipients = mail.to.len(), "email sent");
        Ok(())
    }

    /// A move's message, if the event is wanted: one per (group, event, day).
    async fn moved(
        &self,
        ticket: &TicketRef,
        event: EmailEvent,
        text: &str,
    ) -> Result<(), TrackerError> {
        if !self.wants(event) {
            return Ok(());
        }
        let thread = Thread::parse(&ticket.key).map_err(TrackerError::Failed)?;
        let day = chrono::Utc::now().format("%Y%m%d");
        let tag = format!("{}.{day}", event_name(event));
        let mail = message::later(&thread, event, text, &tag, &self.settings, &self.domain);
        self.send(mail).await
    }
}

fn event_name(event: EmailEvent) -> &'static str {
    match event {
        EmailEvent::Created => "created",
        EmailEvent::Reopened => "reopened",
        EmailEvent::Stale => "stale",
        EmailEvent::Overdue => "overdue",
        EmailEvent::Resolved => "resolved",
        EmailEvent::Comment => "comment",
    }
}

#[async_trait]
impl Tracker for EmailTracker {
    fn name(&self) -> &str {
        TRACKER_NAME
    }

    /// Mail cannot be looked up: see the module doc for what a retried create does instead.
    async fn find_by_group_key(&self, _key: &GroupKey) -> Result<Option<TicketRef>, TrackerError> {
        Ok(None)
    }

    async fn create(
        &self,
        content: &TicketContent,
    ) -> Result<(TicketRef, TicketState), TrackerError> {
        let thread = Thread::of(content);
        if self.wants(EmailEvent::Created) {
            let mail = message::created(&thread, content, &self.settings, &self.domain);
            self.send(mail).await?;
        }
        Ok((
            TicketRef {
                tracker: TRACKER_NAME.into(),
                key: thread.key(),
                url: None,
            },
            TicketState::Open,
        ))
    }

    async fn update(
        &self,
        _ticket: &TicketRef,
        _content: &TicketContent,
    ) -> Result<(), TrackerError> {
        Ok(())
    }

    /// Overdue notes go as "overdue" messages, the rest as "comment" ones; each once per id.
    async fn comment(
        &self,
        ticket: &TicketRef,
        comment_id: &str,
        text: &str,
    ) -> Result<(), TrackerError> {
        let event = if text.starts_with(OVERDUE_PREFIX) {
            EmailEvent::Overdue
        } else {
            EmailEvent::Comment
        };
        if !self.wants(event) {
            return Ok(());
        }
        let thread = Thread::parse(&ticket.key).map_err(TrackerError::Failed)?;
        let mail = message::later(
            &thread,
            event,
            text,
            &format!("c.{comment_id}"),
            &self.settings,
            &self.domain,
        );
        self.send(mail).await
    }

    async fn transition(&self, ticket: &TicketRef, to: TicketState) -> Result<(), TrackerError> {
        match to {
            TicketState::Reopened => {
                self.moved(ticket, EmailEvent::Reopened, "The ticket is open again: its alerts are open in GitHub.")
                    .await
            }
            TicketState::Stale => {
                self.moved(
                    ticket,
                    EmailEvent::Stale,
                    "GitHub reports every finding of this ticket fixed or closed. Please confirm and close it.",
                )
                .await
            }
            TicketState::Resolved => {
                self.moved(ticket, EmailEvent::Resolved, "The ticket is closed: its alerts are fixed.")
                    .await
            }
            TicketState::Open | TicketState::InProgress | TicketState::Draft => Ok(()),
        }
    }

    async fn close_not_planned(&self, ticket: &TicketRef) -> Result<(), TrackerError> {
        self.moved(
            ticket,
            EmailEvent::Resolved,
            "The ticket is closed as not planned: every alert on it was dismissed.",
        )
        .await
    }
}
