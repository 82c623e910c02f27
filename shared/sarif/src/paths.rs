//! Artifact URIs to repository-relative paths.
//!
//! - A relative URI (`app.py`, `src/a%20b.js`) is percent-decoded and cleaned (`./`, `//`, `.`
//!   segments; `\` becomes `/`). With a `uriBaseId`, the base's own relative prefix from
//!   `originalUriBaseIds` is prepended (`SUB = {uri: "src/", uriBaseId: "SRCROOT"}` makes `a.py`
//!   relative to `SUB` into `src/a.py`); a base that `originalUriBaseIds` does not define, or that
//!   is absolute, is taken to be the checkout (the `%SRCROOT%` convention).
//! - An absolute `file://` URI (ESLint writes `file:///home/runner/work/app/app/server.js`) is made
//!   relative to, in order: the run's absolute `originalUriBaseIds` whose names say they are a
//!   source root (`SRCROOT`, `%SRCROOT%`, `ROOTPATH`, anything containing `SRC` or `ROOT`), the
//!   caller's [`crate::ParseOptions::source_roots`], and the checkout layouts of GitHub Actions
//!   runners: `/home/runner/work/<repo>/<repo>/`, `/Users/runner/work/<repo>/<repo>/`,
//!   `<drive>:/a/<repo>/<repo>/`, `/__w/<repo>/<repo>/` (container jobs), `/github/workspace/`
//!   (Docker actions). None matching: the absolute path is kept, with `relative: false`.
//! - Other schemes (`https:`) are kept as given, not as a path.
//!
//! Known limits: `artifactLocation.index` into `run.artifacts` is not followed (a location that
//! gives only an index has no path); `originalUriBaseIds` written after `results` is not seen by
//! [`crate::stream_reader`] for results before it (it is by [`crate::stream_slice`]).

use crate::limits::MAX_BASE_ID_HOPS;
use crate::raw::RawArtifactLocation;
use std::collections::BTreeMap;

/// A resolved path: the path and whether it is relative to the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    pub path: String,
    pub relative: bool,
}

/// Resolves one artifact location (see the module docs).
pub fn resolve(
    uri: &str,
    uri_base_id: Option<&str>,
    base_ids: &BTreeMap<String, RawArtifactLocation>,
    source_roots: &[String],
) -> Option<ResolvedPath> {
    let decoded = percent_decode(uri.trim()).replace('\\', "/");
    if decoded.is_empty() {
        return None;
    }
    if let Some(absolute) = file_uri_path(&decoded) {
        return Some(make_relative(&absolute, base_ids, source_roots));
    }
    if has_scheme(&decoded) {
        return Some(ResolvedPath {
            path: decoded,
            relative: false,
        });
    }
    if is_absolute_path(&decoded) {
        return Some(make_relative(&clean(&decoded), base_ids, source_roots));
    }
    let prefix = uri_base_id
        .map(|base| base_prefix(base, base_ids, source_roots, 0))
        .unwrap_or_default();
    let path = clean(&format!("{prefix}{decoded}"));
    (!path.is_empty()).then_some(ResolvedPath {
        path,
        relative: true,
    })
}

/// The repository-relative prefix a base id stands for ("" for the checkout itself).
fn base_prefix(
    base: &str,
    base_ids: &BTreeMap<String, RawArtifactLocation>,
    source_roots: &[String],
    hops: usize,
) -> String {
    let Some(entry) = base_ids.get(base) else {
        return String::new();
    };
    let Some(uri) = entry
        .uri
        .as_ref()
        .map(|u| percent_decode(u.as_str()).replace('\\', "/"))
    else {
        return String::new();
    };
    if let Some(absolute) = file_uri_path(&uri) {
        // An absolute base under a known checkout root stands for the part below it.
        let resolved = make_relative(&absolute, &BTreeMap::new(), source_roots);
        return if resolved.relative && !resolved.path.is_empty() {
            format!("{}/", resolved.path)
        } else {
            String::new()
        };
    }
    if has_scheme(&uri) || is_absolute_path(&uri) {
        return String::new();
    }
    let parent = match (&entry.uri_base_id, hops < MAX_BASE_ID_HOPS) {
        (Some(parent), true) if parent.as_str() != base => {
            base_prefix(parent.as_str(), base_ids, source_roots, hops + 1)
        }
        _ => String::new(),
    };
    let own = clean(&uri);
    if own.is_empty() {
        parent
    } else {
        format!("{parent}{own}/")
    }
}

/// The absolute path of a `file:` URI (`file:///x`, `file://host/x`, `file:////x`,
/// `file:///C:/x`, `file:/x`), cleaned.
fn file_uri_path(uri: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(uri, "file:")?;
    let path = match rest.strip_prefix("//") {
        // `file://localhost/x` or `file:///x`: drop the authority.
        Some(after) => match after.find('/') {
            Some(slash) => &after[slash..],
            None => return None,
        },
        None => rest,
    };
    // `/C:/code` is a Windows drive path.
    let path = match path.as_bytes() {
        [b'/', drive, b':', ..] if drive.is_ascii_alphabetic() => &path[1..],
        _ => path,
    };
    Some(clean(path))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `scheme:` per RFC 3986, excluding a one-letter Windows drive (`C:`).
fn has_scheme(text: &str) -> bool {
    match text.find(':') {
        Some(colon) if colon > 1 => {
            let scheme = &text[..colon];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        _ => false,
    }
}

fn is_absolute_path(path: &str) -> bool {
    path.starts_with('/')
        || matches!(path.as_bytes(), [drive, b':', b'/', ..] if drive.is_ascii_alphabetic())
}

/// Makes an absolute (cleaned) path repository-relative when a root is known.
fn make_relative(
    absolute: &str,
    base_ids: &BTreeMap<String, RawArtifactLocation>,
    source_roots: &[String],
) -> ResolvedPath {
    let base_roots = base_ids.iter().filter_map(|(name, entry)| {
        let upper = name.to_ascii_uppercase();
        let named_root = upper.contains("SRC") || upper.contains("ROOT");
        if !named_root || entry.uri_base_id.is_some() {
            return None;
        }
        entry
            .uri
            .as_ref()
            .and_then(|u| file_uri_path(&percent_decode(u.as_str()).replace('\\', "/")))
    });
    let caller_roots = source_roots.iter().map(|root| {
        let root = root.replace('\\', "/");
        file_uri_path(&root).unwrap_or_else(|| clean(&root))
    });
    for root in base_roots.chain(caller_roots) {
        if let Some(rest) = below(absolute, &root) {
            return ResolvedPath {
                path: rest.to_owned(),
                relative: true,
            };
        }
    }
    if let Some(rest) = below_ci_checkout(absolute) {
        return ResolvedPath {
            path: rest.to_owned(),
            relative: true,
        };
    }
    ResolvedPath {
        path: absolute.to_owned(),
        relative: false,
    }
}

/// The part of `path` below directory `root` (both cleaned), if non-empty.
fn below<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return None;
    }
    let rest = path.strip_prefix(root)?.strip_prefix('/')?;
    (!rest.is_empty()).then_some(rest)
}

/// The part below a GitHub Actions checkout (see the module docs).
fn below_ci_checkout(path: &str) -> Option<&str> {
    if let Some(rest) = path.strip_prefix("/github/workspace/") {
        return (!rest.is_empty()).then_some(rest);
    }
    let after_work = ["/home/runner/work/", "/Users/runner/work/", "/__w/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))
        .or_else(|| match path.as_bytes() {
            [drive, b':', b'/', b'a', b'/', ..] if drive.is_ascii_alphabetic() => Some(&path[5..]),
            _ => None,
        })?;
    // <repo>/<repo>/rest: the runner checks a repository out under its name, twice.
    let mut parts = after_work.splitn(3, '/');
    let (_owner_dir, _repo_dir, rest) = (parts.next()?, parts.next()?, parts.next()?);
    (!rest.is_empty()).then_some(rest)
}

/// Removes empty and `.` segments, resolves `..` where it does not climb out, keeps a leading `/`.
fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let joined = segments.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// `%XX` escapes decoded (RFC 3986); invalid UTF-8 in the result is replaced, not an error.
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounded::Text;

    fn base(uri: &str, parent: Option<&str>) -> RawArtifactLocation {
        RawArtifactLocation {
            uri: Some(Text(uri.to_owned())),
            uri_base_id: parent.map(|p| Text(p.to_owned())),
        }
    }

    fn path(
        uri: &str,
        base_id: Option<&str>,
        bases: &BTreeMap<String, RawArtifactLocation>,
    ) -> (String, bool) {
        let r = resolve(uri, base_id, bases, &[]).unwrap();
        (r.path, r.relative)
    }

    #[test]
    fn relative_uris_are_cleaned_and_decoded() {
        let none = BTreeMap::new();
        assert_eq!(
            path("./src//a%20b.py", Some("%SRCROOT%"), &none),
            ("src/a b.py".into(), true)
        );
        assert_eq!(
            path("src\\x\\..\\y.c", None, &none),
            ("src/y.c".into(), true)
        );
    }

    #[test]
    fn nested_base_ids_prefix_their_relative_part() {
        let mut bases = BTreeMap::new();
        bases.insert("SRCROOT".to_owned(), base("file:///home/u/repo/", None));
        bases.insert("LIB".to_owned(), base("lib/", Some("SRCROOT")));
        bases.insert("LOOP".to_owned(), base("x/", Some("LOOP")));
        assert_eq!(path("a.py", Some("LIB"), &bases), ("lib/a.py".into(), true));
        assert_eq!(path("a.py", Some("LOOP"), &bases), ("x/a.py".into(), true));
        assert_eq!(
            path("file:///home/u/repo/src/a.py", None, &bases),
            ("src/a.py".into(), true)
        );
    }

    #[test]
    fn absolute_uris_on_ci_runners_become_relative() {
        let none = BTreeMap::new();
        assert_eq!(
            path(
                "file:///home/runner/work/app/app/src/server.js",
                None,
                &none
            ),
            ("src/server.js".into(), true)
        );
        assert_eq!(
            path("file:///D:/a/app/app/x.cs", None, &none),
            ("x.cs".into(), true)
        );
        assert_eq!(
            path("file:///github/workspace/x.tf", None, &none),
            ("x.tf".into(), true)
        );
        assert_eq!(
            path("file:////src/.venv/lib/x.js", None, &none),
            ("/src/.venv/lib/x.js".into(), false)
        );
        assert_eq!(
            path("file:///C:/code/file1.c", None, &none),
            ("C:/code/file1.c".into(), false)
        );
        assert_eq!(
            path("https://example.com/x.js", None, &none),
            ("https://example.com/x.js".into(), false)
        );
    }

    #[test]
    fn caller_roots_apply_to_absolute_paths() {
        let r = resolve(
            "file:///srv/build/repo/a/b.go",
            None,
            &BTreeMap::new(),
            &["/srv/build/repo/".to_owned()],
        )
        .unwrap();
        assert_eq!(
            r,
            ResolvedPath {
                path: "a/b.go".into(),
                relative: true
            }
        );
    }

    #[test]
    fn nothing_panics_on_odd_input() {
        for odd in [
            "%",
            "%4",
            "%zz",
            "file:",
            "file://",
            "file://host",
            "C:",
            "/",
            "..",
            "é%C3",
            "::",
        ] {
            let _ = resolve(odd, Some("X"), &BTreeMap::new(), &[]);
        }
    }
}
