//! The Lambda runtime emulator of `cargo lambda watch`, with the function binaries this workspace
//! built running against it, as they run in AWS: each binary speaks the Lambda runtime API to
//! the emulator, which serves Function URLs (`/lambda-url/<function>/…`) and the Invoke API
//! (`/2015-03-31/functions/<function>/invocations`).
//!
//! The emulator runs with `--only-lambda-apis`: it does not compile anything itself, the test
//! command already built the binaries (`cargo test --workspace --all-targets` builds every bin), so
//! the test runs exactly what the test command compiled, without a second build of the workspace.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/with-cargo-lambda.sh` tells tests the `cargo-lambda` binary is.
pub const CARGO_LAMBDA_VARIABLE: &str = "SCANTIX_TEST_CARGO_LAMBDA";

/// The running emulator and the functions started under it; all are killed on drop.
pub struct Emulator {
    port: u16,
    emulator: Child,
    functions: Vec<(String, Child)>,
    logs: PathBuf,
}

/// `cargo-lambda`, as the test command installed it. Panics when it is not set: the end-to-end
/// test must fail loudly rather than skip and pass.
pub fn cargo_lambda() -> PathBuf {
    match std::env::var(CARGO_LAMBDA_VARIABLE) {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{CARGO_LAMBDA_VARIABLE} is not set, and this test runs the functions under `cargo lambda \
             watch`. Run the tests through scripts/test.sh, or wrap the command in \
             scripts/with-cargo-lambda.sh (which installs cargo-lambda and sets the variable)."
        ),
    }
}

/// The directory the workspace's binaries are built into (beside this test's own binary).
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/debug/deps/<test>-<hash> → target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How long a test waits for a function to answer an invocation. Not the function's Lambda timeout
/// (the emulator enforces none): the suite runs debug builds beside dozens of tests sharing one
/// DynamoDB Local and two cores, where a 77-result upload took over a minute. How fast the
/// functions are is the benchmark's business (`worker_*`, `<f>_warm_ms_*`, release builds); a
/// function that hangs is still stopped, by this bound and by the test run's own timeout.
pub const INVOCATION_TIMEOUT: Duration = Duration::from_secs(600);

/// The HTTP client a test invokes functions through (Function URLs and the Invoke API).
pub fn invocation_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(INVOCATION_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

impl Emulator {
    /// Builds the function binaries, then starts the emulator on a free port and waits until it
    /// accepts connections. The build is a no-op after `scripts/test.sh`'s `cargo test --workspace
    /// --all-targets`, and builds what is stale after a narrower `cargo test -p …` (which builds no
    /// other package's binaries). It is `--workspace --all-targets` on purpose: the same package
    /// and feature selection as the test command, so nothing is compiled a second time with
    /// other features.
    pub fn start() -> Emulator {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "--workspace", "--all-targets", "--quiet"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "building the function binaries failed");
        let port = free_port();
        let logs = std::env::temp_dir().join(format!("scantix-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&logs).expect("a log directory");
        let log = std::fs::File::create(logs.join("emulator.log")).expect("emulator log");
        let emulator = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("cargo-lambda starts");
        let emulator = Emulator {
            port,
            emulator,
            functions: Vec::new(),
            logs,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on {port} within 60 s: {}",
                emulator.log("emulator")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        emulator
    }

    /// Starts the workspace's binary `name` as the function `name`, with `env` and nothing of the
    /// test's own environment but PATH (a function sees only what its deployment gives it).
    pub fn run_function(&mut self, name: &str, env: &[(&str, String)]) {
        let binary = binaries_dir().join(name);
        assert!(
            binary.exists(),
            "{} is missing: build the functions first (scripts/test.sh does, with --all-targets)",
            binary.display()
        );
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).expect("log");
        let child = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt/{name}", self.port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("the function starts");
        self.functions.push((name.to_owned(), child));
    }

    /// A URL on the emulator: `/lambda-url/<function>/` or `/2015-03-31/functions/<f>/invocations`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything `name` (a function, or `emulator`) wrote so far.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for (_, child) in &mut self.functions {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.emulator.kill();
        let _ = self.emulator.wait();
    }
}
