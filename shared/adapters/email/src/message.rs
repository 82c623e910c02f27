//! What is mailed, decided without sending anything: the thread a group's messages belong to
//! (`Thread`, which the ticket's key names), each message's stable `Message-ID`, its recipients,
//! subject and its two parts. The text part is the ticket as plain text
//! (`scantix_core::ticket::plain`: alert text inert); the HTML part is that same text, escaped, in
//! a `<pre>`: no alert text becomes markup, no link but what a mail client makes of plain URLs.

use crate::settings::{EmailEvent, EmailSettings};
use scantix_core::identity::GroupKey;
use scantix_core::ticket::TicketContent;
use scantix_core::ticket::plain;
use std::fmt::Write;

/// The largest text part: a whole ticket with its findings fits easily.
pub const TEXT_LIMIT: usize = 60_000;

/// The thread of one group's messages: what the email "ticket" is. Its key (`TicketRef::key`)
/// is `<repository>!<group label>[!<owner address>]`, so that every later event knows where its
/// messages go without a store of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub repository: String,
    /// The group's digest label (`scantix-3f2a9c1b0d4e`).
    pub label: String,
    /// The owner's address, when the owners map named one.
    pub owner: Option<String>,
}

impl Thread {
    pub fn of(content: &TicketContent) -> Thread {
        Thread {
            repository: content.repository.trim().to_ascii_lowercase(),
            label: content.group_key.label(),
            owner: content.assignee.as_deref().and_then(address),
        }
    }

    pub fn key(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{}!{}!{owner}", self.repository, self.label),
            None => format!("{}!{}", self.repository, self.label),
        }
    }

    pub fn parse(key: &str) -> Result<Thread, String> {
        let mut parts = key.split('!');
        let (Some(repository), Some(label)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "`{}` is not an email ticket key",
                plain::cap(&plain::line(key), 80)
            ));
        };
        let owner = match parts.next() {
            Some(owner) => {
                Some(address(owner).ok_or_else(|| "the key's owner is not an address".to_owned())?)
            }
            None => None,
        };
        if parts.next().is_some() || !GroupKey::is_label(label) || repository.is_empty() {
            return Err(format!(
                "`{}` is not an email ticket key",
                plain::cap(&plain::line(key), 80)
            ));
        }
        Ok(Thread {
            repository: repository.to_owned(),
            label: label.to_owned(),
            owner,
        })
    }

    /// The first message's id: every later one replies to it.
    pub fn root_id(&self, domain: &str) -> String {
        format!("<{}@{domain}>", self.label)
    }

    /// The id of the message about `tag` (an event and its day, or a comment's id): the same
    /// (group, event) always gets the same id, so a message sent again after a lost answer is
    /// recognisably the same message.
    pub fn event_id(&self, tag: &str, domain: &str) -> String {
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(120)
            .collect();
        format!("<{}.{tag}@{domain}>", self.label)
    }

    /// Who gets the thread's messages: the repository's list (or everyone's), and the owner.
    pub fn recipients(&self, settings: &EmailSettings) -> Vec<String> {
        let listed = settings
            .repositories
            .iter()
            .find(|(repo, _)| repo.trim().eq_ignore_ascii_case(&self.repository))
            .map_or(&settings.recipients, |(_, list)| list);
        let mut to: Vec<String> = Vec::new();
        let owner = self.owner.iter().filter(|_| settings.mail_owners);
        for candidate in listed.iter().chain(owner) {
            let candidate = candidate.trim().to_owned();
            if !candidate.is_empty() && !to.iter().any(|t| t.eq_ignore_ascii_case(&candidate)) {
                to.push(candidate);
            }
        }
        to
    }
}

/// `text` if it is a plain address (`name@host.tld`), lowercased: what an owners map entry must be
/// to be mailed. Anything else (a login, a team, a display name) is not an address.
pub fn address(text: &str) -> Option<String> {
    let text = text.trim();
    let (local, domain) = text.split_once('@')?;
    let ok = (3..=254).contains(&text.len())
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"'!`".contains(c))
        && !domain.contains('@');
    ok.then(|| text.to_ascii_lowercase())
}

/// One message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub message_id: String,
    /// The thread's first message, which this one replies to (`In-Reply-To`, `References`).
    pub replies_to: Option<String>,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The thread's first message: the whole ticket.
pub fn created(
    thread: &Thread,
    content: &TicketContent,
    settings: &EmailSettings,
    domain: &str,
) -> Mail {
    let title = plain::cap(&plain::line(&content.title), 200);
    let text = plain::render_within(content, TEXT_LIMIT);
    let intro = format!(
        "scantix opened a ticket for {}.",
        plain::line(&thread.repository)
    );
    Mail {
        message_id: thread.root_id(domain),
        replies_to: None,
        to: thread.recipients(settings),
        subject: format!("{} {title}", plain::line(&settings.subject_prefix)),
        html: html(&intro, &text),
        text: format!("{intro}\n\n{text}\n"),
    }
}

/// A later message of the thread: `event`, saying `text`, with the id `tag` makes.
pub fn later(
    thread: &Thread,
    event: EmailEvent,
    text: &str,
    tag: &str,
    settings: &EmailSettings,
    domain: &str,
) -> Mail {
    let what = match event {
        EmailEvent::Created => "Ticket opened",
        EmailEvent::Reopened => "Ticket reopened",
        EmailEvent::Stale => "Every finding is gone: please confirm and close",
        EmailEvent::Overdue => "Ticket overdue",
        EmailEvent::Resolved => "Ticket closed",
        EmailEvent::Comment => "Ticket note",
    };
    let about = format!("{} ({})", plain::line(&thread.repository), thread.label);
    let body = plain::cap(&plain::block(text), TEXT_LIMIT);
    let intro = format!("{what}: {about}.");
    Mail {
        message_id: thread.event_id(tag, domain),
        replies_to: Some(thread.root_id(domain)),
        to: thread.recipients(settings),
        subject: format!("{} {what}: {about}", plain::line(&settings.subject_prefix)),
        html: html(&intro, &body),
        text: format!("{intro}\n\n{body}\n"),
    }
}

/// One line of a daily digest: an event of a thread, at a time, with what scantix recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestLine {
    pub at: chrono::DateTime<chrono::Utc>,
    pub event: EmailEvent,
    pub thread: Thread,
    /// Why, as the audit log says it (scantix's words, which may quote alert text).
    pub what: String,
}

/// The digest of `day` for the recipients `to`: one message, its id made from the day and the
/// recipients (so a digest sent again after a lost answer is the same message), not in a thread.
pub fn digest(
    day: chrono::NaiveDate,
    to: Vec<String>,
    lines: &[&DigestLine],
    settings: &EmailSettings,
    domain: &str,
) -> Mail {
    let mut text = String::new();
    for line in lines {
        let what = match line.event {
            EmailEvent::Created => "opened",
            EmailEvent::Reopened => "reopened",
            EmailEvent::Stale => "every finding gone, please confirm and close",
            EmailEvent::Overdue => "overdue",
            EmailEvent::Resolved => "closed",
            EmailEvent::Comment => "note",
        };
        let _ = writeln!(
            text,
            "- {} ({}): {what} at {} UTC. {}",
            plain::line(&line.thread.repository),
            line.thread.label,
            line.at.format("%H:%M"),
            plain::cap(&plain::line(&line.what), 300),
        );
    }
    let text = plain::cap(&text, TEXT_LIMIT);
    let intro = format!(
        "scantix: {} ticket event{} on {day}.",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" }
    );
    // The recipients, folded into the id: a stable, short digest of the sorted list.
    let mut sorted = to.clone();
    sorted.sort();
    let folded = sorted
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, address| {
            address.bytes().chain([b',']).fold(hash, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
        });
    Mail {
        message_id: format!("<digest.{}.{folded:016x}@{domain}>", day.format("%Y%m%d")),
        replies_to: None,
        to,
        subject: format!(
            "{} Daily digest for {day}: {} event{}",
            plain::line(&settings.subject_prefix),
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        ),
        html: html(&intro, &text),
        text: format!("{intro}\n\n{text}"),
    }
}

/// The HTML part: the intro and the text, escaped, the text kept as it is laid out.
fn html(intro: &str, text: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{}</p>\n<pre style=\"white-space: pre-wrap; font-family: monospace\">{}</pre>\n</body></html>\n",
        escape_html(intro),
        escape_html(text)
    )
}

/// Text made inert inside HTML elements and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The domain of the sender's address (`scantix <scantix@example.com>` → `example.com`).
pub fn sender_domain(from: &str) -> Option<String> {
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    let (_, domain) = address.trim().rsplit_once('@')?;
    let ok = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    ok.then(|| domain.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> TicketContent {
        let mut finding = scantix_core::testing::code_alert(7, "js/xss", "src/a.js");
        finding.rule.name = "XSS <img src=x onerror=alert(1)> [code]<b>x</b>[/code]".into();
        let mut content = scantix_core::testing::ticket_of(&[finding]).unwrap();
        content.title = "<script>alert('t')</script>\r\nBcc: evil@example.com".into();
        content.assignee = Some("Owner@Example.com".into());
        content
    }

    #[test]
    fn a_thread_is_named_by_its_key_and_ids_are_stable() {
        let content = hostile();
        let thread = Thread::of(&content);
        assert_eq!(thread.owner.as_deref(), Some("owner@example.com"));
        assert_eq!(Thread::parse(&thread.key()), Ok(thread.clone()));
        assert_eq!(
            thread.root_id("example.com"),
            format!("<{}@example.com>", content.group_key.label())
        );
        assert_eq!(
            thread.event_id("reopened.20261203", "example.com"),
            thread.event_id("reopened.20261203", "example.com")
        );
        assert_ne!(
            thread.event_id("stale.20261203", "x"),
            thread.event_id("reopened.20261203", "x")
        );
        assert!(
            thread
                .event_id("c.a b<c>@d", "x")
                .ends_with(".c.a-b-c--d@x>")
        );
        for bad in [
            "",
            "acme/shop",
            "acme/shop!not-a-label",
            "a!scantix-0123456789ab!x y@z.c",
        ] {
            assert!(Thread::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients_come_from_the_repository_or_everyone_and_the_owner() {
        let content = hostile();
        let thread = Thread::of(&content);
        let mut settings = EmailSettings::new(
            "scantix <scantix@example.com>",
            vec!["sec@example.com".into()],
        );
        assert_eq!(
            thread.recipients(&settings),
            ["sec@example.com", "owner@example.com"]
        );
        settings
            .repositories
            .insert("ACME/shop".into(), vec!["shop-team@example.com".into()]);
        settings.mail_owners = false;
        assert_eq!(thread.recipients(&settings), ["shop-team@example.com"]);
        for not_an_address in ["octocat", "@acme/appsec", "a@b", "x <a@b.c>"] {
            assert_eq!(address(not_an_address), None, "{not_an_address}");
        }
    }

    #[test]
    fn messages_are_inert_and_threaded() {
        let content = hostile();
        let thread = Thread::of(&content);
        let settings = EmailSettings::new(
            "scantix <scantix@example.com>",
            vec!["sec@example.com".into()],
        );
        let first = created(&thread, &content, &settings, "example.com");
        assert!(!first.subject.contains('\n') && !first.subject.contains('\r'));
        assert!(
            first.subject.starts_with("[scantix] <script>"),
            "plain text, as is: {}",
            first.subject
        );
        assert!(
            !first.html.contains("<script>") && !first.html.contains("<img"),
            "{}",
            first.html
        );
        assert!(first.html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(first.text.contains("Findings (1):"));
        assert_eq!(first.replies_to, None);
        let next = later(
            &thread,
            EmailEvent::Overdue,
            "Overdue: <b>late</b>",
            "c.x-1",
            &settings,
            "example.com",
        );
        assert_eq!(next.replies_to, Some(first.message_id.clone()));
        assert!(next.html.contains("Overdue: &lt;b&gt;late&lt;/b&gt;"));
        assert_eq!(
            sender_domain("scantix <scantix@Example.com>").as_deref(),
            Some("example.com")
        );
        assert_eq!(sender_domain("nobody"), None);
    }
}
