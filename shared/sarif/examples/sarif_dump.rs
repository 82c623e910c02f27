//! `cargo run -p scantix-sarif --example sarif_dump -- FILE...`: prints each file's runs and
//! findings as JSON lines (what the crate makes of a SARIF file), or its error.

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                eprintln!("{path}: {error}");
                continue;
            }
        };
        match scantix_sarif::parse_slice(&bytes, &scantix_sarif::ParseOptions::default()) {
            Ok(analysis) => {
                for run in &analysis.runs {
                    println!("{}", serde_json::json!({ "file": path, "run": run }));
                }
                for finding in &analysis.findings {
                    println!(
                        "{}",
                        serde_json::json!({ "file": path, "finding": finding })
                    );
                }
            }
            Err(error) => println!(
                "{}",
                serde_json::json!({ "file": path, "error": error.to_string() })
            ),
        }
    }
}
