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

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
    python: String,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}

impl SmtpServer {
    /// Starts aiosmtpd and waits until it takes connections.
    pub fn start() -> SmtpServer {
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
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting aiosmtpd with {python}: {e}"));
        let server = SmtpServer {
            child,
            port,
            maildir,
            python,
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
