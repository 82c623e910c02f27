//! Ticket content written by an attacker, for the renderers' tests: every field that comes from an
//! alert tries to become markup, a link, a mention, a macro or a second line.

use scantix_core::finding::{AlertState, Severity};
use scantix_core::identity::GroupKey;
use scantix_core::ticket::{FindingLine, TicketContent};

pub const HOSTILE: &str = "[~admin] [click|javascript:alert(1)] {color:red}*bold*{color} \
    !https://evil.example/x.png! {noformat} h1. x \\{code} ??cite?? -strike- +u+ ^sup^ ~sub~ \
    | cell || # one @here (y) \\\\ http://evil.example mailto:a@b.c <script>x</script> \
    ** \u{202E}txt.exe\u{0}\u{1b}[31m\r\nsecond line";

/// Content with `findings` findings, all of it hostile.
pub fn hostile_content(findings: usize) -> TicketContent {
    TicketContent {
        priority_reason: Some(format!("critical — raised from high: {HOSTILE}")),
        group_key: GroupKey::from_stored("42/code-scanning/rule:CodeQL:js/xss \"quoted\" \\ back"),
        title: format!("XSS {HOSTILE}"),
        severity: Severity::High,
        labels: vec![
            "scantix".into(),
            "severity:high".into(),
            "code-scanning".into(),
            "with space".into(),
        ],
        summary: format!("h1. Summary {HOSTILE}"),
        facts: vec![
            ("Severity".into(), "high".into()),
            ("Repository".into(), format!("octo/repo {HOSTILE}")),
            (format!("bq. {HOSTILE}"), "x".into()),
        ],
        findings: (0..findings)
            .map(|i| FindingLine {
                number: i as u64 + 1,
                state: if i % 3 == 0 {
                    AlertState::Fixed
                } else {
                    AlertState::Open
                },
                severity: Severity::High,
                rule: format!("Reflected XSS {HOSTILE}"),
                place: format!("src/{HOSTILE}.js:{i}"),
                url: Some(if i % 2 == 0 {
                    format!(
                        "https://github.com/octo/repo/security/code-scanning/{}",
                        i + 1
                    )
                } else {
                    "javascript:alert(1)".into()
                }),
                flow: Some(format!("req.query → {HOSTILE}")),
                repository: Some(format!("octo/{HOSTILE}")),
            })
            .collect(),
        more_findings: 3,
        listing_url: Some("javascript:alert(1)".into()),
        description: Some(format!(
            "Description\n{{noformat}}\n{HOSTILE}\n{{NoFormat}}"
        )),
        guidance: Some(format!(
            "## Fix\n```\n{HOSTILE}\n```\n{{noformat}}{{code}}x"
        )),
        references: vec![
            "https://cwe.mitre.org/data/definitions/79.html".into(),
            "javascript:alert(1)".into(),
            "https://evil.example/a|b]".into(),
        ],
        verification: format!("Verified when fixed. {HOSTILE}"),
        due: Some(chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap_or_default()),
        assignee: Some("5b10a2844c20165700ede21g".into()),
        destination: Default::default(),
        repository: "octo/repo".into(),
    }
}
