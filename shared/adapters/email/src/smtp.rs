//! Handing a message to the SMTP server: `lettre`'s async transport over rustls, STARTTLS (or TLS
//! from the start) required unless the server is on this machine, with the account's credentials
//! when there are any. The server's refusals become what they mean: a 4xx reply or a lost
//! connection is worth trying later (the group's outbox keeps the op), a 5xx names the setting to
//! fix. Logs never carry the credentials or a message body.

use crate::message::Mail;
use crate::settings::{Security, SmtpAuth, SmtpSettings};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use scantix_core::ports::tracker::TrackerError;
use std::time::Duration;

pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn misconfigured(setting: &str, message: String) -> TrackerError {
    TrackerError::Misconfigured {
        setting: setting.into(),
        message,
    }
}

impl Smtp {
    pub fn new(
        settings: &SmtpSettings,
        auth: Option<SmtpAuth>,
        from: &str,
    ) -> Result<Smtp, TrackerError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| misconfigured("email.from", format!("`{from}`: {e}")))?;
        let host = settings.host.trim();
        let local = matches!(host, "localhost" | "127.0.0.1" | "::1");
        let builder = match settings.security {
            Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            // Credentials and alert text would cross the network in the clear.
            Security::None if !local => {
                return Err(misconfigured(
                    "smtp.security",
                    format!("`{host}` is not this machine: use starttls or tls"),
                ));
            }
            Security::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| misconfigured("smtp.host", format!("`{host}`: {e}")))?;
        let mut builder = builder.timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))));
        if let Some(pem) = &settings.ca_certificate {
            // lettre's parser reads text without a certificate as an empty list, not an error.
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(misconfigured(
                    "smtp.ca-certificate",
                    "no `-----BEGIN CERTIFICATE-----` block: give the authority's PEM".into(),
                ));
            }
            let refused = |e: lettre::transport::smtp::Error| {
                misconfigured(
                    "smtp.ca-certificate",
                    format!("not a usable PEM certificate: {e}"),
                )
            };
            let parameters = TlsParameters::builder(host.to_owned())
                .add_root_certificate(Certificate::from_pem(pem.as_bytes()).map_err(refused)?)
                .build()
                .map_err(refused)?;
            builder = builder.tls(match settings.security {
                Security::Starttls => Tls::Required(parameters),
                Security::Tls => Tls::Wrapper(parameters),
                Security::None => {
                    return Err(misconfigured(
                        "smtp.ca-certificate",
                        "a certificate is for `starttls` or `tls`, not `none`".into(),
                    ));
                }
            });
        }
        if let Some(port) = settings.port {
            builder = builder.port(port);
        }
        if let Some(auth) = auth {
            builder = builder.credentials(Credentials::new(
                auth.user,
                auth.password.expose().to_owned(),
            ));
        }
        Ok(Smtp {
            transport: builder.build(),
            from,
        })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), TrackerError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone())
            .message_id(Some(mail.message_id.clone()));
        for to in &mail.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|e| misconfigured("email.recipients", format!("`{to}`: {e}")))?;
            builder = builder.to(mailbox);
        }
        if let Some(root) = &mail.replies_to {
            builder = builder.in_reply_to(root.clone()).references(root.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| TrackerError::Failed(format!("building the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(misconfigured(
                "smtp",
                format!("the SMTP server refused the message: {e}"),
            )),
            Err(e) => Err(TrackerError::Retryable(format!("SMTP: {e}"))),
        }
    }
}
