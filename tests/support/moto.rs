//! A real local AWS emulator for the SIEM sink tests: moto's server (PyPI, installed by
//! `scripts/with-moto.sh`, whose python `SCANTIX_TEST_MOTO_PYTHON` names) on a free local port,
//! serving S3, Kinesis Data Firehose, EventBridge and SQS. Tests send through scantix's adapters
//! (the AWS SDK for Rust) and set up and read back with boto3 ([`MotoServer::boto3`]), a client
//! that shares no code with them. The server is stopped when dropped.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the python that has moto.
pub const PYTHON_VARIABLE: &str = "SCANTIX_TEST_MOTO_PYTHON";
/// The region every client is set to.
pub const REGION: &str = "us-east-1";

pub struct MotoServer {
    child: Child,
    pub endpoint: String,
    python: String,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MotoServer {
    /// Starts moto's server and waits until it answers.
    pub fn start() -> MotoServer {
        let python = std::env::var(PYTHON_VARIABLE).unwrap_or_else(|_| {
            panic!(
                "{PYTHON_VARIABLE} is not set: run the SIEM sink tests through scripts/with-moto.sh \
                 (scripts/test.sh does), which installs moto and names its python"
            )
        });
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("its address").port()
        };
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto with {python}: {e}"));
        let server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Runs `script` with `boto3`, `endpoint` and `json` in scope (clients made with
    /// `client(name)`), and `args` as `sys.argv[1:]`; answers the JSON the script prints.
    pub fn boto3(&self, script: &str, args: &[&str]) -> Value {
        let prelude = format!(
            "import boto3, json, sys\n\
             endpoint = {endpoint:?}\n\
             def client(name):\n    \
                 return boto3.client(name, endpoint_url=endpoint, region_name={REGION:?}, \
                 aws_access_key_id='test', aws_secret_access_key='test')\n",
            endpoint = self.endpoint
        );
        let output = Command::new(&self.python)
            .arg("-c")
            .arg(format!("{prelude}{script}"))
            .args(args)
            .output()
            .expect("running python");
        assert!(
            output.status.success(),
            "boto3 script failed:\n{script}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "the script printed no JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Every object in `bucket` under `prefix`: key, content type and body (as text), by key.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, String, String)> {
        let listed = self.boto3(
            "s3 = client('s3')\n\
             out = []\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix=sys.argv[2]):\n    \
                 for o in page.get('Contents', []):\n        \
                     got = s3.get_object(Bucket=sys.argv[1], Key=o['Key'])\n        \
                     out.append([o['Key'], got['ContentType'], got['Body'].read().decode()])\n\
             print(json.dumps(sorted(out)))",
            &[bucket, prefix],
        );
        serde_json::from_value(listed).expect("a list of [key, type, body]")
    }

    fn credentials() -> aws_sdk_s3::config::Credentials {
        // One type: every SDK crate re-exports aws-credential-types' `Credentials`.
        aws_sdk_s3::config::Credentials::new("test", "test", None, None, "moto")
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            // A local endpoint has no per-bucket host names.
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn firehose(&self) -> aws_sdk_firehose::Client {
        let config = aws_sdk_firehose::Config::builder()
            .behavior_version(aws_sdk_firehose::config::BehaviorVersion::latest())
            .region(aws_sdk_firehose::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_firehose::Client::from_conf(config)
    }

    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new(REGION))
            .credentials_provider(Self::credentials())
            .endpoint_url(&self.endpoint)
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }
}
