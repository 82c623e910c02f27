//! `scantix-sarif` reads SARIF 2.1.0 — the format every scanner writes (CodeQL, Semgrep, Bandit,
//! Checkov, Trivy, Grype, Gitleaks, ESLint, Hadolint, njsscan, …) — into normalised findings that
//! scantix can triage, group and ticket like GitHub's own alerts.
//!
//! **For:** parsing one SARIF file (from bytes or a reader, in bounded memory even at 100 MB and
//! 100,000 results), normalising each result (rule, severity, CWE/CVE, locations with
//! repository-relative paths, source → sink of its code flow, suppressions, fingerprints),
//! redacting the secrets scanners copy into results, and giving each finding an identity that
//! survives re-scans. Errors name the JSON path (`runs[0].results[3].locations`) and never panic.
//!
//! **Not for:** deciding anything. It knows nothing of repositories, refs, stored findings,
//! tickets, HTTP or AWS; it does no I/O but reading the input it is handed (decompress gzip
//! before). Comparing an analysis with the previous one, and applying it, is the engine's job.
//!
//! ```no_run
//! let bytes = std::fs::read("results.sarif")?;
//! let analysis = scantix_sarif::parse_slice(&bytes, &scantix_sarif::ParseOptions::default())?;
//! for finding in &analysis.findings {
//!     let run = &analysis.runs[finding.run_index];
//!     println!("{} {} {:?} {}", run.tool.name, finding.identity.value, finding.path(), finding.severity);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Choosing an entry point
//! | input | collect everything | one finding at a time |
//! |---|---|---|
//! | bytes in memory (an upload body, gunzipped) | [`parse_slice`] | [`stream_slice`] |
//! | a reader (a file, a gzip decoder) | [`parse_reader`] | [`stream_reader`] |
//! | a file that can be read twice, checked before anything is applied | | [`check_reader`], then [`emit_reader`] |
//!
//! From a slice, two passes: nothing is handed out unless the whole file is valid, and the order of
//! a run's keys does not matter. From a reader, one pass in bounded memory — except that results a
//! tool writes before its run's `tool` (Semgrep and Hadolint do) are held until it arrives, and
//! `originalUriBaseIds` written after `results` is not applied to the results before it. Measured on
//! 100,000 results (`cargo run --release -p bench`): ~10 MB peak streaming from a reader when `tool`
//! comes first, ~150 MB when it comes last, ~110 MB from a slice (the input itself).
//!
//! # Contract
//! Findings handed to a `stream_reader` callback before an error belong to a file that turned out
//! invalid (a reader can meet a wrong `version` after the runs): use them only once the call
//! returned `Ok`. `stream_slice` hands nothing out before the file has been checked whole, nor
//! does `emit_reader` after a `check_reader` of the same file.
//!
//! # Not read
//! Parts of SARIF no ticket needs, skipped without being held: `run.artifacts` (so a location
//! given only as an artifact index has no path), `relatedLocations`, `fixes`, `stacks`, `graphs`,
//! `webRequests`/`webResponses`, `attachments`, `notifications`, `conversion`, `contextRegion`,
//! code flows beyond the first thread flow of the first code flow, and every property bag value
//! that is not a scalar.
//!
//! # Layout
//! - `stream`: the streaming reader (serde seeds per run and per result) and its two modes.
//! - [`raw`]: the parts of SARIF read, as bounded serde types.
//! - [`bounded`]: truncating strings, bounded lists and maps, property bags.
//! - `normalise`: a run's rules table, and a result turned into a [`Finding`].
//! - [`severity`]: the order in which severity sources are tried.
//! - [`taxonomy`]: CWE and CVE ids from tags, properties, ids, taxa and relationships.
//! - [`paths`]: artifact URIs to repository-relative paths.
//! - [`redact`]: secret findings and the scrubbing of secrets from every finding.
//! - [`identity`]: identities across re-scans, and their known limits.
//! - [`model`]: what a parse returns.
//! - [`limits`]: every bound on what a file can make this crate hold.
//! - [`error`]: why a file could not be read.

pub mod bounded;
pub mod error;
pub mod identity;
pub mod limits;
pub mod model;
mod normalise;
pub mod paths;
pub mod raw;
pub mod redact;
pub mod severity;
mod stream;
pub mod taxonomy;

pub use error::SarifError;
pub use limits::{Limit, ParseOptions};
pub use model::*;

use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;
use stream::{Mode, ParseState, run_pass};

/// Parses a SARIF file held in memory, collecting every finding. Memory: the input, the findings,
/// and one run's rules table.
pub fn parse_slice(bytes: &[u8], options: &ParseOptions) -> Result<Analysis, SarifError> {
    let mut findings = Vec::new();
    let runs = stream_slice(bytes, options, |finding| findings.push(finding))?;
    Ok(Analysis { runs, findings })
}

/// Parses a SARIF file from a reader, collecting every finding.
pub fn parse_reader<R: Read>(reader: R, options: &ParseOptions) -> Result<Analysis, SarifError> {
    let mut findings = Vec::new();
    let runs = stream_reader(reader, options, |finding| findings.push(finding))?;
    Ok(Analysis { runs, findings })
}

/// Parses a SARIF file held in memory, handing each finding to `on_finding` as it is read, and
/// returns the runs. Two passes ([`check_slice`], then [`emit_slice`]): the first reads every
/// run's tool, rules and base ids and checks every result (dropping it), the second streams
/// results; so key order does not matter, no result is held, and a file that fails does so
/// before any finding is handed out.
pub fn stream_slice(
    bytes: &[u8],
    options: &ParseOptions,
    on_finding: impl FnMut(Finding),
) -> Result<Vec<RunInfo>, SarifError> {
    let checked = check_slice(bytes, options)?;
    emit_slice(checked, bytes, options, on_finding)
}

/// Parses a SARIF file from a reader in one pass, handing each finding to `on_finding` as it is
/// read, and returns the runs. A run's results are normalised once its `tool` is read; results
/// written before `tool` are held until the run ends (bounded by
/// [`ParseOptions::max_buffered_bytes`]), and `originalUriBaseIds` written after `results` does
/// not apply to them (see [`paths`]). A file that can be read twice (one on disk) streams in
/// bounded memory whatever its key order with [`check_reader`] then [`emit_reader`].
pub fn stream_reader<R: Read>(
    reader: R,
    options: &ParseOptions,
    mut on_finding: impl FnMut(Finding),
) -> Result<Vec<RunInfo>, SarifError> {
    let mut state = ParseState::new(options, Mode::Stream, &mut on_finding);
    reader_pass(reader, &mut state)?;
    Ok(state.runs)
}

/// A SARIF file a first pass read whole and found valid ([`check_slice`], [`check_reader`]): its
/// runs, and each run's context (tool, rules table, base ids, taxonomies) for the second pass
/// ([`emit_slice`], [`emit_reader`]), which then normalises each result as it is read, whatever
/// the order of a run's keys. Holds no result: its size is the runs' rules tables, bounded by
/// [`limits`], not the number of results.
pub struct Checked {
    runs: Vec<RunInfo>,
    contexts: Vec<Option<normalise::RunContext>>,
}

impl Checked {
    /// The file's runs as the first pass read them. Their `suppressed_count` is 0: results are
    /// only normalised by the second pass, whose runs carry the counts.
    pub fn runs(&self) -> &[RunInfo] {
        &self.runs
    }
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

/// The first pass over a file held in memory: checks it whole (every result read and dropped).
pub fn check_slice(bytes: &[u8], options: &ParseOptions) -> Result<Checked, SarifError> {
    if bytes.len() as u64 > options.max_input_bytes {
        return Err(SarifError::LimitExceeded {
            path: ".".to_owned(),
            limit: Limit::InputBytes {
                max: options.max_input_bytes,
            },
        });
    }
    let mut ignore = |_: Finding| {};
    let mut scan = ParseState::new(options, Mode::Scan, &mut ignore);
    run_pass(
        &mut serde_json::Deserializer::from_slice(bytes),
        &mut scan,
        &|| false,
    )?;
    Ok(Checked {
        runs: std::mem::take(&mut scan.runs),
        contexts: std::mem::take(&mut scan.contexts),
    })
}

/// The first pass over a reader: checks the file whole in bounded memory (one result at a time,
/// never the file), within [`ParseOptions::max_input_bytes`].
pub fn check_reader<R: Read>(reader: R, options: &ParseOptions) -> Result<Checked, SarifError> {
    let mut ignore = |_: Finding| {};
    let mut scan = ParseState::new(options, Mode::Scan, &mut ignore);
    reader_pass(reader, &mut scan)?;
    Ok(Checked {
        runs: std::mem::take(&mut scan.runs),
        contexts: std::mem::take(&mut scan.contexts),
    })
}

/// The second pass over the same bytes `checked` was read from: hands each finding to
/// `on_finding` as it is read, returns the runs (with their suppressed counts).
pub fn emit_slice(
    checked: Checked,
    bytes: &[u8],
    options: &ParseOptions,
    mut on_finding: impl FnMut(Finding),
) -> Result<Vec<RunInfo>, SarifError> {
    let mut emit = ParseState::new(options, Mode::Emit(checked.contexts), &mut on_finding);
    run_pass(
        &mut serde_json::Deserializer::from_slice(bytes),
        &mut emit,
        &|| false,
    )?;
    Ok(emit.runs)
}

/// The second pass over a reader of the same file `checked` was read from (the file opened
/// again): memory holds one result at a time and the runs' contexts, never the file. Should the
/// file have changed in between, a run it no longer matches is read as [`stream_reader`] reads
/// one (its results held until its `tool`, within the buffer bound); the findings are those of the
/// file as read now.
pub fn emit_reader<R: Read>(
    checked: Checked,
    reader: R,
    options: &ParseOptions,
    mut on_finding: impl FnMut(Finding),
) -> Result<Vec<RunInfo>, SarifError> {
    let mut emit = ParseState::new(options, Mode::Emit(checked.contexts), &mut on_finding);
    reader_pass(reader, &mut emit)?;
    Ok(emit.runs)
}

/// One pass of `state` over `reader`, within the input bound.
fn reader_pass<R: Read>(reader: R, state: &mut ParseState<'_>) -> Result<(), SarifError> {
    let exceeded = Rc::new(Cell::new(false));
    let limited = LimitedReader {
        inner: reader,
        remaining: state.options.max_input_bytes,
        exceeded: exceeded.clone(),
    };
    // serde_json reads a reader byte by byte: buffer it.
    let mut de =
        serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, limited));
    run_pass(&mut de, state, &|| exceeded.get())
}

/// Stops reading past a byte budget, and says so (serde_json only sees an I/O error).
struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // At the budget: input beyond it is an error, a clean end is not.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.exceeded.set(true);
                    Err(io::Error::other("SARIF input exceeds its size limit"))
                }
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..max])?;
        self.remaining -= read as u64;
        Ok(read)
    }
}
