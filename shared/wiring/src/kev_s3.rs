//! The KEV catalogue deployed as an S3 object (`SCANTIX_KEV_S3=s3://bucket/key`): read at cold
//! start, and at every sweep only when its ETag changed (`If-None-Match`: an unchanged object
//! answers 304 without a body). An object over the catalogue's size bound is refused from its
//! length before its body is read, and the body is read no further than the bound.

use async_trait::async_trait;
use aws_sdk_s3::error::SdkError;
use scantix_app::kev::{Fetched, KevLoadError, KevOrigin, too_large};

/// An object in a bucket.
#[derive(Debug, Clone)]
pub struct KevObject {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl KevObject {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, key: &str) -> KevObject {
        KevObject {
            client,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        }
    }

    /// `s3://bucket/key` as (bucket, key); `None` for anything else.
    pub fn parse_uri(uri: &str) -> Option<(&str, &str)> {
        let (bucket, key) = uri.trim().strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
    }

    fn failed(&self, why: String) -> KevLoadError {
        KevLoadError::Read {
            from: self.name(),
            why,
        }
    }
}

#[async_trait]
impl KevOrigin for KevObject {
    fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn fetch(&self, known: Option<&str>) -> Result<Fetched, KevLoadError> {
        let mut get = self.client.get_object().bucket(&self.bucket).key(&self.key);
        if let Some(etag) = known {
            get = get.if_none_match(etag);
        }
        let object = match get.send().await {
            Ok(object) => object,
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 304 => {
                return Ok(Fetched::Unchanged);
            }
            Err(e) => {
                let why = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
                return Err(self.failed(why));
            }
        };
        let length = object.content_length().and_then(|l| u64::try_from(l).ok());
        too_large(&self.name(), length.unwrap_or(0))?;
        let tag = object.e_tag().map(str::to_owned);
        let mut body = object.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| self.failed(format!("reading the object: {e}")))?
        {
            bytes.extend_from_slice(&chunk);
            // A length the answer did not give (or gave wrong) still bounds the read.
            too_large(&self.name(), bytes.len() as u64)?;
        }
        Ok(Fetched::Changed { bytes, tag })
    }
}
