//! The KEV catalogue deployed as an S3 object (`SCANTIX_KEV_S3`), against a real local S3 (moto's
//! server: `scripts/with-moto.sh`), with three entries of CISA's catalogue in its published JSON
//! format (the policy crate's `kev-sample.json`, see the SOURCES.md beside it): read at cold start; a sweep's refresh asks with the
//! object's ETag and downloads nothing while it is unchanged; a new upload is read at the next
//! refresh; a half-written or oversized upload is refused and the last good catalogue stays.
//! The bucket is set up and changed with boto3, a client that shares no code with scantix's.
//!
//! Run: `scripts/with-moto.sh cargo test -p scantix-tests --test kev_s3`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed assumption is the test failing"
)]

use scantix_app::kev::{Fetched, KevOrigin, KevSource};
use scantix_policy::kev::MAX_KEV_BYTES;
use scantix_tests::moto::MotoServer;
use scantix_wiring::kev_s3::KevObject;

const BUCKET: &str = "scantix-kev";
const KEY: &str = "kev/known_exploited_vulnerabilities.json";

fn excerpt() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/adapters/policy/tests/fixtures/kev-sample.json"
    )
    .to_owned()
}

/// Uploads the file at `path` as the catalogue object; answers its ETag.
fn upload(moto: &MotoServer, path: &str) -> String {
    moto.boto3(
        "s3 = client('s3')\n\
         put = s3.put_object(Bucket=sys.argv[1], Key=sys.argv[2], Body=open(sys.argv[3], 'rb').read())\n\
         print(json.dumps(put['ETag']))",
        &[BUCKET, KEY, path],
    )
    .as_str()
    .unwrap()
    .to_owned()
}

/// Writes `bytes` to a temporary file of this test; answers its path.
fn scratch_file(name: &str, bytes: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("scantix-kev-s3-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn the_catalogue_is_read_from_s3_and_read_again_only_when_its_etag_changes() {
    let moto = MotoServer::start();
    moto.boto3(
        "client('s3').create_bucket(Bucket=sys.argv[1])\nprint('{}')",
        &[BUCKET],
    );
    let object = KevObject::new(moto.s3(), BUCKET, KEY);
    assert_eq!(object.name(), format!("s3://{BUCKET}/{KEY}"));

    // No object yet: the cold start says which and why.
    let missing = KevSource::from_origin(Box::new(object.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("s3://scantix-kev/kev/") && missing.contains("NoSuchKey"),
        "{missing}"
    );

    let etag = upload(&moto, &excerpt());
    let source = KevSource::from_origin(Box::new(object.clone()))
        .await
        .unwrap();
    let catalogue = source.current();
    assert_eq!(catalogue.len(), 3);
    assert_eq!(catalogue.version, "2025.01.10");
    for cve in ["CVE-2021-44228", "CVE-2017-5638", "CVE-2022-22965"] {
        assert!(catalogue.get(cve).is_some(), "{cve}");
    }

    // Unchanged: the conditional read answers 304, nothing is parsed again.
    assert!(matches!(
        object.fetch(Some(&etag)).await.unwrap(),
        Fetched::Unchanged
    ));
    assert!(matches!(
        object.fetch(Some("\"another-version\"")).await.unwrap(),
        Fetched::Changed { .. }
    ));
    assert_eq!(source.refresh().await.unwrap(), (3, false));

    // A new upload (the first two entries): read at the next refresh.
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(excerpt()).unwrap()).unwrap();
    json["vulnerabilities"].as_array_mut().unwrap().pop();
    let two = scratch_file("two.json", &serde_json::to_vec(&json).unwrap());
    let new_etag = upload(&moto, &two);
    assert_ne!(new_etag, etag);
    assert_eq!(source.refresh().await.unwrap(), (2, true));
    assert!(source.current().get("CVE-2022-22965").is_none());
    assert_eq!(source.refresh().await.unwrap(), (2, false));

    // A half-written upload is refused, naming the object; the last good catalogue stays.
    let bytes = std::fs::read(excerpt()).unwrap();
    let half = scratch_file("half.json", &bytes[..bytes.len() / 2]);
    upload(&moto, &half);
    let error = source.refresh().await.unwrap_err().to_string();
    assert!(
        error.contains("s3://scantix-kev/") && error.contains("not CISA's JSON format"),
        "{error}"
    );
    assert!(source.current().get("CVE-2017-5638").is_some());
    assert_eq!(source.current().len(), 2);

    // An object over the size bound is refused from its length; the last good one stays.
    let big = scratch_file("big.json", &vec![b' '; MAX_KEV_BYTES + 1]);
    upload(&moto, &big);
    let error = source.refresh().await.unwrap_err().to_string();
    assert!(error.contains(&format!("{}", MAX_KEV_BYTES + 1)), "{error}");
    assert_eq!(source.current().len(), 2);

    for file in [two, half, big] {
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn only_an_s3_uri_with_a_bucket_and_a_key_names_an_object() {
    assert_eq!(
        KevObject::parse_uri("s3://scantix-kev/kev/known.json"),
        Some(("scantix-kev", "kev/known.json"))
    );
    for wrong in [
        "scantix-kev/kev.json",
        "s3://scantix-kev",
        "s3:///kev.json",
        "s3://b/",
    ] {
        assert_eq!(KevObject::parse_uri(wrong), None, "{wrong}");
    }
}
