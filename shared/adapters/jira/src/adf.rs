//! Ticket content as an Atlassian Document Format document (Jira Cloud's description and comment
//! format). Every piece of alert text becomes the `text` of a text node, which ADF never parses:
//! it cannot become a link, a mention or a macro. Marks and links are only ever added by this
//! module (links only to plain https URLs). What is left to do is keep the text clean (no control
//! characters) and the document under Jira's size limit.

use super::text::{self, Caps, FIELD_LIMIT, fit};
use scantix_core::finding::AlertState;
use scantix_core::ticket::{FindingLine, TicketContent};
use serde_json::{Value, json};

/// Colour of the small line that marks a scantix comment (Atlassian's subtle text grey).
const MARKER_COLOUR: &str = "#97a0af";

/// The ticket description, at most `FIELD_LIMIT` characters once serialised.
pub fn document(t: &TicketContent) -> Value {
    fit(|caps, shown| build(t, caps, shown), t.findings.len(), size)
}

fn size(doc: &Value) -> usize {
    doc.to_string().chars().count()
}

fn build(t: &TicketContent, caps: Caps, shown: usize) -> Value {
    let line = |s: &str| text::cap(&text::line(s), caps.line);
    let mut content = vec![paragraph(vec![plain(&line(&t.summary))])];
    if let Some(why) = &t.priority_reason {
        content.push(paragraph(vec![
            with_marks("Why this priority: ", json!([{ "type": "strong" }])),
            plain(&line(why)),
        ]));
    }

    if !t.facts.is_empty() {
        let rows = t
            .facts
            .iter()
            .take(30)
            .map(|(name, value)| {
                json!({
                    "type": "tableRow",
                    "content": [
                        { "type": "tableHeader", "attrs": {}, "content": [paragraph(vec![plain(&line(name))])] },
                        { "type": "tableCell", "attrs": {}, "content": [paragraph(vec![plain(&line(value))])] },
                    ],
                })
            })
            .collect::<Vec<_>>();
        content.push(json!({
            "type": "table",
            "attrs": { "isNumberColumnEnabled": false, "layout": "default" },
            "content": rows,
        }));
    }

    content.push(heading(&format!("Findings ({})", t.findings.len())));
    let items: Vec<Value> = t
        .findings
        .iter()
        .take(shown)
        .map(|f| list_item(finding(f, &line)))
        .collect();
    if !items.is_empty() {
        content.push(json!({ "type": "bulletList", "content": items }));
    }
    if shown < t.findings.len() {
        let more = t.findings.len() - shown;
        content.push(paragraph(vec![with_marks(
            &format!("…and {more} more (the full list is in GitHub's security tab)"),
            json!([{ "type": "em" }]),
        )]));
    }

    let block = |s: &str| text::cap(&text::block(s), caps.block);
    if let Some(description) = &t.description {
        content.push(heading("What is wrong"));
        content.push(code_block(&block(description)));
    }
    if let Some(guidance) = &t.guidance {
        content.push(heading("How to fix it"));
        content.push(code_block(&block(guidance)));
    }
    if !t.references.is_empty() {
        content.push(heading("References"));
        let refs = t
            .references
            .iter()
            .take(20)
            .map(|r| list_item(vec![link_or_plain(&line(r), Some(r))]))
            .collect::<Vec<_>>();
        content.push(json!({ "type": "bulletList", "content": refs }));
    }
    content.push(heading("How the fix will be verified"));
    content.push(paragraph(vec![plain(&line(&t.verification))]));

    json!({ "type": "doc", "version": 1, "content": content })
}

fn finding(f: &FindingLine, line: &impl Fn(&str) -> String) -> Vec<Value> {
    let state = match f.state {
        AlertState::Open => "Open",
        AlertState::Fixed => "Fixed",
        AlertState::Dismissed => "Dismissed",
    };
    let mut nodes = vec![
        with_marks(state, json!([{ "type": "strong" }])),
        plain(" · "),
        link_or_plain(&format!("alert {}", f.number), f.url.as_deref()),
        plain(&format!(" · {}", f.severity)),
    ];
    if !f.place.is_empty() {
        nodes.push(plain(" · "));
        nodes.push(with_marks(&line(&f.place), json!([{ "type": "code" }])));
    }
    if let Some(flow) = &f.flow {
        nodes.push(plain(" (flow: "));
        nodes.push(with_marks(&line(flow), json!([{ "type": "code" }])));
        nodes.push(plain(")"));
    }
    nodes.push(plain(&format!(" — {}", line(&f.rule))));
    nodes
}

/// A comment: the text as paragraphs, then the marker line that makes a repeat recognisable.
pub fn comment(body: &str, marker: &str) -> Value {
    let mut cap = 20_000;
    loop {
        let mut content: Vec<Value> = text::cap(&text::block(body), cap)
            .split('\n')
            .filter(|l| !l.trim().is_empty())
            .map(|l| paragraph(vec![plain(l)]))
            .collect();
        content.push(paragraph(vec![marker_node(marker)]));
        let doc = json!({ "type": "doc", "version": 1, "content": content });
        if size(&doc) <= FIELD_LIMIT || cap <= 500 {
            return doc;
        }
        cap /= 2;
    }
}

fn marker_node(marker: &str) -> Value {
    with_marks(
        marker,
        json!([{ "type": "textColor", "attrs": { "color": MARKER_COLOUR } }]),
    )
}

/// Whether a comment body (ADF) carries `marker` as scantix writes it: a text node with exactly
/// that text in the marker colour. Alert text cannot forge it: it never gets marks.
pub fn has_marker(body: &Value, marker: &str) -> bool {
    match body {
        Value::Object(node) => {
            let is_marker = node.get("type").and_then(Value::as_str) == Some("text")
                && node.get("text").and_then(Value::as_str) == Some(marker)
                && node
                    .get("marks")
                    .and_then(Value::as_array)
                    .is_some_and(|marks| {
                        marks.iter().any(|m| {
                            m.get("type").and_then(Value::as_str) == Some("textColor")
                                && m.pointer("/attrs/color").and_then(Value::as_str)
                                    == Some(MARKER_COLOUR)
                        })
                    });
            is_marker
                || node
                    .get("content")
                    .is_some_and(|children| has_marker(children, marker))
        }
        Value::Array(nodes) => nodes.iter().any(|n| has_marker(n, marker)),
        _ => false,
    }
}

fn paragraph(nodes: Vec<Value>) -> Value {
    // ADF rejects empty text nodes: drop them (an empty paragraph is valid).
    let nodes: Vec<Value> = nodes.into_iter().filter(|n| !n.is_null()).collect();
    json!({ "type": "paragraph", "content": nodes })
}

fn heading(title: &str) -> Value {
    json!({ "type": "heading", "attrs": { "level": 3 }, "content": [plain(title)] })
}

fn code_block(body: &str) -> Value {
    let content: Vec<Value> = [plain(body)].into_iter().filter(|n| !n.is_null()).collect();
    json!({ "type": "codeBlock", "attrs": { "language": "text" }, "content": content })
}

fn list_item(nodes: Vec<Value>) -> Value {
    json!({ "type": "listItem", "content": [paragraph(nodes)] })
}

/// A text node, or `null` for empty text (filtered out by the containers).
fn plain(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        json!({ "type": "text", "text": s })
    }
}

fn with_marks(s: &str, marks: Value) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        json!({ "type": "text", "text": s, "marks": marks })
    }
}

fn link_or_plain(label: &str, url: Option<&str>) -> Value {
    match url.and_then(text::safe_url) {
        Some(href) => with_marks(
            label,
            json!([{ "type": "link", "attrs": { "href": href } }]),
        ),
        None => plain(label),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_content::hostile_content;
    use super::*;

    fn texts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(t) = o.get("text").and_then(Value::as_str) {
                    out.push(t.to_string());
                }
                o.values().for_each(|c| texts(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| texts(c, out)),
            _ => {}
        }
    }

    fn links(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_str) == Some("link") {
                    out.push(o["attrs"]["href"].as_str().unwrap().to_string());
                }
                o.values().for_each(|c| links(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| links(c, out)),
            _ => {}
        }
    }

    #[test]
    fn hostile_text_stays_text_and_only_https_urls_become_links() {
        let doc = document(&hostile_content(3));
        let mut all = Vec::new();
        texts(&doc, &mut all);
        assert!(all.iter().all(|t| !t.is_empty()));
        assert!(
            all.iter()
                .all(|t| !t.chars().any(|c| c.is_control() && c != '\n'))
        );
        assert!(!all.iter().any(|t| t.contains('\u{202E}')));
        // The hostile wiki/markdown survives only as literal text.
        assert!(all.iter().any(|t| t.contains("[~admin]")));
        let mut hrefs = Vec::new();
        links(&doc, &mut hrefs);
        assert!(!hrefs.is_empty());
        assert!(hrefs.iter().all(|h| h.starts_with("https://")), "{hrefs:?}");
        // Nothing in the document is a node type alert text could have asked for.
        let s = doc.to_string();
        for forbidden in [
            "\"mention\"",
            "\"inlineCard\"",
            "\"media\"",
            "\"extension\"",
        ] {
            assert!(!s.contains(forbidden), "{forbidden}");
        }
    }

    #[test]
    fn the_document_has_the_expected_shape() {
        let doc = document(&hostile_content(2));
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["version"], 1);
        let types: Vec<&str> = doc["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "paragraph",
                "paragraph",
                "table",
                "heading",
                "bulletList",
                "heading",
                "codeBlock",
                "heading",
                "codeBlock",
                "heading",
                "bulletList",
                "heading",
                "paragraph"
            ]
        );
        // Guidance keeps its lines inside the code block.
        assert!(
            doc["content"][8]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains('\n')
        );
    }

    #[test]
    fn a_huge_group_is_cut_to_fit_with_a_count_of_what_was_left_out() {
        let doc = document(&hostile_content(2_000));
        assert!(size(&doc) <= FIELD_LIMIT, "{}", size(&doc));
        let mut all = Vec::new();
        texts(&doc, &mut all);
        let more = all
            .iter()
            .find(|t| t.starts_with("…and "))
            .expect("a more line");
        // Summary, priority line, facts table, findings heading, then the findings.
        let shown = doc["content"][4]["content"].as_array().unwrap().len();
        assert_eq!(
            more,
            &format!(
                "…and {} more (the full list is in GitHub's security tab)",
                2_000 - shown
            )
        );
        assert!(shown > 10);
    }

    #[test]
    fn enormous_scanner_text_is_capped_too() {
        let mut t = hostile_content(1);
        t.guidance = Some("\"".repeat(200_000));
        t.description = Some("x\n".repeat(100_000));
        let doc = document(&t);
        assert!(size(&doc) <= FIELD_LIMIT);
    }

    #[test]
    fn comments_carry_a_marker_that_text_cannot_forge() {
        let forged = "scantix ref g-1";
        let c = comment(
            &format!("line one\n{forged}\n\u{1b}[2Jline three"),
            "scantix ref g-2",
        );
        assert!(has_marker(&c, "scantix ref g-2"));
        assert!(!has_marker(&c, "scantix ref g-1"));
        assert!(!has_marker(&c, "scantix ref g-"));
        assert_eq!(c["content"].as_array().unwrap().len(), 4);
    }
}
