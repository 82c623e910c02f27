//! The ticket renderers: Markdown (GitHub Issues), plain text (ServiceNow, email), Jira's ADF
//! (Cloud) and wiki markup (Data Center), for ticket content whose every alert-derived field is
//! the fuzzer's. Texts can be repeated many times over, so the size limits are reached with short
//! inputs. The properties (what "well-formed and inert" means for each markup):
//! - Markdown, read back by a CommonMark/GFM parser: no HTML but scantix's group marker, no image,
//!   links only to the https URLs given, no math or footnotes, headings only scantix's own, every
//!   `@` and `#` in text defused, one two-column table row per fact, at most one task per finding,
//!   and `render_within` keeps its limit.
//! - ADF: a `doc` of version 1 whose every node is one of the types scantix writes, in the place
//!   ADF allows it, text nodes non-empty and free of control characters, marks only scantix's,
//!   links only to the https URLs given; and at most Jira's field limit once serialised.
//! - Wiki markup: exactly the `{noformat}` delimiters scantix writes, headings and table rows only
//!   scantix's, every `[` a link of scantix's to a given https URL, no live macro, no bare URL, no
//!   control character; and at most Jira's field limit.
//! - Plain text: no control characters but line breaks, and `render_within` keeps its limit.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, TextMergeStream};
use scantix_core::finding::{AlertState, Severity};
use scantix_core::identity::GroupKey;
use scantix_core::ticket::markdown::{self, is_bidi_control};
use scantix_core::ticket::{FindingLine, TicketContent, plain};
use scantix_jira::{adf, wiki};
use serde_json::Value;
use std::collections::BTreeSet;

/// Jira's limit on a text field, in characters (`scantix_jira::text::FIELD_LIMIT`, private).
const JIRA_FIELD_LIMIT: usize = 32_767;
/// GitHub's limit on an issue body.
const GITHUB_BODY_LIMIT: usize = 65_536;

/// A text from the fuzzer, repeated up to 16 times (so long texts cost few input bytes).
#[derive(Arbitrary, Debug)]
struct Text {
    text: String,
    repeat: u8,
}

impl Text {
    fn get(&self) -> String {
        self.text.repeat(1 + usize::from(self.repeat % 16))
    }
}

/// A URL from the fuzzer: usually `https://` and a repeated tail, sometimes anything at all.
#[derive(Arbitrary, Debug)]
struct Url {
    https: bool,
    tail: Text,
}

impl Url {
    fn get(&self) -> String {
        if self.https {
            format!("https://{}", self.tail.get())
        } else {
            self.tail.get()
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Line {
    number: u64,
    state: u8,
    severity: u8,
    rule: Text,
    place: Text,
    url: Option<Url>,
    flow: Option<Text>,
    repository: Option<Text>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    group_key: String,
    title: Text,
    summary: Text,
    facts: Vec<(Text, Text)>,
    findings: Vec<Line>,
    /// The same finding line this many times more (up to 31: the anatomy lists at most
    /// `LISTED_FINDINGS`, and counts the rest in `more_findings`).
    copies: u8,
    more_findings: u16,
    listing_url: Option<Url>,
    description: Option<Text>,
    guidance: Option<Text>,
    references: Vec<Url>,
    verification: Text,
    /// Why the priority is what it is (a policy's reason: text a repository writes).
    priority_reason: Option<Text>,
    assignee: Option<String>,
    comment: Text,
    limit: u16,
}

fn severity(n: u8) -> Severity {
    [
        Severity::Unknown,
        Severity::Note,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ][usize::from(n) % 6]
}

fn state(n: u8) -> AlertState {
    [AlertState::Open, AlertState::Fixed, AlertState::Dismissed][usize::from(n) % 3]
}

fn content(input: &Input) -> TicketContent {
    let mut findings: Vec<FindingLine> = input
        .findings
        .iter()
        .map(|l| FindingLine {
            number: l.number,
            state: state(l.state),
            severity: severity(l.severity),
            rule: l.rule.get(),
            place: l.place.get(),
            url: l.url.as_ref().map(Url::get),
            flow: l.flow.as_ref().map(Text::get),
            repository: l.repository.as_ref().map(Text::get),
        })
        .collect();
    if let Some(last) = findings.last().cloned() {
        findings.extend(std::iter::repeat_n(last, usize::from(input.copies % 32)));
    }
    TicketContent {
        group_key: GroupKey::from_stored(input.group_key.clone()),
        title: input.title.get(),
        severity: Severity::High,
        labels: vec!["scantix".to_owned()],
        summary: input.summary.get(),
        facts: input
            .facts
            .iter()
            .map(|(n, v)| (n.get(), v.get()))
            .collect(),
        findings,
        more_findings: u32::from(input.more_findings),
        listing_url: input.listing_url.as_ref().map(Url::get),
        description: input.description.as_ref().map(Text::get),
        guidance: input.guidance.as_ref().map(Text::get),
        references: input.references.iter().map(Url::get).collect(),
        verification: input.verification.get(),
        priority_reason: input.priority_reason.as_ref().map(Text::get),
        due: None,
        assignee: input.assignee.clone(),
        destination: Default::default(),
        repository: "octo/repo".to_owned(),
    }
}

/// Every URL of the content that a renderer may make a link to.
fn given_urls(t: &TicketContent) -> BTreeSet<String> {
    t.findings
        .iter()
        .filter_map(|f| f.url.clone())
        .chain(t.listing_url.clone())
        .chain(t.references.iter().cloned())
        .filter(|u| u.starts_with("https://"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let t = content(&input);
    let urls = given_urls(&t);
    check_markdown(&t, &urls);
    check_markdown_within(&t, usize::from(input.limit));
    check_plain(&t, usize::from(input.limit));
    check_adf(&adf::document(&t), &urls);
    check_adf(
        &adf::comment(&input.comment.get(), "scantix ref g-1"),
        &BTreeSet::new(),
    );
    check_wiki(&t, &urls);
    let comment = wiki::comment(&input.comment.get(), "scantix ref g-1");
    assert!(wiki::has_marker(&comment, "scantix ref g-1"));
    assert!(
        comment.chars().count() <= JIRA_FIELD_LIMIT,
        "wiki comment over the limit"
    );
});

/// No control character but line breaks and tabs (harmless in every markup), no bidi control.
fn no_controls(s: &str, what: &str) {
    if let Some(c) = s
        .chars()
        .find(|&c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
    {
        panic!("{what}: control character {c:?} in the output");
    }
}

const MARKDOWN_HEADINGS: &[&str] = &[
    "What is wrong",
    "How to fix it",
    "References",
    "How the fix will be verified",
];

fn check_markdown(t: &TicketContent, urls: &BTreeSet<String>) {
    let md = markdown::render(t);
    no_controls(&md, "markdown");
    let marker = markdown::group_marker(&t.group_key);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_FOOTNOTES);
    options.insert(Options::ENABLE_MATH);
    options.insert(Options::ENABLE_GFM);
    let mut headings = Vec::new();
    let mut in_heading: Option<String> = None;
    let (mut tables, mut rows, mut cells_in_row, mut tasks) = (0, 0, 0, 0);
    let mut in_table_head = false;
    let mut in_code_block = false;
    for event in TextMergeStream::new(Parser::new_ext(&md, options)) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                assert_eq!(
                    html.trim(),
                    marker,
                    "markdown: raw HTML in the output:\n{md}"
                );
            }
            Event::Start(Tag::Image { .. }) => panic!("markdown: an image in the output:\n{md}"),
            Event::Start(Tag::Link { dest_url, .. }) => {
                assert!(
                    urls.iter()
                        .any(|u| u.replace(['<', '>', ' '], "") == *dest_url),
                    "markdown: a link to {dest_url:?}, not a URL of the content:\n{md}"
                );
            }
            Event::InlineMath(_) | Event::DisplayMath(_) => {
                panic!("markdown: math in the output:\n{md}")
            }
            Event::FootnoteReference(_) | Event::Start(Tag::FootnoteDefinition(_)) => {
                panic!("markdown: a footnote in the output:\n{md}")
            }
            Event::Start(Tag::Heading { level, .. }) => {
                assert_eq!(
                    level,
                    HeadingLevel::H3,
                    "markdown: a heading of alert text:\n{md}"
                );
                in_heading = Some(String::new());
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(in_heading.take()),
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            // Scanner prose in a fenced block is shown as it is: nothing there is live.
            Event::Text(_) if in_code_block => {}
            Event::Text(text) => {
                if let Some(h) = in_heading.as_mut() {
                    h.push_str(&text);
                }
                for (at, c) in text.char_indices() {
                    if c == '@' || c == '#' {
                        assert_eq!(
                            text[at + 1..].chars().next(),
                            Some('\u{200B}'),
                            "markdown: a live {c} in {text:?}"
                        );
                    }
                }
            }
            Event::Start(Tag::Table(columns)) => {
                assert_eq!(columns.len(), 2, "markdown: a table of alert text:\n{md}");
                tables += 1;
            }
            Event::Start(Tag::TableHead) => in_table_head = true,
            Event::End(TagEnd::TableHead) => {
                assert_eq!(cells_in_row, 2);
                in_table_head = false;
                cells_in_row = 0;
            }
            Event::Start(Tag::TableRow) => cells_in_row = 0,
            Event::Start(Tag::TableCell) => cells_in_row += 1,
            Event::End(TagEnd::TableRow) => {
                assert!(!in_table_head);
                assert_eq!(cells_in_row, 2, "markdown: a fact split into cells:\n{md}");
                rows += 1;
            }
            Event::TaskListMarker(_) => tasks += 1,
            _ => {}
        }
    }
    assert_eq!(tables, 1, "markdown: not exactly one table:\n{md}");
    assert_eq!(
        rows,
        t.facts.len(),
        "markdown: not one table row per fact:\n{md}"
    );
    assert!(
        tasks <= t.findings.len(),
        "markdown: more tasks than findings:\n{md}"
    );
    let findings_heading = format!("Findings ({})", t.findings.len() + t.more_findings as usize);
    for h in &headings {
        assert!(
            *h == findings_heading || MARKDOWN_HEADINGS.contains(&h.as_str()),
            "markdown: heading {h:?} is alert text:\n{md}"
        );
    }
    let expected = 2
        + usize::from(t.description.is_some())
        + usize::from(t.guidance.is_some())
        + usize::from(!t.references.is_empty());
    assert_eq!(
        headings.len(),
        expected,
        "markdown: headings {headings:?}:\n{md}"
    );
}

fn check_markdown_within(t: &TicketContent, limit: usize) {
    let limit = limit.max(1_000);
    let md = markdown::render_within(t, limit);
    let marker = markdown::group_marker(&t.group_key);
    if marker.chars().count() + 4 < limit {
        assert!(
            md.chars().count() <= limit,
            "markdown over {limit} characters"
        );
        assert!(
            md.contains(&marker),
            "markdown cut without its group marker"
        );
    }
    let body = markdown::render_within(t, GITHUB_BODY_LIMIT);
    if marker.chars().count() + 4 < GITHUB_BODY_LIMIT {
        assert!(body.chars().count() <= GITHUB_BODY_LIMIT);
    }
}

fn check_plain(t: &TicketContent, limit: usize) {
    let limit = limit.max(1_000);
    let text = plain::render_within(t, limit);
    no_controls(&text, "plain");
    let footer = format!(
        "\n\nHow scantix verifies: {}\nscantix group: {}",
        plain::line(&t.verification),
        plain::line(t.group_key.as_str())
    );
    if footer.chars().count() < limit {
        assert!(
            text.chars().count() <= limit,
            "plain text over {limit} characters"
        );
        assert!(text.ends_with(&footer), "plain text cut without its footer");
    }
}

/// Checks an ADF node against the shapes scantix writes: `parent` is the node type it sits in.
fn check_adf_node(node: &Value, parent: &str, urls: &BTreeSet<String>) {
    let Value::Object(o) = node else {
        panic!("ADF: a node that is not an object: {node}");
    };
    let kind = o.get("type").and_then(Value::as_str).unwrap_or_default();
    let allowed: &[&str] = match parent {
        "doc" => &["paragraph", "heading", "table", "bulletList", "codeBlock"],
        "table" => &["tableRow"],
        "tableRow" => &["tableHeader", "tableCell"],
        "tableHeader" | "tableCell" | "listItem" => &["paragraph"],
        "bulletList" => &["listItem"],
        "paragraph" | "heading" | "codeBlock" => &["text"],
        _ => &[],
    };
    assert!(
        allowed.contains(&kind),
        "ADF: a {kind:?} node inside {parent:?}"
    );
    if kind == "text" {
        let text = o.get("text").and_then(Value::as_str).unwrap_or_default();
        assert!(
            !text.is_empty(),
            "ADF: an empty text node (Jira refuses it)"
        );
        for c in text.chars() {
            let allowed = c == '\t' || (c == '\n' && parent == "codeBlock");
            assert!(
                !(c.is_control() && !allowed) && !is_bidi_control(c),
                "ADF: control character {c:?} in a text node"
            );
        }
        assert!(!o.contains_key("content"), "ADF: a text node with content");
        if let Some(marks) = o.get("marks") {
            assert!(parent != "codeBlock", "ADF: marks inside a code block");
            let marks = marks.as_array().map(Vec::as_slice).unwrap_or_default();
            for mark in marks {
                match mark.get("type").and_then(Value::as_str) {
                    Some("strong" | "em" | "code") => {}
                    Some("textColor") => {}
                    Some("link") => {
                        let href = mark.pointer("/attrs/href").and_then(Value::as_str);
                        assert!(
                            href.is_some_and(|h| urls.contains(h)),
                            "ADF: a link to {href:?}, not a URL of the content"
                        );
                    }
                    other => panic!("ADF: a {other:?} mark"),
                }
            }
        }
        return;
    }
    let content = o.get("content").and_then(Value::as_array);
    let content = content.unwrap_or_else(|| panic!("ADF: a {kind} node without content"));
    let must_have_children = matches!(
        kind,
        "table" | "tableRow" | "tableHeader" | "tableCell" | "bulletList" | "listItem"
    );
    assert!(
        !must_have_children || !content.is_empty(),
        "ADF: an empty {kind}"
    );
    for child in content {
        check_adf_node(child, kind, urls);
    }
}

fn check_adf(doc: &Value, urls: &BTreeSet<String>) {
    let serialised = doc.to_string();
    assert!(
        serialised.chars().count() <= JIRA_FIELD_LIMIT,
        "ADF over Jira's limit: {} characters",
        serialised.chars().count()
    );
    let reread: Value = serde_json::from_str(&serialised).unwrap_or_else(|e| panic!("ADF: {e}"));
    assert_eq!(reread.get("type").and_then(Value::as_str), Some("doc"));
    assert_eq!(reread.get("version").and_then(Value::as_u64), Some(1));
    let content = reread.get("content").and_then(Value::as_array);
    for node in content.unwrap_or_else(|| panic!("ADF: a doc without content")) {
        check_adf_node(node, "doc", urls);
    }
}

/// A line of wiki markup with escapes (`\x`) and scantix's entities each made a plain letter:
/// what is left can only be live markup or plain characters.
fn live_wiki(doc: &str) -> String {
    let without_entities = doc
        .replace("&#92;", "E")
        .replace("&#58;", "E")
        .replace("&#46;", "E");
    // An escaped character is text: a letter in its place, so that neither it nor its
    // neighbours read as markup (`mail\-to:` is no `mailto:`).
    let mut out = String::new();
    let mut chars = without_entities.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            out.push('E');
        } else {
            out.push(c);
        }
    }
    out
}

fn check_wiki(t: &TicketContent, urls: &BTreeSet<String>) {
    let doc = wiki::document(t);
    no_controls(&doc, "wiki");
    assert!(
        doc.chars().count() <= JIRA_FIELD_LIMIT,
        "wiki markup over Jira's limit"
    );
    // Noformat blocks: exactly the delimiters scantix writes (alert text inside is defused).
    let blocks = usize::from(t.description.is_some()) + usize::from(t.guidance.is_some());
    assert_eq!(
        doc.to_ascii_lowercase().matches("{noformat").count(),
        2 * blocks,
        "wiki: a noformat delimiter of alert text:\n{doc}"
    );
    let outside: Vec<&str> = doc.split("{noformat}").step_by(2).collect();
    let outside = outside.join("\n");
    let mut rows = 0;
    for line in outside.lines() {
        let live = live_wiki(line);
        let trimmed = live.trim_start().to_ascii_lowercase();
        for sig in ["h1.", "h2.", "h3.", "h4.", "h5.", "h6.", "bq."] {
            if trimmed.starts_with(sig) {
                assert!(
                    line.starts_with("h3. ")
                        && [
                            "Findings (",
                            "What is wrong",
                            "How to fix it",
                            "References",
                            "How the fix will be verified",
                        ]
                        .iter()
                        .any(|h| line[4..].starts_with(h)),
                    "wiki: a heading or quote of alert text: {line:?}"
                );
            }
        }
        if live.starts_with("||") {
            rows += 1;
            assert_eq!(
                live.matches('|').count(),
                4,
                "wiki: a fact split into cells: {line:?}"
            );
        } else {
            assert!(
                !live.contains('|') || live.contains('['),
                "wiki: a live | in {line:?}"
            );
        }
        // Every live `[` opens one of scantix's links to a URL of the content.
        let mut rest = live.as_str();
        while let Some(open) = rest.find('[') {
            let after = &rest[open + 1..];
            let close = after
                .find(']')
                .unwrap_or_else(|| panic!("wiki: an open [ in {line:?}"));
            let link = &after[..close];
            let (_, url) = link
                .rsplit_once('|')
                .unwrap_or_else(|| panic!("wiki: a [ that is no link in {line:?}"));
            assert!(
                urls.contains(url),
                "wiki: a link to {url:?}, not a URL of the content"
            );
            rest = &after[close + 1..];
        }
        // No live macro: the only braces are scantix's `{{…}}` monospace.
        let braces = live.replace("{{", "").replace("}}", "");
        assert!(
            !braces.contains(['{', '}']),
            "wiki: a live macro in {line:?}"
        );
        // No bare URL outside scantix's links, and no mention.
        let mut unlinked = live.clone();
        for url in urls {
            unlinked = unlinked.replace(&format!("|{url}]"), "");
        }
        assert!(!unlinked.contains("://"), "wiki: a bare URL in {line:?}");
        assert!(
            !unlinked.to_ascii_lowercase().contains("mailto:"),
            "wiki: mailto in {line:?}"
        );
        assert!(!unlinked.contains("[~"), "wiki: a mention in {line:?}");
    }
    assert_eq!(
        rows,
        t.facts.len().min(30),
        "wiki: not one table row per fact:\n{doc}"
    );
}
