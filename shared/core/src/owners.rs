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
//!
//! # Limits
//! The file is the repository's to write, and a lookup runs once per finding, so the work is
//! bounded whatever the file says (each limit is a named constant below):
//! - a file of [`MAX_FILE_BYTES`] (GitHub's 3 MB) or more is ignored whole, as GitHub ignores it,
//!   and so is one with more than [`MAX_RULES`] rules (the rest of a file cannot be dropped: the
//!   last matching line wins, so dropping lines would hand paths to the wrong owners);
//! - a pattern longer than [`MAX_PATTERN_CHARS`] is skipped, like any unreadable line;
//! - a path longer than [`MAX_PATH_CHARS`] has no owner;
//! - matching is a table fill, not a search: one pattern of `P` characters against a path of `T`
//!   costs at most about `(P + 1) × (T + 1)` steps (the proof is at [`Pattern::matches`]), and a
//!   lookup stops after [`MAX_LOOKUP_STEPS`] steps, which only a file written to be slow reaches.

use std::collections::BTreeMap;
use std::fmt;

/// GitHub does not load a CODEOWNERS file of 3 MB or more ("CODEOWNERS files must be under 3 MB
/// in size"); neither does scantix.
pub const MAX_FILE_BYTES: usize = 3 * 1024 * 1024;

/// The most rules scantix reads from one file: a file just under GitHub's size limit holds about
/// 60,000 lines of a typical 50 characters, and 100,000 of 30. More is a generated file gone
/// wrong (one line per file rather than per directory).
pub const MAX_RULES: usize = 100_000;

/// The longest pattern read, in characters: Linux's `PATH_MAX`, so no pattern naming a real path
/// is ever skipped.
pub const MAX_PATTERN_CHARS: usize = 4_096;

/// The longest path looked up, in characters (`PATH_MAX` again).
pub const MAX_PATH_CHARS: usize = 4_096;

/// The most matching steps (table cells filled) one lookup may take. Measured (release build, one
/// core): a lookup in a 60,000-rule file of ordinary patterns takes ~5 million steps (~20 ms); a
/// file of lines written to be slow, thousands of characters each, is stopped here after ~60 ms.
pub const MAX_LOOKUP_STEPS: u64 = 100_000_000;

/// A parsed CODEOWNERS file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeOwners {
    rules: Vec<OwnerRule>,
    /// Lines that were skipped, and why; show them to whoever maintains the file.
    pub warnings: Vec<OwnersWarning>,
    /// Why the whole file was ignored (over a limit of the module's `# Limits`), when it was.
    pub refused: Option<String>,
}

/// Why a lookup gave up rather than answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("the path is {chars} characters long; CODEOWNERS lookups stop at {MAX_PATH_CHARS}")]
    PathTooLong { chars: usize },
    #[error(
        "matching the path against CODEOWNERS took more than {MAX_LOOKUP_STEPS} steps and was \
         stopped: simplify the patterns (fewer `*` and `**` in a line, shorter lines)"
    )]
    TooCostly,
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
    ///
    /// A file over a limit (see the module's `# Limits`) has no rules and says why in `refused`.
    pub fn parse(text: &str) -> CodeOwners {
        if text.len() >= MAX_FILE_BYTES {
            return CodeOwners::refusing(format!(
                "CODEOWNERS is {} bytes; GitHub and scantix ignore a file of 3 MB ({MAX_FILE_BYTES} \
                 bytes) or more: shorten it (one line per directory rather than per file)",
                text.len()
            ));
        }
        let mut owners = CodeOwners::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some(rule)) => owners.rules.push(rule),
                Err(message) => owners.warnings.push(OwnersWarning { line, message }),
            }
            if owners.rules.len() > MAX_RULES {
                return CodeOwners::refusing(format!(
                    "CODEOWNERS has more than {MAX_RULES} rules (line {line} is one too many); \
                     scantix ignores it: give directories, not single files, their owners"
                ));
            }
        }
        owners
    }

    fn refusing(why: String) -> CodeOwners {
        CodeOwners {
            refused: Some(why),
            ..CodeOwners::default()
        }
    }

    /// The owners of `path` (repository-relative, with or without a leading `/`): those of the
    /// last line whose pattern matches it. Empty when no line matches, or the last one that does
    /// names no owners, or the lookup gave up ([`CodeOwners::lookup`] says why).
    pub fn owners_of(&self, path: &str) -> &[String] {
        self.lookup(path).unwrap_or(&[])
    }

    /// [`CodeOwners::owners_of`], or why the lookup gave up: a path over [`MAX_PATH_CHARS`], or
    /// more than [`MAX_LOOKUP_STEPS`] steps of matching.
    pub fn lookup(&self, path: &str) -> Result<&[String], LookupError> {
        self.lookup_within(path, MAX_LOOKUP_STEPS)
    }

    /// [`CodeOwners::lookup`] with `steps` to spend instead of [`MAX_LOOKUP_STEPS`].
    fn lookup_within(&self, path: &str, steps: u64) -> Result<&[String], LookupError> {
        let chars = path.chars().count();
        if chars > MAX_PATH_CHARS {
            return Err(LookupError::PathTooLong { chars });
        }
        let segments: Vec<Vec<char>> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().collect())
            .collect();
        if segments.is_empty() {
            return Ok(&[]);
        }
        let mut budget = Budget { left: steps };
        for rule in self.rules.iter().rev() {
            if rule.pattern.matches(&segments, &mut budget)? {
                return Ok(rule.owners.as_slice());
            }
        }
        Ok(&[])
    }
}

/// Matching steps left to one lookup.
struct Budget {
    left: u64,
}

impl Budget {
    /// Takes `steps` (cells about to be filled), or fails the lookup when they are not left.
    fn spend(&mut self, steps: usize) -> Result<(), LookupError> {
        let steps = u64::try_from(steps).unwrap_or(u64::MAX);
        self.left = self.left.checked_sub(steps).ok_or(LookupError::TooCostly)?;
        Ok(())
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

/// The tracker user a GitHub `login` is, by the owners map (`@login` → user; keys match as in
/// [`assignee_for`]). `None` when the map does not name the login.
pub fn tracker_user_for_login(login: &str, map: &BTreeMap<String, String>) -> Option<String> {
    assignee_for(&[login.to_owned()], map, None)
}

/// The GitHub login a tracker `user` is, by the owners map read backwards: the first user key
/// (`@login`; a team `@org/team` or an email address names no one login) that maps to `user`.
pub fn login_for_tracker_user(user: &str, map: &BTreeMap<String, String>) -> Option<String> {
    map.iter()
        .filter(|(_, mapped)| mapped.trim() == user.trim())
        .map(|(key, _)| key.trim().trim_start_matches('@'))
        .find(|login| {
            !login.is_empty()
                && login
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
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
    let length = pattern_text.chars().count();
    if length > MAX_PATTERN_CHARS {
        return Err(format!(
            "the pattern is {length} characters long; scantix reads patterns of up to \
             {MAX_PATTERN_CHARS}: name a shorter directory"
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

    /// Whether the pattern matches `path` (its segments, none empty).
    ///
    /// Both levels are filled as tables, left to right, never by trying splits: `reach[n]` says
    /// whether the segments seen so far match the first `n` path segments, and each pattern
    /// segment turns one row into the next — `**` by a running OR (zero or more segments), a glob
    /// by testing path segment `n` only where `reach[n]` holds. A glob is matched against one path
    /// segment the same way, one row per token (`*` a running OR, `?` and a character a shift).
    ///
    /// Bound: with `K` pattern segments and `N` path segments, the segment table is `(K + 1) ×
    /// (N + 1)` cells, and each (pattern segment `k`, path segment `n`) pair is matched at most
    /// once, in `(G_k + 1) × (S_n + 1)` cells for `G_k` tokens and `S_n` characters. Summed,
    /// `Σ_k (G_k + 1) ≤ P + 1` and `Σ_n (S_n + 1) ≤ T + 1` for a pattern of `P` characters and a
    /// path of `T`, so one match costs at most `(K + 1)(N + 1) + (P + 1)(T + 1)` steps, each
    /// charged to the lookup's budget before it is taken. Rows that come out all false end the
    /// match at once, which is what keeps ordinary patterns to a few steps.
    fn matches(&self, path: &[Vec<char>], budget: &mut Budget) -> Result<bool, LookupError> {
        let last = self.segments.len().saturating_sub(1);
        let mut reach = vec![false; path.len() + 1];
        reach[0] = true;
        let mut next = vec![false; path.len() + 1];
        for (k, segment) in self.segments.iter().enumerate() {
            budget.spend(reach.len())?;
            match segment {
                Segment::AnyDepth => {
                    // Zero or more segments, or one or more when `**` ends the pattern (it then
                    // stands for "everything inside").
                    let at_least_one = k == last;
                    let mut seen = false;
                    for n in 0..reach.len() {
                        if !at_least_one {
                            seen |= reach[n];
                        }
                        next[n] = seen;
                        if at_least_one {
                            seen |= reach[n];
                        }
                    }
                }
                Segment::Glob(tokens) => {
                    next[0] = false;
                    for n in 0..path.len() {
                        next[n + 1] = reach[n] && glob_matches(tokens, &path[n], budget)?;
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
            if !reach.contains(&true) {
                return Ok(false);
            }
        }
        // Past the last segment: the whole path, or (for a pattern naming a directory) any part
        // of it, what is left being inside.
        Ok(reach[path.len()] || (self.covers_descendants && reach.contains(&true)))
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

/// Whether `tokens` match all of `text` (one path segment): `row[j]` says whether the tokens
/// seen so far match the first `j` characters. See [`Pattern::matches`] for the bound.
fn glob_matches(tokens: &[Token], text: &[char], budget: &mut Budget) -> Result<bool, LookupError> {
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for token in tokens {
        budget.spend(row.len())?;
        match token {
            Token::Star => {
                let mut seen = false;
                for cell in row.iter_mut() {
                    seen |= *cell;
                    *cell = seen;
                }
            }
            Token::AnyChar | Token::Char(_) => {
                // Right to left, so that each cell reads its left neighbour's old value.
                for j in (0..text.len()).rev() {
                    let fits = match token {
                        Token::Char(c) => text[j] == *c,
                        _ => true,
                    };
                    row[j + 1] = row[j] && fits;
                }
                row[0] = false;
            }
        }
        if !row.contains(&true) {
            return Ok(false);
        }
    }
    Ok(row[text.len()])
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

    /// Lines a hostile (or careless) repository can write: a matcher that tries every split of
    /// `*` and `**` needs ~10⁸ steps for each of them on the paths of [`hostile_paths`].
    const HOSTILE: &[&str] = &[
        "a*a*a*a*a*a*a*a*b",
        "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c",
        "a*a*a*a*a*a*a*a*b/**/c",
        "**/a*a*a*a*a*a*a*a*b/**/*a*a*a*a*a*a*a*b",
        "/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/**/z/**/**/**/**/**/**/**/y",
    ];

    /// Paths that make the lines above try every split: a 40-character segment, and 60 short ones.
    fn hostile_paths() -> [String; 2] {
        ["a".repeat(40), vec!["a"; 60].join("/")]
    }

    fn hostile_file() -> CodeOwners {
        let text: String = HOSTILE.iter().map(|p| format!("{p} @hostile\n")).collect();
        let file = CodeOwners::parse(&text);
        assert!(file.warnings.is_empty(), "{:?}", file.warnings);
        assert_eq!(file.rules.len(), HOSTILE.len());
        file
    }

    #[test]
    fn hostile_patterns_are_matched_in_bounded_time() {
        let file = hostile_file();
        let paths = hostile_paths();
        // 10,000 lookups, each against all five hostile lines: hours for a matcher that tries
        // every split (a single lookup takes it minutes); a second or so for this one in a debug
        // build. The deadline only turns "hangs" into a failure, far above what the work takes.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut unowned = 0;
            for round in 0..10_000 {
                if file.lookup(&paths[round % paths.len()]) == Ok(&[]) {
                    unowned += 1;
                }
            }
            let _ = done.send(unowned);
        });
        let unowned = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("10,000 hostile CODEOWNERS lookups did not finish within 60 s");
        // None of the hostile lines matches these paths: every lookup was a full search.
        assert_eq!(unowned, 10_000);
    }

    #[test]
    fn matching_stays_within_its_proven_bound() {
        // `Pattern::matches`: at most (K + 1)(N + 1) + (P + 1)(T + 1) steps per pattern. K ≤ P + 2
        // (the implicit leading and trailing `**`), N ≤ T + 1: the bound below is above that, and
        // a lookup given only these steps must still answer.
        let long_path = vec!["a".repeat(40); 30].join("/");
        for pattern in HOSTILE {
            let file = CodeOwners::parse(&format!("{pattern} @hostile"));
            for path in hostile_paths().iter().chain([&long_path]) {
                let (p, t) = (pattern.chars().count() as u64, path.chars().count() as u64);
                let bound = 2 * (p + 3) * (t + 2);
                assert_eq!(
                    file.lookup_within(path, bound),
                    Ok(&[][..]),
                    "`{pattern}` against a {t}-character path took more than {bound} steps"
                );
            }
        }
        // A backtracking matcher far exceeds these bounds: the first line against one
        // 40-character segment costs it ~10⁸ tries of `*`; the bound there is 1,680 steps.
    }

    #[test]
    fn a_lookup_over_its_budget_stops_with_a_reason() {
        let file = hostile_file();
        let path = vec!["a".repeat(40); 30].join("/");
        assert_eq!(
            file.lookup_within(&path, 1_000),
            Err(LookupError::TooCostly)
        );
        assert!(
            LookupError::TooCostly
                .to_string()
                .contains("simplify the patterns")
        );
        // The same lookup with the real budget answers.
        assert_eq!(file.lookup(&path), Ok(&[][..]));
    }

    #[test]
    fn a_file_of_3_mb_or_more_is_ignored_as_github_ignores_it() {
        let line = "/some/directory/of/the/repository/ @octo-org/owners\n";
        let text = line.repeat(MAX_FILE_BYTES / line.len() + 1);
        assert!(text.len() >= MAX_FILE_BYTES);
        let file = CodeOwners::parse(&text);
        assert!(file.rules.is_empty());
        let why = file.refused.unwrap();
        assert!(why.contains("3 MB") && why.contains("shorten it"), "{why}");
        // Just under the limit, the file is read (and the rule count is within its cap).
        let text = line.repeat((MAX_FILE_BYTES - 1) / line.len());
        let file = CodeOwners::parse(&text);
        assert_eq!(file.refused, None);
        assert_eq!(
            owners(&file, "some/directory/of/the/repository/x.rs"),
            strings(&["@octo-org/owners"])
        );
    }

    #[test]
    fn a_file_with_too_many_rules_is_ignored_whole() {
        let text = "*.rs @rustaceans\n".repeat(MAX_RULES + 1);
        let file = CodeOwners::parse(&text);
        assert!(file.rules.is_empty());
        assert!(file.refused.unwrap().contains("more than 100000 rules"));
        let text = "*.rs @rustaceans\n".repeat(MAX_RULES);
        let file = CodeOwners::parse(&text);
        assert_eq!(file.refused, None);
        assert_eq!(owners(&file, "src/lib.rs"), strings(&["@rustaceans"]));
    }

    #[test]
    fn an_overlong_pattern_is_skipped_and_an_overlong_path_has_no_owner() {
        let long = "d".repeat(MAX_PATTERN_CHARS + 1);
        let file = CodeOwners::parse(&format!("* @all\n/{long} @long\n"));
        assert_eq!(file.rules.len(), 1);
        assert_eq!(file.warnings[0].line, 2);
        assert!(file.warnings[0].message.contains("up to 4096"));
        let path = "a/".repeat(MAX_PATH_CHARS / 2) + "b";
        assert_eq!(
            file.lookup(&path),
            Err(LookupError::PathTooLong {
                chars: MAX_PATH_CHARS + 1
            })
        );
        assert!(file.owners_of(&path).is_empty());
        assert_eq!(owners(&file, "a/b"), strings(&["@all"]));
    }

    #[test]
    fn logins_and_tracker_users_map_both_ways_through_the_owners_map() {
        let map: BTreeMap<String, String> = [
            ("@acme/web", "u-web"),
            ("@Alice", "u-alice"),
            ("alice@acme.example", "u-mail"),
            ("@bob", "u-web"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            tracker_user_for_login("alice", &map).as_deref(),
            Some("u-alice")
        );
        assert_eq!(tracker_user_for_login("carol", &map), None);
        assert_eq!(
            login_for_tracker_user("u-alice", &map).as_deref(),
            Some("Alice")
        );
        // A team names no one login; a user mapped to the same account does.
        assert_eq!(
            login_for_tracker_user("u-web", &map).as_deref(),
            Some("bob")
        );
        assert_eq!(login_for_tracker_user("u-mail", &map), None);
        assert_eq!(login_for_tracker_user("nobody", &map), None);
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
