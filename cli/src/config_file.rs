//! The local run's settings (`--config PATH`): a file in `.github/scantix.yml`'s format, read from
//! disk instead of from a repository, so that `deliver`, `sync` and `serve` judge alerts by the
//! same Rego policy, grouping, SLA and owners a deployment would. Without `--config`, the defaults
//! a deployment applies to a repository without a file: the bundled policy, no owners.
//!
//! Two things differ from a repository's file, because there is no repository around it:
//! - `policy-file` is a path relative to the settings file (not to a repository's root);
//! - one more top-level key, `codeowners: PATH` (relative to the settings file), names the
//!   CODEOWNERS to assign owners from (a deployment reads the repository's own, where GitHub
//!   looks for it).
//!
//! Unlike a deployment, which applies the defaults and reports a broken file in an issue, a local
//! run refuses a file it cannot use: the person who named it is right there to fix it.

use anyhow::{Context, bail};
use scantix_app::repo_config::{self, ConfigError, PolicySource};
use scantix_app::repo_settings::{Policy, RepoSettings};
use scantix_core::owners::CodeOwners;
use std::path::{Path, PathBuf};

/// The local-only key naming the CODEOWNERS file.
const CODEOWNERS_KEY: &str = "codeowners";

/// Largest settings, policy or CODEOWNERS file read: far above any real one (GitHub ignores a
/// CODEOWNERS over 3 MB), and a typo naming a huge file fails fast instead of filling memory.
const MAX_FILE_BYTES: u64 = 3 * 1024 * 1024;

/// The settings `path` names, or the defaults without one.
pub fn load(path: Option<&Path>) -> anyhow::Result<RepoSettings> {
    match path {
        None => Ok(RepoSettings::defaults()),
        Some(path) => read_settings(path),
    }
}

fn read_settings(path: &Path) -> anyhow::Result<RepoSettings> {
    let text = read_capped(path).with_context(|| format!("reading --config {}", path.display()))?;
    let (yaml, codeowners) = take_codeowners(&text).map_err(|e| located(path, &e))?;
    let config = repo_config::parse(&yaml).map_err(|e| located(path, &e))?;
    let dir = path.parent().unwrap_or(Path::new("."));

    let policy = match config.policy_source() {
        PolicySource::Bundled => Policy::default_policy(),
        // `parse` compiled it already (and located any error in the file); this cannot fail
        // differently.
        PolicySource::Inline(source) => Policy::from_rego(source)
            .with_context(|| format!("{}: the inline `policy`", path.display()))?,
        PolicySource::File { path: file, .. } => {
            let policy_path = dir.join(file);
            let source = read_capped(&policy_path).with_context(|| {
                format!(
                    "{}: reading `policy-file: {file}` (relative to the settings file): {}",
                    path.display(),
                    policy_path.display()
                )
            })?;
            Policy::from_rego(&source).with_context(|| {
                format!(
                    "{}: the policy in {}",
                    path.display(),
                    policy_path.display()
                )
            })?
        }
    };

    let owners = match codeowners {
        None => None,
        Some(file) => {
            let owners_path = dir.join(&file);
            let text = read_capped(&owners_path).with_context(|| {
                format!(
                    "{}: reading `codeowners: {}` (relative to the settings file): {}",
                    path.display(),
                    file.display(),
                    owners_path.display()
                )
            })?;
            Some(CodeOwners::parse(&text))
        }
    };

    Ok(RepoSettings {
        engine: config.engine_config(),
        config,
        policy,
        owners,
        problems: Vec::new(),
        kev: None,
    })
}

/// Reads a text file of at most [`MAX_FILE_BYTES`].
fn read_capped(path: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_FILE_BYTES {
        bail!("{size} bytes is more than the {MAX_FILE_BYTES} a settings file may have");
    }
    Ok(std::fs::read_to_string(path)?)
}

/// The file without its `codeowners:` line, and that line's path. The line is blanked rather than
/// removed, so that an error in the rest of the file keeps its line number.
fn take_codeowners(text: &str) -> Result<(String, Option<PathBuf>), ConfigError> {
    let mut found = None;
    let mut kept = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let value = line
            .strip_prefix(CODEOWNERS_KEY)
            .and_then(|rest| rest.trim_start().strip_prefix(':'));
        let Some(value) = value else {
            kept.push(line);
            continue;
        };
        let at = |message: String, fix: &str| ConfigError {
            line: Some(index + 1),
            column: Some(1),
            message,
            fix: fix.into(),
        };
        if found.is_some() {
            return Err(at(
                "`codeowners` is given twice".into(),
                "remove one of the two entries",
            ));
        }
        // The value as YAML reads it (quoted or not, a trailing comment dropped).
        let path = match serde_norway::from_str::<Option<String>>(value) {
            Ok(Some(path)) if !path.trim().is_empty() => path,
            _ => {
                return Err(at(
                    format!(
                        "`codeowners` must be a path on the same line, not `{}`",
                        value.trim()
                    ),
                    "give the CODEOWNERS file's path, relative to this file: `codeowners: CODEOWNERS`",
                ));
            }
        };
        found = Some(PathBuf::from(path));
        kept.push("");
    }
    Ok((kept.join("\n"), found))
}

/// A format error, located in the file the user named (the library's message names
/// `.github/scantix.yml`, the file's usual place).
fn located(path: &Path, error: &ConfigError) -> anyhow::Error {
    let at = match (error.line, error.column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: "),
        (Some(line), None) => format!("line {line}: "),
        _ => String::new(),
    };
    anyhow::anyhow!(
        "--config {}: {at}{} — {}",
        path.display(),
        error.message,
        error.fix
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codeowners_line_is_taken_out_and_the_others_keep_their_numbers() {
        let (yaml, codeowners) = take_codeowners(
            "grouping:\n  code-scanning: file\ncodeowners: \"docs/OWNERS\" # ours\nsla:\n",
        )
        .unwrap();
        assert_eq!(codeowners, Some(PathBuf::from("docs/OWNERS")));
        assert_eq!(
            yaml.lines().collect::<Vec<_>>(),
            ["grouping:", "  code-scanning: file", "", "sla:"]
        );
        // `codeowners-x:` or an indented key is not the top-level key.
        let (_, none) = take_codeowners("owners:\n  codeowners: x\n").unwrap();
        assert_eq!(none, None);
    }

    #[test]
    fn a_codeowners_key_without_a_path_is_located() {
        for bad in [
            "codeowners:\n",
            "codeowners: [a, b]\n",
            "sla: {}\ncodeowners: a\ncodeowners: b\n",
        ] {
            let e = take_codeowners(bad).unwrap_err();
            assert!(e.line.is_some(), "{bad:?}: {e}");
        }
    }
}
