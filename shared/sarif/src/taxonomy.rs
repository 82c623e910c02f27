//! CWE and CVE ids wherever tools put them: rule tags (`external/cwe/cwe-078` from CodeQL and
//! Bandit, `CWE-78: Improper …` from Semgrep), properties (njsscan's `cwe`), rule ids (Grype's
//! `CVE-2008-0732-<package>`, Dependency-Check's CVE ids), and SARIF's own taxonomy links (rule
//! `relationships` and result `taxa` pointing into a taxonomy named `CWE`).

use crate::raw::{RawDescriptorRef, RawTaxonomy};
use std::collections::BTreeSet;

/// Adds every `CWE-<n>` written in `text` (any case; `cwe-078`, `CWE_78`, `CWE 78`, `CWE78`),
/// normalised to `CWE-78`. A match must not follow a letter or digit (`xcwe-1` is not one).
pub fn cwes_in(text: &str, out: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        if bytes[i..i + 3].eq_ignore_ascii_case(b"cwe")
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            let mut j = i + 3;
            if j < bytes.len() && matches!(bytes[j], b'-' | b'_' | b' ' | b':') {
                j += 1;
            }
            let digits = count_digits(&bytes[j..]);
            if (1..=6).contains(&digits)
                && !bytes
                    .get(j + digits)
                    .is_some_and(|b| b.is_ascii_alphanumeric())
            {
                if let Some(n) = number(&text[j..j + digits]) {
                    out.insert(format!("CWE-{n}"));
                }
                i = j + digits;
                continue;
            }
        }
        i += 1;
    }
}

/// Adds every `CVE-<year>-<n>` written in `text` (any case), upper-cased. Rule ids such as
/// Grype's `CVE-2008-0732-geronimo-j2ee-management_1.1_spec` give `CVE-2008-0732`.
pub fn cves_in(text: &str, out: &mut BTreeSet<String>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 3 <= bytes.len() {
        if bytes[i..i + 3].eq_ignore_ascii_case(b"cve")
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes.get(i + 3) == Some(&b'-')
        {
            let year = i + 4;
            let year_digits = count_digits(&bytes[year..]);
            let seq = year + 5;
            if year_digits == 4 && bytes.get(year + 4) == Some(&b'-') && seq <= bytes.len() {
                let seq_digits = count_digits(&bytes[seq..]);
                if (4..=19).contains(&seq_digits)
                    && !bytes
                        .get(seq + seq_digits)
                        .is_some_and(|b| b.is_ascii_alphanumeric() && !b.is_ascii_alphabetic())
                {
                    out.insert(format!(
                        "CVE-{}-{}",
                        &text[year..year + 4],
                        &text[seq..seq + seq_digits]
                    ));
                    i = seq + seq_digits;
                    continue;
                }
            }
        }
        i += 1;
    }
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The number without leading zeros (`078` → `78`); `None` for zero.
fn number(digits: &str) -> Option<&str> {
    let trimmed = digits.trim_start_matches('0');
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Property keys whose values name CWEs or CVEs (njsscan's `cwe`, mobsfscan's `cwe`).
pub fn is_cwe_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("cwe")
}

pub fn is_cve_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("cve") || key.contains("vulnerability")
}

/// Adds the CWE a taxonomy reference (a result's `taxa` entry or a rule relationship's `target`)
/// points at: when its tool component is the run's `CWE` taxonomy (by name, index or guid), its
/// `id` is the CWE number (`"401"`); an id that spells `CWE-401` itself counts anywhere.
pub fn cwe_of_reference(
    reference: &RawDescriptorRef,
    taxonomies: &[RawTaxonomy],
    out: &mut BTreeSet<String>,
) {
    let Some(id) = reference.id.as_ref().map(|id| id.as_str()) else {
        return;
    };
    let before = out.len();
    cwes_in(id, out);
    if out.len() > before {
        return;
    }
    let is_cwe_taxonomy = reference.tool_component.as_ref().is_some_and(|component| {
        let named = |name: Option<&str>| name.is_some_and(|n| n.trim().eq_ignore_ascii_case("cwe"));
        let by_index = component
            .index
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| taxonomies.get(i));
        let by_guid = component.guid.as_ref().and_then(|guid| {
            taxonomies.iter().find(|t| {
                t.guid
                    .as_ref()
                    .is_some_and(|g| g.as_str().eq_ignore_ascii_case(guid.as_str()))
            })
        });
        named(component.name.as_ref().map(|n| n.as_str()))
            || by_index.is_some_and(|t| named(t.name.as_ref().map(|n| n.as_str())))
            || by_guid.is_some_and(|t| named(t.name.as_ref().map(|n| n.as_str())))
    });
    if is_cwe_taxonomy {
        let digits = count_digits(id.as_bytes());
        if digits == id.len()
            && digits <= 6
            && let Some(n) = number(id)
        {
            out.insert(format!("CWE-{n}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cwes(text: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        cwes_in(text, &mut out);
        out.into_iter().collect()
    }

    fn cves(text: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        cves_in(text, &mut out);
        out.into_iter().collect()
    }

    #[test]
    fn cwe_spellings_of_real_tools() {
        assert_eq!(cwes("external/cwe/cwe-078"), vec!["CWE-78"]);
        assert_eq!(
            cwes("CWE-78: Improper Neutralization (CWE-77)"),
            vec!["CWE-77", "CWE-78"]
        );
        assert_eq!(
            cwes("cwe_79 CWE 80 CWE89"),
            vec!["CWE-79", "CWE-80", "CWE-89"]
        );
        assert!(cwes("xcwe-1 cwe-0 cwe- cwe-1234567 cwe-12a").is_empty());
    }

    #[test]
    fn cve_spellings_of_real_tools() {
        assert_eq!(
            cves("CVE-2008-0732-geronimo-j2ee-management_1.1_spec"),
            vec!["CVE-2008-0732"]
        );
        assert_eq!(cves("see cve-2021-44228."), vec!["CVE-2021-44228"]);
        assert!(
            cves("CVE-21-1234 CVE-2021-123 xCVE-2021-1234 CVE-2021-12345678901234567890")
                .is_empty()
        );
    }
}
