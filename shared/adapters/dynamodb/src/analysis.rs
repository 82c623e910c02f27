//! The open findings of each SARIF analysis (`scantix_core::decide::analysis`) as index items:
//! `pk` = `L#analysis#<analysis id>`, `sk` = the finding's fingerprint, `kind=analysis`. An entry
//! is put or deleted in the `TransactWriteItems` that writes its finding, so the list is as
//! consistent as the findings; one analysis' list is one partition, read a page at a time with a
//! Query in fingerprint order (never a scan).

use super::items::{KIND, Key, SK, Write, text};
use super::{DynamoStore, SortBound};
use aws_sdk_dynamodb::types::AttributeValue;
use scantix_core::identity::Fingerprint;
use scantix_core::ports::store::{AnalysisEntry, Page, StoreError};

/// `kind` of an analysis list entry.
const KIND_ANALYSIS: &str = "analysis";

/// The partition of analysis `id`'s entries.
fn analysis_pk(id: &str) -> String {
    format!("L#analysis#{id}")
}

/// The write that puts `entry`'s finding on its analysis' list, or takes it off.
pub(super) fn entry_write(entry: &AnalysisEntry) -> Write {
    let key = Key {
        pk: analysis_pk(&entry.analysis),
        sk: entry.fingerprint.as_str().to_owned(),
    };
    match entry.listed {
        true => {
            let mut item = key.into_item();
            item.insert(KIND.into(), AttributeValue::S(KIND_ANALYSIS.into()));
            Write::put(item)
        }
        false => Write::Delete { key },
    }
}

/// A page of analysis `id`'s open findings after `after`, in fingerprint order.
pub(super) async fn page(
    store: &DynamoStore,
    id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Fingerprint>, StoreError> {
    let (items, more) = store
        .query_page(&analysis_pk(id), SortBound::None, after, limit)
        .await?;
    let listed: Vec<Fingerprint> = items
        .iter()
        .filter_map(|item| text(item, SK))
        .map(Fingerprint::from_stored)
        .collect();
    let next = match more {
        true => listed.last().map(|fp| fp.as_str().to_owned()),
        false => None,
    };
    Ok(Page {
        items: listed,
        next,
    })
}
