//! The SARIF parser, both entry points an upload can reach: from a slice (two passes) and from a
//! reader (one pass, buffering results written before the run's `tool`). Also under small limits,
//! so the "too many results / runs / buffered bytes" paths are fuzzed too. The properties: no
//! panic; the slice parse hands out a finding only for a file it accepts whole; and a file both
//! modes accept gives the same number of findings (neither drops nor invents results).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scantix_sarif::{ParseOptions, parse_reader, stream_slice};

fuzz_target!(|bytes: &[u8]| {
    let options = ParseOptions::default();
    let mut handed_out = 0usize;
    let from_slice = stream_slice(bytes, &options, |_| handed_out += 1);
    if from_slice.is_err() {
        assert_eq!(
            handed_out, 0,
            "stream_slice handed out findings of a file it refused"
        );
    }
    let from_reader = parse_reader(bytes, &options);
    if let (Ok(_), Ok(analysis)) = (&from_slice, &from_reader) {
        assert_eq!(
            handed_out,
            analysis.findings.len(),
            "slice and reader read a different number of findings"
        );
    }
    let tight = ParseOptions {
        max_input_bytes: 4096,
        max_results: 2,
        max_buffered_bytes: 512,
        source_roots: vec!["/home/runner/work/app/app".to_owned()],
    };
    let _ = stream_slice(bytes, &tight, |_| {});
    let _ = parse_reader(bytes, &tight);
});
