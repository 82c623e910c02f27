//! Why a SARIF file could not be read. Every variant but [`SarifError::Read`] is the input's fault
//! (an upload answers 400 or 413 with the message; a retry cannot help); `Read` is the reader's.

use crate::limits::Limit;

/// A SARIF file that could not be read, with the JSON path of the problem where there is one
/// (`runs[0].results[3].locations`).
#[derive(Debug, thiserror::Error)]
pub enum SarifError {
    /// Not a SARIF 2.1.0 log at all: not JSON, not an object, no or another `version`, no `runs`.
    #[error("not SARIF 2.1.0: {reason}")]
    NotSarif { reason: String },

    /// The input ends in the middle of the document.
    #[error("SARIF input is truncated: it ends inside {path} (line {line}, column {column})")]
    Truncated {
        path: String,
        line: usize,
        column: usize,
    },

    /// Not valid JSON at some point after the document began.
    #[error("SARIF input is not valid JSON at {path}: {reason} (line {line}, column {column})")]
    Syntax {
        path: String,
        reason: String,
        line: usize,
        column: usize,
    },

    /// Valid JSON, but a value has the wrong type or a required property is missing.
    #[error("invalid SARIF at {path}: {reason} (line {line}, column {column})")]
    Invalid {
        path: String,
        reason: String,
        line: usize,
        column: usize,
    },

    /// The file exceeds one of the bounds in [`crate::limits`] or [`crate::ParseOptions`].
    #[error("SARIF input rejected at {path}: {limit}")]
    LimitExceeded { path: String, limit: Limit },

    /// The reader failed (not the input's fault).
    #[error("could not read the SARIF input: {0}")]
    Read(#[source] std::io::Error),
}

impl SarifError {
    /// The JSON path of the problem (`.` for the top level), when the error has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            SarifError::Truncated { path, .. }
            | SarifError::Syntax { path, .. }
            | SarifError::Invalid { path, .. }
            | SarifError::LimitExceeded { path, .. } => Some(path),
            SarifError::NotSarif { .. } | SarifError::Read(_) => None,
        }
    }

    /// Whether the input is at fault (answer 4xx), as opposed to the reader (retry may help).
    pub fn is_input_fault(&self) -> bool {
        !matches!(self, SarifError::Read(_))
    }

    /// Whether the input was rejected for its size (answer 413).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            SarifError::LimitExceeded {
                limit: Limit::InputBytes { .. },
                ..
            }
        )
    }
}
