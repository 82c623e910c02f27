//! SARIF reading at scale: a ~100 MB file of 100,000 results, made by replicating real results
//! (CodeQL with code flows, Semgrep with fingerprints, Bandit, njsscan with a secret, ESLint with
//! absolute URIs, Checkov), each copy in its own directory, moved down a few lines, fingerprints
//! suffixed, so every identity differs (the child checks 100,000 distinct ones). Figures: results per second, and the peak resident memory of parsing it.
//!
//! Peak memory is measured in a fresh child process (this binary re-run with
//! [`CHILD_FLAG`]): it parses the file and reports its own `VmHWM` (the kernel's high-water mark of
//! resident memory, from `/proc/self/status`). Measuring in this process would count everything
//! the other benchmarks allocated. The child's baseline (the same process parsing nothing) is
//! printed beside it, so the parse's own share is the difference.
//!
//! # Applying it
//! The same file applied as one analysis through the real path (`apply_analysis`: the whole-file
//! check, results streamed through `decide` and the executor in batches, the open list written)
//! onto the embedded store (SQLite) with the draft tracker, in the measuring child:
//! `sarif_apply_results_per_sec_100k` and `sarif_apply_peak_rss_mb_100k_results` (the file read
//! from disk twice, never held whole, as `scantix sarif` reads it), and the same with
//! `_in_memory` (the file handed over as bytes, as the worker hands an upload's body). The store's
//! database lives in a RAM-backed directory (`/dev/shm`) where there is one: its pages are the
//! kernel's, not the child's, so the peak is the applier's own memory (one batch of findings, the
//! identities seen, and the file when it is in memory) and the rate is scantix's work rather than one disk sync per
//! commit (`synchronous=FULL`: some milliseconds each on a virtual disk).

use crate::measure::figure;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Re-runs this binary as the measuring child: `bench --sarif-peak-rss MODE FILE`.
pub const CHILD_FLAG: &str = "--sarif-peak-rss";

const RESULTS: usize = 100_000;

/// Real SARIF files whose runs are replicated, and each one's share of the results. The shares
/// favour the larger results (CodeQL ~1.0 KB, Semgrep ~1.6 KB written compactly; the others
/// 0.35-0.7 KB) so the file is about 100 MB, the size issue 9 names.
const SOURCES: &[(&str, usize)] = &[
    (
        "shared:sarif/codeql/fabasoad-sarif-to-slack.codeql-ruby.sarif",
        3,
    ),
    (
        "shared:sarif/semgrep/defectdojo.semgrep-oss-1.69.0.issue_10191.sarif",
        4,
    ),
    ("repo:tests/fixtures/sarif/generated/bandit-1.9.4.sarif", 1),
    ("repo:tests/fixtures/sarif/generated/njsscan-1.0.1.sarif", 1),
    ("repo:tests/fixtures/sarif/generated/eslint-9.39.5.sarif", 1),
    (
        "repo:tests/fixtures/sarif/generated/checkov-3.3.30.sarif",
        1,
    ),
];

pub fn run() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("scantix-bench-sarif-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let _cleanup = RemoveOnDrop(dir.clone());
    let tool_first = dir.join("tool-first.sarif");
    let results_first = dir.join("results-first.sarif");
    let written = write_file(&tool_first, RunOrder::ToolFirst)?;
    write_file(&results_first, RunOrder::ResultsFirst)?;
    let size = std::fs::metadata(&tool_first)?.len();
    figure(
        "sarif_file_mb_100k_results",
        format!("{:.1}", size as f64 / 1e6),
    );

    // Throughput: a reader over the file (the CLI's and a streaming upload's path), then a slice
    // already in memory (two passes). One untimed warm-up, then the mean of three runs.
    let options = scantix_sarif::ParseOptions::default();
    let from_reader = || -> Result<usize> {
        let mut n = 0;
        let file = std::fs::File::open(&tool_first)?;
        scantix_sarif::stream_reader(file, &options, |_| n += 1)?;
        Ok(n)
    };
    let per_sec = |op: &dyn Fn() -> Result<usize>| -> Result<f64> {
        op()?;
        let started = Instant::now();
        let mut total = 0;
        for _ in 0..3 {
            total += op()?;
        }
        Ok(total as f64 / started.elapsed().as_secs_f64())
    };
    let reader_rate = per_sec(&from_reader)?;
    let bytes = std::fs::read(&tool_first)?;
    let from_slice = || -> Result<usize> {
        let mut n = 0;
        scantix_sarif::stream_slice(&bytes, &options, |_| n += 1)?;
        Ok(n)
    };
    let slice_rate = per_sec(&from_slice)?;
    drop(bytes);
    if from_reader()? != written {
        bail!("the parse did not read the {written} results written");
    }
    figure("sarif_results_per_sec", format!("{reader_rate:.0}"));
    figure(
        "sarif_results_per_sec_from_slice",
        format!("{slice_rate:.0}"),
    );

    let peak = |mode: &str, file: &Path| peak_rss_mb(mode, file);
    figure(
        "sarif_peak_rss_mb_child_baseline",
        peak("none", &tool_first)?,
    );
    figure(
        "sarif_peak_rss_mb_100k_results",
        peak("stream", &tool_first)?,
    );
    figure(
        "sarif_peak_rss_mb_100k_results_identities_kept",
        peak("identities", &tool_first)?,
    );
    figure(
        "sarif_peak_rss_mb_100k_results_collected",
        peak("collect", &tool_first)?,
    );
    figure(
        "sarif_peak_rss_mb_100k_results_tool_after_results",
        peak("stream", &results_first)?,
    );
    figure(
        "sarif_peak_rss_mb_100k_results_from_slice",
        peak("slice", &tool_first)?,
    );

    let applied = apply_figures("apply", &tool_first)?;
    figure("sarif_apply_results_per_sec_100k", applied.rate);
    figure("sarif_apply_peak_rss_mb_100k_results", applied.peak_mb);
    figure("sarif_apply_store", applied.store);
    // The same file handed over in memory, as an upload's body is (the worker holds it).
    let in_memory = apply_figures("apply-in-memory", &tool_first)?;
    figure("sarif_apply_results_per_sec_100k_in_memory", in_memory.rate);
    figure(
        "sarif_apply_peak_rss_mb_100k_results_in_memory",
        in_memory.peak_mb,
    );
    Ok(())
}

/// What the applying child reported.
struct Applied {
    rate: String,
    peak_mb: String,
    store: String,
}

/// Runs the child that applies `file` as one analysis in `mode` (`apply`, `apply-in-memory`; see
/// the module doc).
fn apply_figures(mode: &str, file: &Path) -> Result<Applied> {
    let output = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .arg(mode)
        .arg(file)
        .output()
        .context("running the SARIF apply child")?;
    if !output.status.success() {
        bail!(
            "SARIF apply child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut words = stdout.split_whitespace();
    let (Some(kb), Some(rate), Some(store)) = (words.next(), words.next(), words.next()) else {
        bail!("the SARIF apply child said {stdout:?}");
    };
    let peak_mb = match kb.parse::<f64>() {
        Ok(kb) => format!("{:.1}", kb / 1024.0),
        Err(_) => kb.to_owned(),
    };
    Ok(Applied {
        rate: rate.to_owned(),
        peak_mb,
        store: store.to_owned(),
    })
}

/// The applying child's work: `file` applied as one analysis of a repository's default branch
/// onto a fresh embedded store, with the draft tracker: read from disk, or (`in_memory`) read
/// into memory first and handed over as bytes, as an upload is. Returns the results applied, the
/// rate, and where the store was.
fn apply(file: &Path, in_memory: bool) -> Result<(usize, f64, String)> {
    use scantix_app::analysis::{SarifFile, apply_analysis};
    use scantix_app::execute::Executor;
    use scantix_app::repo_settings::RepoSettings;
    use scantix_core::memory::draft_tracker::DraftTracker;
    use std::sync::Arc;

    let shm = Path::new("/dev/shm");
    let (base, store_kind) = if shm.is_dir() {
        (shm.to_path_buf(), "embedded-sqlite-on-tmpfs")
    } else {
        (std::env::temp_dir(), "embedded-sqlite-on-disk")
    };
    let dir = base.join(format!("scantix-bench-apply-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dir.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = scantix_wiring::local::sqlite_store(&dir)
            .with_context(|| format!("opening the embedded store in {}", dir.display()))?;
        let executor = Executor::new(
            store,
            Arc::new(DraftTracker::new()),
            scantix_core::config::Config::default(),
        );
        let settings = RepoSettings::defaults();
        let target = default_branch_of(100_000, "bench/sarif-100k");
        let files = vec![match in_memory {
            true => SarifFile::from_bytes(file.display().to_string(), std::fs::read(file)?),
            false => SarifFile::from_path(file),
        }];
        let started = Instant::now();
        let report = apply_analysis(&executor, &settings, &target, files, |_| {}).await?;
        let elapsed = started.elapsed().as_secs_f64();
        let applied: usize = report.analyses.iter().map(|a| a.open + a.suppressed).sum();
        Ok((applied, applied as f64 / elapsed, store_kind.to_owned()))
    })
}

/// The analysis the apply figures make: repository `id` (`name`), its default branch `main`, at one
/// commit.
pub(crate) fn default_branch_of(id: u64, name: &str) -> scantix_app::analysis::AnalysisTarget {
    scantix_app::analysis::AnalysisTarget {
        repository: scantix_core::finding::Repository {
            id,
            full_name: name.into(),
            default_branch: Some("main".into()),
            html_url: None,
        },
        git_ref: Some("refs/heads/main".into()),
        commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
        category: None,
        installation_id: None,
    }
}

/// Runs the measuring child and returns its peak RSS in MB.
fn peak_rss_mb(mode: &str, file: &Path) -> Result<String> {
    let exe = std::env::current_exe()?;
    let output = Command::new(exe)
        .arg(CHILD_FLAG)
        .arg(mode)
        .arg(file)
        .output()
        .context("running the SARIF memory child")?;
    if !output.status.success() {
        bail!(
            "SARIF memory child ({mode}) failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let kb: f64 = match stdout.trim().parse() {
        Ok(kb) => kb,
        Err(_) => return Ok(stdout.trim().to_owned()),
    };
    Ok(format!("{:.1}", kb / 1024.0))
}

/// The child: parse `file` as `mode` says, then print this process's `VmHWM` in kB.
/// Modes: `none` (baseline), `apply` and `apply-in-memory` (applied as one analysis from disk or
/// from bytes in memory, see the module doc; then the rate and the store are printed after the
/// peak), `stream` (a reader, each finding dropped), `identities` (a reader,
/// keeping each finding's identity, as a re-scan comparison would), `collect` (a reader, every
/// finding kept), `slice` (the file read into memory, each finding dropped).
pub fn child(mode: &str, file: &Path) -> Result<()> {
    let options = scantix_sarif::ParseOptions::default();
    let mut count = 0usize;
    let mut also = String::new();
    match mode {
        "none" => {}
        "apply" | "apply-in-memory" => {
            let (applied, rate, store) = apply(file, mode == "apply-in-memory")?;
            count = applied;
            also = format!(" {rate:.0} {store}");
        }
        "stream" => {
            scantix_sarif::stream_reader(std::fs::File::open(file)?, &options, |_| count += 1)?;
        }
        "identities" => {
            let mut ids = HashSet::new();
            scantix_sarif::stream_reader(std::fs::File::open(file)?, &options, |f| {
                ids.insert(f.identity.value);
            })?;
            count = ids.len();
        }
        "collect" => {
            let analysis = scantix_sarif::parse_reader(std::fs::File::open(file)?, &options)?;
            count = analysis.findings.len();
        }
        "slice" => {
            let bytes = std::fs::read(file)?;
            scantix_sarif::stream_slice(&bytes, &options, |_| count += 1)?;
        }
        other => bail!("unknown mode {other}"),
    }
    if mode != "none" && count != RESULTS {
        bail!("{mode}: {count} results, expected {RESULTS}");
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("unknown-(no-/proc/self/status)");
    println!("{hwm}{also}");
    Ok(())
}

#[derive(Clone, Copy)]
enum RunOrder {
    /// `tool` before `results`: streams with one result held.
    ToolFirst,
    /// `results` before `tool` (Semgrep's and Hadolint's alphabetical order): a reader holds the
    /// run's results until `tool`.
    ResultsFirst,
}

/// Writes the replicated file, returns how many results it holds.
fn write_file(path: &Path, order: RunOrder) -> Result<usize> {
    let runs: Vec<(Value, usize)> = SOURCES
        .iter()
        .map(|(source, share)| {
            let path = fixture(source);
            let text = std::fs::read(&path).with_context(|| path.display().to_string())?;
            let doc: Value = serde_json::from_slice(&text)?;
            Ok((doc["runs"][0].clone(), *share))
        })
        .collect::<Result<_>>()?;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    write!(out, r#"{{"version":"2.1.0","runs":["#)?;
    let shares: usize = runs.iter().map(|(_, share)| share).sum();
    let mut written = 0;
    for (r, (run, share)) in runs.iter().enumerate() {
        let wanted = if r + 1 == runs.len() {
            RESULTS - written
        } else {
            RESULTS * share / shares
        };
        let results = run["results"].as_array().context("a run without results")?;
        let tool = serde_json::to_string(&run["tool"])?;
        if r > 0 {
            write!(out, ",")?;
        }
        write!(out, "{{")?;
        if matches!(order, RunOrder::ToolFirst) {
            write!(out, r#""tool":{tool},"#)?;
        }
        write!(out, r#""results":["#)?;
        for i in 0..wanted {
            let mut result = results[i % results.len()].clone();
            vary(&mut result, i / results.len());
            if i > 0 {
                write!(out, ",")?;
            }
            serde_json::to_writer(&mut out, &result)?;
        }
        write!(out, "]")?;
        if matches!(order, RunOrder::ResultsFirst) {
            write!(out, r#","tool":{tool}"#)?;
        }
        write!(out, "}}")?;
        written += wanted;
    }
    write!(out, "]}}")?;
    out.flush()?;
    Ok(written)
}

/// Makes copy `n` of a result distinct: its files under `copy-<n>/`, its lines moved down by `n`
/// modulo 50, its fingerprints suffixed.
pub(crate) fn vary(value: &mut Value, n: usize) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), &*child) {
                    ("uri", Value::String(uri)) => {
                        // Just above the file, so absolute CI checkout paths stay recognisable.
                        *child = json!(match uri.rsplit_once('/') {
                            Some((dir, file)) => format!("{dir}/copy-{n}/{file}"),
                            None => format!("copy-{n}/{uri}"),
                        });
                    }
                    ("startLine" | "endLine", Value::Number(line)) => {
                        *child = json!(line.as_u64().unwrap_or(1) + (n % 50) as u64);
                    }
                    ("fingerprints" | "partialFingerprints", _) => {
                        if let Value::Object(prints) = child {
                            for print in prints.values_mut() {
                                if let Value::String(s) = print {
                                    s.push_str(&format!("-{n}"));
                                }
                            }
                        }
                    }
                    _ => vary(child, n),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| vary(v, n)),
        _ => {}
    }
}

pub(crate) fn fixture(source: &str) -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    match source.split_once(':') {
        Some(("shared", rest)) => bench.join("../../shared/fixtures").join(rest),
        Some((_, rest)) => bench.join("..").join(rest),
        None => bench.join(source),
    }
}

/// Removes the temporary directory however the benchmark ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
