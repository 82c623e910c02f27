//! Webhook signatures and upload tokens: `sha256=<hex>` (GitHub, Jira), bare hex (Linear),
//! `sha256=<base64>` (ServiceNow) and `stxu_` upload tokens. The header checked is either the
//! fuzzer's own, or the right signature (or token) with the fuzzer's edits applied — a fuzzer
//! cannot forge an HMAC, but it can respell a valid one. The properties: no panic; what scantix
//! signs verifies; and a header verifies only if it is that signature, respelt at most in the ways
//! the verifiers document (surrounding whitespace; hex digits in either case).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scantix_core::secret::Secret;
use scantix_webhooks::servicenow::{sign_servicenow, verify_servicenow_signature};
use scantix_webhooks::signature::{sign, sign_hex, verify_hex_signature, verify_signature};
use scantix_webhooks::upload::token::UploadTokens;

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert(u8, char),
    Remove(u8),
    Upper(u8),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: &'a [u8],
    /// `None`: the right signature, with `edits` applied.
    header: Option<&'a str>,
    edits: Vec<Edit>,
    installation: u64,
    body: &'a [u8],
}

/// `right` with `edits` applied (positions wrap around), or the fuzzer's own header.
fn header(input: &Input<'_>, right: &str) -> String {
    if let Some(own) = input.header {
        return own.to_owned();
    }
    let mut chars: Vec<char> = right.chars().collect();
    for edit in &input.edits {
        let at = |n: u8, len: usize| usize::from(n) % len.max(1);
        match *edit {
            Edit::Insert(n, c) => {
                let i = at(n, chars.len() + 1);
                chars.insert(i, c);
            }
            Edit::Remove(n) if !chars.is_empty() => {
                let i = at(n, chars.len());
                chars.remove(i);
            }
            Edit::Upper(n) if !chars.is_empty() => {
                let i = at(n, chars.len());
                chars[i] = chars[i].to_ascii_uppercase();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fuzz_target!(|input: Input<'_>| {
    let (secret, body) = (input.secret, input.body);

    let signed = sign(secret, body);
    assert_eq!(verify_signature(secret, body, Some(&signed)), Ok(()));
    let h = header(&input, &signed);
    if verify_signature(secret, body, Some(&h)).is_ok() {
        assert_eq!(h.trim().to_ascii_lowercase(), signed, "accepted {h:?}");
    }

    let signed_hex = sign_hex(secret, body);
    assert_eq!(
        verify_hex_signature(secret, body, Some(&signed_hex)),
        Ok(())
    );
    let h = header(&input, &signed_hex);
    if verify_hex_signature(secret, body, Some(&h)).is_ok() {
        assert_eq!(h.trim().to_ascii_lowercase(), signed_hex, "accepted {h:?}");
    }

    let signed_sn = sign_servicenow(secret, body);
    assert_eq!(
        verify_servicenow_signature(secret, body, Some(&signed_sn)),
        Ok(())
    );
    let h = header(&input, &signed_sn);
    if verify_servicenow_signature(secret, body, Some(&h)).is_ok() {
        assert_eq!(h.trim(), signed_sn, "accepted {h:?}");
    }

    let tokens = UploadTokens::new(Secret::new(String::from_utf8_lossy(secret)));
    let minted = tokens.mint(input.installation);
    assert_eq!(
        tokens.verify(minted.expose()).ok(),
        Some(input.installation)
    );
    let h = header(&input, minted.expose());
    if let Ok(id) = tokens.verify(&h) {
        assert_eq!(id, input.installation, "accepted {h:?}");
        assert_eq!(h.to_ascii_lowercase(), minted.expose(), "accepted {h:?}");
    }
});
