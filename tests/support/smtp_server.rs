//! A real SMTP server for the email tests: aiosmtpd (PyPI, installed by `scripts/with-aiosmtpd.sh`,
//! whose python `SCANTIX_TEST_SMTP_PYTHON` names) on a free local port, storing every message it
//! accepts in a Maildir. [`SmtpServer::messages`] reads them back with Python's own `email` parser,
//! so headers are decoded (RFC 2047) and parts are taken out of their transfer encodings as any
//! mail client would. The server is stopped when dropped.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the python that has aiosmtpd.
pub const PYTHON_VARIABLE: &str = "SCANTIX_TEST_SMTP_PYTHON";

/// Reads the Maildir in argv[1]: a JSON list of messages, oldest first.
const READER: &str = r#"
import email, email.policy, json, os, sys
root = os.path.join(sys.argv[1], "new")
names = sorted(os.listdir(root), key=lambda n: (os.path.getmtime(os.path.join(root, n)), n))
out = []
for name in names:
    with open(os.path.join(root, name), "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = part.get_content()
    headers = {k.lower(): str(v) for k, v in msg.items()}
    out.append({"headers": headers, "content_type": msg.get_content_type(), "parts": parts,
                "raw": raw.decode("utf-8", "replace")})
print(json.dumps(out))
"#;

/// aiosmtpd with STARTTLS required and SMTP AUTH required after it (aiosmtpd's defaults once
/// given a TLS context and an authenticator): argv is the Maildir, the port, the certificate and
/// key files, the user and the password.
const SECURE: &str = r#"
import ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
maildir, port, cert, key, user, password = sys.argv[1:7]
def authenticate(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
    # `handled=False`: aiosmtpd answers (235 or 535) itself.
    return AuthResult(success=ok, handled=False)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=context,
                        require_starttls=True, authenticator=authenticate, auth_required=True)
controller.start()
threading.Event().wait()
"#;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    python: String,
    /// With [`SmtpServer::start_secure`]: the PEM of the test certificate authority that signed
    /// the server's certificate.
    pub ca_pem: Option<String>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
        let _ = std::fs::remove_dir_all(self.maildir.with_extension("tls"));
    }
}

impl SmtpServer {
    /// Starts aiosmtpd and waits until it takes connections.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(|command, maildir, port| {
            command
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(maildir);
            None
        })
    }

    /// Starts aiosmtpd requiring STARTTLS, then SMTP AUTH as `user` with `password`. Its
    /// certificate (for `127.0.0.1`) is made now with `openssl`, signed by a certificate authority
    /// made now too, whose PEM is `ca_pem`: what a client must be told to trust.
    pub fn start_secure(user: &str, password: &str) -> SmtpServer {
        SmtpServer::start_with(|command, maildir, port| {
            let dir = maildir.with_extension("tls");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("a directory for the certificates");
            let openssl = |args: &[&str]| {
                let status = Command::new("openssl")
                    .args(args)
                    .current_dir(&dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("running openssl");
                assert!(status.success(), "openssl {args:?}");
            };
            std::fs::write(
                dir.join("san.ext"),
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
            )
            .expect("the extension file");
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=scantix test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ]);
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "san.ext",
                "-out",
                "server.pem",
            ]);
            command
                .args(["-c", SECURE])
                .arg(maildir)
                .arg(port.to_string())
                .arg(dir.join("server.pem"))
                .arg(dir.join("server.key"))
                .args([user, password]);
            Some(std::fs::read_to_string(dir.join("ca.pem")).expect("the CA certificate"))
        })
    }

    /// Starts the python `command` makes (given the Maildir and the port), and waits until it
    /// takes connections.
    fn start_with(
        command: impl FnOnce(&mut Command, &std::path::Path, u16) -> Option<String>,
    ) -> SmtpServer {
        let python = std::env::var(PYTHON_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{PYTHON_VARIABLE} is not set: run the email tests through scripts/with-aiosmtpd.sh \
                 (scripts/test.sh does), which installs aiosmtpd and names its python"
            )
        });
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let maildir =
            std::env::temp_dir().join(format!("scantix-smtp-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        let mut child = Command::new(&python);
        let ca_pem = command(&mut child, &maildir, port);
        let child = child
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting aiosmtpd with {python}: {e}"));
        let server = SmtpServer {
            child,
            port,
            maildir,
            python,
            ca_pem,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Every message received so far, oldest first: `headers` (lowercase names, decoded),
    /// `content_type`, `parts` (content type → decoded text) and `raw`.
    pub fn messages(&self) -> Vec<Value> {
        if !self.maildir.join("new").exists() {
            return Vec::new();
        }
        let output = Command::new(&self.python)
            .args(["-c", READER])
            .arg(&self.maildir)
            .output()
            .expect("running the Maildir reader");
        assert!(
            output.status.success(),
            "reading the Maildir failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the reader prints JSON")
    }
}
