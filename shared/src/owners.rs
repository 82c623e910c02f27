//! CODEOWNERS: who owns a path, by GitHub's rules, and which tracker user that makes the assignee.
//!
//! GitHub's rules, as its documentation states them (and as `CodeOwners::owners_of` follows):
//! - patterns are gitignore-style; the **last** matching line wins;
//! - `*` matches within one path segment (never `/`), `?` one character, `**` any number of
//!   segments;
//! - a leading `/` anchors the pattern to the repository root; a pattern with a `/` elsewhere
//!   (other than at its end) is anchored too; a pattern without one matches at any depth;
//! - a pattern naming a directory covers everything in it; a trailing `/` matches only a
//!   directory (and so everything in it);
//! - `docs/*` matches files directly in `docs/`, not in its subdirectories;
//! - a line with a pattern but no owners leaves those paths without an owner;
//! - `#` starts a comment (whole line, or after the owners); `\#` is a literal `#`, `\ ` a space;
//! - `!` negation is not supported, and lines that can't be read are skipped — here each one is
//!   reported in `warnings`. `[...]` is matched literally (GitHub has no character ranges, and
//!   Next.js-style paths such as `app/[locale]/` are common).
//!
//! Paths are case-sensitive, as on GitHub.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeOwners {
    rules: Vec<OwnerRule>,
    /// Lines that were skipped, and why; show them to whoever maintains the file.
    pub warnings: Vec<OwnersWarning>,
}

/// A CODEOWNERS line that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnersWarning {
    /// 1-based line number in the file.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for OwnersWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CODEOWNERS line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnerRule {
    pattern: Pattern,
    owners: Vec<String>,
}

/// A compiled pattern: path segments to match, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    /// Whether paths below the last matched segment match too (the pattern names a directory).
    /// False only when the pattern ends in a lone `*` (`docs/*`): GitHub's exception.
    covers_descendants: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of segments (one or more when it ends the pattern).
    AnyDepth,
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `*`: any run of characters within a segment.
    Star,
    /// `?`: one character.
    AnyChar,
}

impl CodeOwners {
    /// Parses a CODEOWNERS file. Never fails: unreadable lines are skipped and listed in
    /// `warnings`, as GitHub skips them.
    pub fn parse(text: &str) -> CodeOwners {
        let mut owners = CodeOwners::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some(rule)) => owners.rules.push(rule),
                Err(message) => owners.warnings.push(OwnersWarning { line, message }),
            }
        }
        owners
    }

    /// The owners of `path` (repository-relative, with or without a leading `/`): those of the
    /// last line whose pattern matches it. Empty when no line matches, or the last one that does
    /// names no owners.
    pub fn owners_of(&self, path: &str) -> &[String] {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if segments.is_empty() {
            return &[];
        }
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.pattern.matches(&segments))
            .map_or(&[], |rule| rule.owners.as_slice())
    }
}

/// The tracker user to assign: the first of `owners` (in CODEOWNERS order) that `map` knows,
/// else `default`. Keys match ignoring ASCII case and a leading `@`, as GitHub's user and team
/// names do (`@Acme/Web` is `acme/web`).
pub fn assignee_for(
    owners: &[String],
    map: &BTreeMap<String, String>,
    default: Option<&str>,
) -> Option<String> {
    let normalise = |name: &str| name.trim().trim_start_matches('@').to_ascii_lowercase();
    owners
        .iter()
        .find_map(|owner| {
            let wanted = normalise(owner);
            map.iter()
                .find(|(key, _)| normalise(key) == wanted)
                .map(|(_, user)| user.clone())
        })
        .or_else(|| default.map(str::to_owned))
}

/// One line → a rule, nothing (blank or comment), or why it is skipped.
fn parse_line(raw: &str) -> Result<Option<OwnerRule>, String> {
    let tokens = split_unescaped_whitespace(raw.trim());
    let Some((pattern_text, rest)) = tokens.split_first() else {
        return Ok(None);
    };
    if pattern_text.starts_with('#') {
        return Ok(None);
    }
    let owners: Vec<String> = rest
        .iter()
        .take_while(|token| !token.starts_with('#'))
        .cloned()
        .collect();
    if let Some(bad) = owners.iter().find(|owner| !is_owner(owner)) {
        return Err(format!(
            "`{bad}` is not an owner: write `@user`, `@org/team` or an email address"
        ));
    }
    let pattern = Pattern::compile(pattern_text)?;
    Ok(Some(OwnerRule { pattern, owners }))
}

/// Splits on whitespace not escaped by `\`. Escapes are kept (`\ ` stays two characters) for
/// the pattern compiler to read.
fn split_unescaped_whitespace(line: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(escaped) = chars.next() {
                    current.push(escaped);
                }
            }
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// `@user`, `@org/team` or an email address.
fn is_owner(owner: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if let Some(handle) = owner.strip_prefix('@') {
        return match handle.split_once('/') {
            Some((org, team)) => {
                !org.is_empty()
                    && org.chars().all(name_char)
                    && !team.is_empty()
                    && team.chars().all(|c| name_char(c) || c == '.')
            }
            None => !handle.is_empty() && handle.chars().all(name_char),
        };
    }
    match owner.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@'),
        None => false,
    }
}

impl Pattern {
    fn compile(text: &str) -> Result<Pattern, String> {
        if text.starts_with('!') {
            return Err(format!(
                "`{text}`: negation (`!`) is not supported in CODEOWNERS; give the paths an \
                 explicit owner, or a line with no owners, instead"
            ));
        }
        if text.contains("***") {
            return Err(format!(
                "`{text}`: three asterisks in a row; use `*` or `**`"
            ));
        }
        let anchored = text.starts_with('/');
        let mut parts: Vec<&str> = text.split('/').collect();
        if anchored {
            parts.remove(0);
        }
        let trailing_slash = parts.len() > 1 && parts.last() == Some(&"");
        if trailing_slash {
            parts.pop();
        }
        if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "`{text}` is not a path pattern (empty segment); write e.g. `/docs/` or `*.js`"
            ));
        }
        let mut segments: Vec<Segment> = parts
            .iter()
            .map(|part| match *part {
                "**" => Segment::AnyDepth,
                glob => Segment::Glob(tokens_of(glob)),
            })
            .collect();
        // Without a `/` other than a trailing one, a pattern matches at any depth.
        if !anchored && parts.len() == 1 && segments[0] != Segment::AnyDepth {
            segments.insert(0, Segment::AnyDepth);
        }
        if trailing_slash {
            // `dir/`: only a directory, so at least one path segment below it.
            segments.push(Segment::AnyDepth);
        }
        let covers_descendants = match segments.last() {
            Some(Segment::Glob(tokens)) => tokens.as_slice() != [Token::Star],
            _ => false,
        };
        Ok(Pattern {
            segments,
            covers_descendants,
        })
    }

    fn matches(&self, path: &[&str]) -> bool {
        match_segments(&self.segments, path, self.covers_descendants)
    }
}

fn tokens_of(glob: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '\\' => Token::Char(chars.next().unwrap_or('\\')),
            '*' => Token::Star,
            '?' => Token::AnyChar,
            c => Token::Char(c),
        });
    }
    tokens
}

fn match_segments(segments: &[Segment], path: &[&str], covers_descendants: bool) -> bool {
    match segments.split_first() {
        None => path.is_empty() || covers_descendants,
        Some((Segment::AnyDepth, [])) => !path.is_empty(),
        Some((Segment::AnyDepth, rest)) => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..], covers_descendants))
        }
        Some((Segment::Glob(tokens), rest)) => match path.split_first() {
            Some((first, below)) => {
                let chars: Vec<char> = first.chars().collect();
                match_glob(tokens, &chars) && match_segments(rest, below, covers_descendants)
            }
            None => false,
        },
    }
}

fn match_glob(tokens: &[Token], text: &[char]) -> bool {
    match tokens.split_first() {
        None => text.is_empty(),
        Some((Token::Star, rest)) => (0..=text.len()).any(|skip| match_glob(rest, &text[skip..])),
        Some((Token::AnyChar, rest)) => !text.is_empty() && match_glob(rest, &text[1..]),
        Some((Token::Char(c), rest)) => text.first() == Some(c) && match_glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's documented example file ("About code owners"), verbatim but for the two
    /// alternative `/apps/` endings, which are tested separately below.
    const GITHUB_EXAMPLE: &str = r#"# This is a comment.
# Each line is a file pattern followed by one or more owners.

# These owners will be the default owners for everything in
# the repo. Unless a later match takes precedence,
# @global-owner1 and @global-owner2 will be requested for
# review when someone opens a pull request.
*       @global-owner1 @global-owner2

# Order is important; the last matching pattern takes the most
# precedence. When someone opens a pull request that only
# modifies JS files, only @js-owner and not the global
# owner(s) will be requested for a review.
*.js    @js-owner #This is an inline comment.

# You can also use email addresses if you prefer. They'll be
# used to look up users just like we do for commit author
# emails.
*.go docs@example.com

# Teams can be specified as code owners as well. Teams should
# be identified in the format @org/team-name. Teams must have
# explicit write access to the repository. In this example,
# the octocats team in the octo-org organization owns all .txt files.
*.txt @octo-org/octocats

# In this example, @doctocat owns any files in the build/logs
# directory at the root of the repository and any of its
# subdirectories.
/build/logs/ @doctocat

# The `docs/*` pattern will match files like
# `docs/getting-started.md` but not further nested files like
# `docs/build-app/troubleshooting.md`.
docs/*  docs@example.com

# In this example, @octocat owns any file in an apps directory
# anywhere in your repository.
apps/ @octocat

# In this example, @doctocat owns any file in the `/docs`
# directory in the root of your repository and any of its
# subdirectories.
/docs/ @doctocat

# In this example, any change inside the `/scripts` directory
# will require approval from @doctocat or @octocat.
/scripts/ @doctocat @octocat

# In this example, @octocat owns any file in a `/logs` directory such as
# `/build/logs`, `/scripts/logs`, and `/deeply/nested/logs`. Any changes
# in a `/logs` directory will require approval from @octocat.
**/logs @octocat
"#;

    fn owners(file: &CodeOwners, path: &str) -> Vec<String> {
        file.owners_of(path).to_vec()
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Whether `pattern` alone matches `path`.
    fn matches(pattern: &str, path: &str) -> bool {
        !CodeOwners::parse(&format!("{pattern} @o"))
            .owners_of(path)
            .is_empty()
    }

    #[test]
    fn githubs_example_file_parses_without_warnings() {
        let file = CodeOwners::parse(GITHUB_EXAMPLE);
        assert!(file.warnings.is_empty(), "{:?}", file.warnings);
        assert_eq!(file.rules.len(), 10);
    }

    #[test]
    fn the_last_matching_line_wins() {
        let file = CodeOwners::parse(GITHUB_EXAMPLE);
        assert_eq!(
            owners(&file, "README.md"),
            strings(&["@global-owner1", "@global-owner2"])
        );
        assert_eq!(owners(&file, "src/app.js"), strings(&["@js-owner"]));
        assert_eq!(owners(&file, "cmd/main.go"), strings(&["docs@example.com"]));
        assert_eq!(
            owners(&file, "notes/a.txt"),
            strings(&["@octo-org/octocats"])
        );
        // `/docs/` comes after `docs/*` and `*.js`: it wins for everything under docs/.
        assert_eq!(
            owners(&file, "docs/getting-started.md"),
            strings(&["@doctocat"])
        );
        assert_eq!(owners(&file, "docs/site/app.js"), strings(&["@doctocat"]));
    }

    #[test]
    fn an_inline_comment_ends_the_owners() {
        let file = CodeOwners::parse("*.js @js-owner #This is an inline comment.");
        assert_eq!(owners(&file, "a.js"), strings(&["@js-owner"]));
    }

    #[test]
    fn a_pattern_without_a_slash_matches_at_any_depth() {
        assert!(matches("*.js", "app.js"));
        assert!(matches("*.js", "src/deep/app.js"));
        assert!(!matches("*.js", "src/app.jsx"));
        assert!(matches("foo", "foo"));
        assert!(matches("foo", "bar/foo"));
        assert!(matches("foo", "bar/foo/baz"));
        assert!(!matches("foo", "foo.txt"));
        assert!(!matches("foo", "bar/foo.txt"));
        // `apps/`: "any file in an apps directory anywhere in your repository".
        assert!(matches("apps/", "apps/web/index.ts"));
        assert!(matches("apps/", "services/apps/x.py"));
        assert!(!matches("apps/", "apps"));
    }

    #[test]
    fn a_leading_slash_anchors_to_the_root() {
        assert!(matches("/build/logs/", "build/logs/today.log"));
        assert!(matches("/build/logs/", "build/logs/2024/01/today.log"));
        assert!(!matches("/build/logs/", "src/build/logs/today.log"));
        assert!(matches("/foo", "foo"));
        assert!(matches("/foo", "foo/bar/baz"));
        assert!(!matches("/foo", "bar/foo"));
        assert!(!matches("/foo", "fool.txt"));
        // A leading `/` on the path asked about changes nothing.
        assert!(matches("/foo", "/foo/bar"));
    }

    #[test]
    fn a_slash_in_the_middle_anchors_too() {
        assert!(matches("foo/bar", "foo/bar"));
        assert!(matches("foo/bar", "foo/bar/baz"));
        assert!(!matches("foo/bar", "foo/bart"));
        assert!(!matches("foo/bar", "baz/foo/bar"));
    }

    #[test]
    fn a_trailing_slash_matches_a_directory_and_everything_in_it() {
        assert!(!matches("foo/", "foo"));
        assert!(matches("foo/", "foo/bar"));
        assert!(matches("foo/", "bar/foo/baz/qux"));
        assert!(!matches("/foo/bar/", "foo/bar"));
        assert!(matches("/foo/bar/", "foo/bar/baz/qux"));
    }

    #[test]
    fn docs_star_matches_only_files_directly_in_docs() {
        let file = CodeOwners::parse("docs/*  docs@example.com");
        assert_eq!(
            owners(&file, "docs/getting-started.md"),
            strings(&["docs@example.com"])
        );
        assert!(owners(&file, "docs/build-app/troubleshooting.md").is_empty());
        assert!(owners(&file, "docs").is_empty());
        assert!(owners(&file, "src/docs/a.md").is_empty());
        assert!(matches("/*", "foo"));
        assert!(!matches("/*", "foo/bar"));
    }

    #[test]
    fn a_single_star_does_not_cross_a_slash_but_a_double_star_does() {
        assert!(matches("foo/*.txt", "foo/bar.txt"));
        assert!(!matches("foo/*.txt", "foo/bar/baz.txt"));
        assert!(matches("foo/*/baz", "foo/bar/baz"));
        assert!(!matches("foo/*/baz", "foo/baz"));
        assert!(!matches("foo/*/baz", "foo/a/b/baz"));
        assert!(matches("foo/**/bar", "foo/bar"));
        assert!(matches("foo/**/bar", "foo/a/b/bar/baz"));
        assert!(!matches("foo/**/bar", "qux/foo/bar"));
        assert!(matches("foo/bar/**", "foo/bar/baz/qux"));
        assert!(!matches("foo/bar/**", "foo/bar"));
        assert!(matches("f?o", "foo"));
        assert!(!matches("f?o", "fooo"));
        assert!(matches("*", "any/depth/at/all"));
    }

    #[test]
    fn a_leading_double_star_matches_a_directory_at_any_depth() {
        for path in [
            "build/logs/a",
            "scripts/logs/b",
            "deeply/nested/logs/c",
            "logs/d",
        ] {
            assert!(matches("**/logs", path), "{path}");
        }
        assert!(!matches("**/logs", "logsmith/a"));
    }

    #[test]
    fn a_line_without_owners_leaves_its_paths_unowned() {
        let file = CodeOwners::parse("/apps/ @octocat\n/apps/github\n");
        assert_eq!(owners(&file, "apps/web/index.ts"), strings(&["@octocat"]));
        assert!(owners(&file, "apps/github/index.ts").is_empty());
        let file = CodeOwners::parse("/apps/ @octocat\n/apps/github @doctocat\n");
        assert_eq!(
            owners(&file, "apps/github/index.ts"),
            strings(&["@doctocat"])
        );
    }

    #[test]
    fn escapes_give_literal_spaces_hashes_and_wildcards() {
        let file = CodeOwners::parse("/My\\ Documents/ @alice\n\\#notes.md @bob\nf\\*o @carol");
        assert!(file.warnings.is_empty(), "{:?}", file.warnings);
        assert_eq!(owners(&file, "My Documents/plan.md"), strings(&["@alice"]));
        assert_eq!(owners(&file, "#notes.md"), strings(&["@bob"]));
        assert_eq!(owners(&file, "f*o"), strings(&["@carol"]));
        assert!(owners(&file, "foo").is_empty());
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_tolerated() {
        let file = CodeOwners::parse("# heading\r\n\r\n   \r\n*.rs   @rustaceans\r\n");
        assert!(file.warnings.is_empty());
        assert_eq!(owners(&file, "src/lib.rs"), strings(&["@rustaceans"]));
    }

    #[test]
    fn unreadable_lines_are_skipped_and_reported() {
        let text = "* @all\n!*.md @nobody\n*.go not-an-owner\n/a***/ @x\n*.py @py-team\n";
        let file = CodeOwners::parse(text);
        let lines: Vec<usize> = file.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(file.warnings[0].message.contains("negation"));
        assert!(
            file.warnings[1]
                .to_string()
                .starts_with("CODEOWNERS line 3: `not-an-owner`")
        );
        // Skipped lines do not take part: *.go falls back to the first line.
        assert_eq!(owners(&file, "main.go"), strings(&["@all"]));
        assert_eq!(owners(&file, "x.py"), strings(&["@py-team"]));
    }

    #[test]
    fn paths_are_case_sensitive() {
        assert!(!matches("/Docs/", "docs/a.md"));
    }

    #[test]
    fn the_first_mapped_owner_becomes_the_assignee() {
        let map: BTreeMap<String, String> = [
            ("@octo-org/octocats", "jira-team-lead"),
            ("docs@example.com", "jira-docs"),
            ("@Doctocat", "jira-doctocat"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let owners = strings(&["@unmapped", "@doctocat", "@octo-org/octocats"]);
        assert_eq!(
            assignee_for(&owners, &map, Some("fallback")),
            Some("jira-doctocat".into())
        );
        assert_eq!(
            assignee_for(&strings(&["@OCTO-ORG/Octocats"]), &map, None),
            Some("jira-team-lead".into())
        );
        assert_eq!(
            assignee_for(&strings(&["@unmapped"]), &map, Some("fallback")),
            Some("fallback".into())
        );
        assert_eq!(assignee_for(&[], &map, None), None);
    }
}
