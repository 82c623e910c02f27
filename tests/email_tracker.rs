//! The email adapter against a real SMTP server (aiosmtpd, started per test; see
//! `support/smtp_server.rs`), reading back what was delivered: headers, threading, both parts,
//! the escaping of hostile alert text, which events send a message, and that a create retried
//! after a lost answer sends the same message again (same `Message-ID`), never a second thread.
//! Then the same through the executor, from a real GitHub delivery; STARTTLS and SMTP AUTH
//! against aiosmtpd requiring both (a certificate authority and server certificate made with
//! `openssl` at test time); and the daily digest, which the sweeper sends once per day.

use github_webhook::handle;
use scantix_app::execute::Executor;
use scantix_app::ingest::GithubIngest;
use scantix_core::config::Config;
use scantix_core::memory::github::MemoryGitHub;
use scantix_core::memory::store::MemoryStore;
use scantix_core::ports::tracker::{Tracker, TrackerError};
use scantix_core::records::TicketState;
use scantix_core::secret::Secret;
use scantix_core::ticket::TicketContent;
use scantix_email::{EmailEvent, EmailSettings, EmailTracker, Security, SmtpAuth, SmtpSettings};
use scantix_tests::smtp_server::SmtpServer;
use scantix_tests::webhooks::{SECRET, delivery_request, octokit};
use serde_json::Value;
use std::sync::Arc;

fn smtp(server: &SmtpServer) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(server.port),
        security: Security::None,
        timeout_secs: 5,
        ca_certificate: None,
    }
}

fn settings() -> EmailSettings {
    EmailSettings::new(
        "scantix <scantix@example.com>",
        vec!["security@example.com".into()],
    )
}

fn tracker(server: &SmtpServer, settings: EmailSettings) -> EmailTracker {
    EmailTracker::new(settings, smtp(server), None).expect("valid settings")
}

/// A group whose alert text tries to be HTML, to inject a header, and to mention.
fn hostile() -> TicketContent {
    let mut finding = scantix_core::testing::code_alert(7, "js/xss", "src/a.js");
    finding.rule.name = "XSS <img src=x onerror=alert(1)> @here".into();
    let mut content = scantix_core::testing::ticket_of(&[finding]).unwrap();
    content.title = "<script>alert('t')</script>\r\nBcc: evil@example.net".into();
    content.assignee = Some("Owner@Example.com".into());
    content
}

fn header<'a>(message: &'a Value, name: &str) -> &'a str {
    message["headers"][name].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_created_ticket_is_one_inert_message_with_both_parts() {
    let server = SmtpServer::start();
    let tracker = tracker(&server, settings());
    let content = hostile();

    let (ticket, state) = tracker.create(&content).await.unwrap();

    assert_eq!(
        (ticket.tracker.as_str(), state),
        ("email", TicketState::Open)
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let m = &messages[0];
    assert_eq!(
        header(m, "message-id"),
        format!("<{}@example.com>", content.group_key.label())
    );
    assert_eq!(header(m, "from"), "scantix <scantix@example.com>");
    assert!(header(m, "to").contains("security@example.com"));
    assert!(
        header(m, "to").contains("owner@example.com"),
        "the owner too"
    );
    assert!(
        m["headers"].get("bcc").is_none(),
        "no header injected: {m:#?}"
    );
    let subject = header(m, "subject");
    assert!(
        subject.starts_with("[scantix] <script>alert('t')</script> Bcc:"),
        "{subject:?}"
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    let text = m["parts"]["text/plain"].as_str().unwrap();
    let html = m["parts"]["text/html"].as_str().unwrap();
    assert!(text.contains("Findings (1):") && text.contains("XSS <img src=x onerror=alert(1)>"));
    assert!(
        !html.contains("<img") && !html.contains("<script"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(text.contains(&format!("scantix group: {}", content.group_key)));
}

#[tokio::test]
async fn a_retried_create_sends_the_same_message_again_and_events_thread_under_it() {
    let server = SmtpServer::start();
    let tracker = tracker(&server, settings());
    let content = hostile();
    let (ticket, _) = tracker.create(&content).await.unwrap();
    let (again, _) = tracker.create(&content).await.unwrap();
    assert_eq!(again, ticket, "the same thread");

    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    tracker
        .transition(&ticket, TicketState::Stale)
        .await
        .unwrap();
    tracker
        .transition(&ticket, TicketState::InProgress)
        .await
        .unwrap();
    tracker
        .transition(&ticket, TicketState::Resolved)
        .await
        .unwrap();
    tracker.update(&ticket, &content).await.unwrap();
    tracker
        .comment(
            &ticket,
            "scantix-x-9",
            "Overdue: this high ticket was due <b>yesterday</b>.",
        )
        .await
        .unwrap();
    tracker
        .comment(
            &ticket,
            "scantix-x-10",
            "Closure rejected: 2 alerts still open.",
        )
        .await
        .unwrap();

    let messages = server.messages();
    let ids: Vec<&str> = messages.iter().map(|m| header(m, "message-id")).collect();
    let root = format!("<{}@example.com>", content.group_key.label());
    assert_eq!(
        ids.len(),
        5,
        "created twice, reopened, stale, overdue: {ids:?}"
    );
    assert_eq!(
        (ids[0], ids[1]),
        (root.as_str(), root.as_str()),
        "a repeat is the same message"
    );
    let events: Vec<&Value> = messages[2..].iter().collect();
    for m in &events {
        assert_eq!(header(m, "in-reply-to"), root, "{m:#?}");
        assert_eq!(header(m, "references"), root);
    }
    assert!(header(events[0], "subject").contains("Ticket reopened"));
    assert!(header(events[1], "subject").contains("please confirm and close"));
    let overdue = events[2];
    assert!(header(overdue, "subject").contains("Ticket overdue"));
    assert!(header(overdue, "message-id").contains(".c.scantix-x-9@example.com"));
    let html = overdue["parts"]["text/html"].as_str().unwrap();
    assert!(html.contains("&lt;b&gt;yesterday&lt;/b&gt;"), "{html}");
}

#[tokio::test]
async fn recipients_and_events_follow_the_settings() {
    let server = SmtpServer::start();
    let mut chosen = settings();
    chosen.mail_owners = false;
    chosen.events = vec![EmailEvent::Created, EmailEvent::Resolved];
    chosen
        .repositories
        .insert("acme/shop".into(), vec!["shop-team@example.com".into()]);
    let tracker = tracker(&server, chosen);
    let (ticket, _) = tracker.create(&hostile()).await.unwrap();
    tracker
        .transition(&ticket, TicketState::Reopened)
        .await
        .unwrap();
    tracker.close_not_planned(&ticket).await.unwrap();

    let messages = server.messages();
    assert_eq!(messages.len(), 2, "created and resolved only");
    for m in &messages {
        assert_eq!(header(m, "to"), "shop-team@example.com", "{m:#?}");
    }
    assert!(
        messages[1]["parts"]["text/plain"]
            .as_str()
            .unwrap()
            .contains("not planned")
    );

    // Settings that cannot work are refused up front, naming what to fix.
    let setting_of = |r: Result<EmailTracker, TrackerError>| match r {
        Err(TrackerError::Misconfigured { setting, .. }) => setting,
        other => panic!("{other:?}"),
    };
    let mut bad = settings();
    bad.recipients = vec!["not an address".into()];
    assert_eq!(
        setting_of(EmailTracker::new(bad, smtp(&server), None)),
        "email.recipients"
    );
    let mut remote = smtp(&server);
    remote.host = "smtp.example.com".into();
    assert_eq!(
        setting_of(EmailTracker::new(settings(), remote, None)),
        "smtp.security"
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_worth_trying_later() {
    let server = SmtpServer::start();
    let settings_for_down = smtp(&server);
    drop(server);
    let tracker = EmailTracker::new(settings(), settings_for_down, None).unwrap();
    let err = tracker.create(&hostile()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_github_alert_becomes_a_message_through_the_executor() {
    let server = SmtpServer::start();
    let store = Arc::new(MemoryStore::new());
    let executor = Executor::new(
        store,
        Arc::new(tracker(&server, settings())),
        Config::default(),
    )
    .with_github(Arc::new(MemoryGitHub::new()));
    let ingest = GithubIngest::new(Secret::new(SECRET), Arc::new(executor));
    let body = octokit("code_scanning_alert/created.payload.json");

    let response = handle(
        &ingest,
        delivery_request("code_scanning_alert", "gh-1", &body, None),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let again = handle(
        &ingest,
        delivery_request("code_scanning_alert", "gh-1", &body, None),
    )
    .await
    .unwrap();
    assert_eq!(again.status().as_u16(), 200);

    let messages = server.messages();
    assert_eq!(
        messages.len(),
        1,
        "a redelivery sends nothing: {messages:#?}"
    );
    assert!(header(&messages[0], "subject").starts_with("[scantix] "));
    assert!(
        messages[0]["parts"]["text/plain"]
            .as_str()
            .unwrap()
            .contains("Findings (1):")
    );
}

#[tokio::test]
async fn starttls_and_smtp_auth_are_used_and_required() {
    let server = SmtpServer::start_secure("scantix", "smtp-secret");
    let secure = SmtpSettings {
        security: Security::Starttls,
        ca_certificate: server.ca_pem.clone(),
        ..smtp(&server)
    };
    let account = |password: &str| SmtpAuth {
        user: "scantix".into(),
        password: Secret::new(password),
    };

    // STARTTLS to the server's certificate (checked against the test CA), then AUTH: delivered.
    let tracker = EmailTracker::new(settings(), secure.clone(), Some(account("smtp-secret")))
        .expect("valid settings");
    tracker.create(&hostile()).await.unwrap();
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert!(header(&messages[0], "subject").starts_with("[scantix] "));

    // A wrong password is refused for good, naming nothing secret.
    let wrong = EmailTracker::new(settings(), secure.clone(), Some(account("guessed")))
        .unwrap()
        .create(&hostile())
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, TrackerError::Misconfigured { setting, .. } if setting == "smtp"),
        "{wrong}"
    );
    assert!(!wrong.to_string().contains("guessed"), "{wrong}");
    // Without AUTH, and without STARTTLS, the server takes nothing.
    let anonymous = EmailTracker::new(settings(), secure.clone(), None)
        .unwrap()
        .create(&hostile())
        .await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let plain = EmailTracker::new(settings(), smtp(&server), Some(account("smtp-secret")))
        .unwrap()
        .create(&hostile())
        .await;
    assert!(plain.is_err(), "{plain:?}");
    // A certificate nothing vouches for (the public roots only) is not talked to.
    let untrusted = SmtpSettings {
        ca_certificate: None,
        ..secure.clone()
    };
    let refused = EmailTracker::new(settings(), untrusted, Some(account("smtp-secret")))
        .unwrap()
        .create(&hostile())
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(server.messages().len(), 1, "nothing else was delivered");

    // A certificate setting that is not PEM names its setting.
    let garbled = SmtpSettings {
        ca_certificate: Some("not a certificate".into()),
        ..secure
    };
    match EmailTracker::new(settings(), garbled, None) {
        Err(TrackerError::Misconfigured { setting, .. }) => {
            assert_eq!(setting, "smtp.ca-certificate")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn with_a_digest_events_send_nothing_and_the_sweeper_mails_the_day_once() {
    use scantix_app::sweep::Sweeper;
    use scantix_app::sync::Syncer;
    use scantix_core::chrono::{Duration, Utc};
    use scantix_core::ports::github_clients::OneClient;

    let server = SmtpServer::start();
    let mut digest = settings();
    digest.digest = true;
    digest.mail_owners = false;
    let store = Arc::new(MemoryStore::new());
    let executor = Arc::new(
        Executor::new(
            store,
            Arc::new(tracker(&server, digest.clone())),
            Config::default(),
        )
        .with_github(Arc::new(MemoryGitHub::new())),
    );
    let ingest = GithubIngest::new(Secret::new(SECRET), executor.clone());
    for (delivery, body) in [
        ("gh-1", octokit("code_scanning_alert/created.payload.json")),
        (
            "gh-2",
            scantix_tests::webhooks::varied(
                &octokit("code_scanning_alert/created.payload.json"),
                &[
                    ("alert.number", serde_json::json!(5)),
                    ("alert.rule.id", serde_json::json!("js/another-rule")),
                ],
            ),
        ),
    ] {
        let response = handle(
            &ingest,
            delivery_request("code_scanning_alert", delivery, &body, None),
        )
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    assert!(
        server.messages().is_empty(),
        "no message per event in digest mode"
    );

    // The first sweep of the next day mails yesterday's two new tickets, in one message.
    let sweeper = Sweeper::new(
        executor.clone(),
        Syncer::new(executor, Arc::new(scantix_core::decide::triage::builtin)),
        Arc::new(OneClient(Arc::new(MemoryGitHub::new()))),
    )
    .with_digest(Arc::new(scantix_wiring::EmailDigest(tracker(
        &server, digest,
    ))));
    let today = Utc::now();
    let report = sweeper.sweep(today + Duration::days(1)).await.unwrap();
    assert_eq!(report.digest_messages, 1, "{report:?}");
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let day = today.date_naive().to_string();
    assert_eq!(
        header(&messages[0], "subject"),
        format!("[scantix] Daily digest for {day}: 2 events")
    );
    assert!(
        header(&messages[0], "message-id")
            .starts_with(&format!("<digest.{}.", today.format("%Y%m%d")))
    );
    assert!(header(&messages[0], "to").contains("security@example.com"));
    assert!(messages[0]["headers"].get("in-reply-to").is_none());
    let text = messages[0]["parts"]["text/plain"].as_str().unwrap();
    assert_eq!(text.matches(": opened at ").count(), 2, "{text}");
    assert!(text.contains("created in email"), "{text}");

    // Later sweeps that day send nothing more.
    let again = sweeper
        .sweep(today + Duration::days(1) + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(again.digest_messages, 0);
    assert_eq!(server.messages().len(), 1);
}
