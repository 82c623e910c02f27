//! Webhook signatures and upload tokens: `sha256=<hex>` (GitHub, Jira), bare hex (Linear),
//! `sha256=<base64>` (ServiceNow) and `stxu_` upload tokens. The input is split into a secret, a
//! body and a header value. The properties: no panic; what scantix signs verifies; an arbitrary
//! header verifies only if it is that signature (hex in either case, base64 as encoded, modulo
//! surrounding whitespace); a token verifies only as the one minted for its installation.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use scantix_core::secret::Secret;
use scantix_webhooks::servicenow::{sign_servicenow, verify_servicenow_signature};
use scantix_webhooks::signature::{sign, sign_hex, verify_hex_signature, verify_signature};
use scantix_webhooks::upload::token::UploadTokens;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: &'a [u8],
    header: &'a str,
    installation: u64,
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let Input {
        secret,
        header,
        installation,
        body,
    } = input;

    let signed = sign(secret, body);
    assert_eq!(verify_signature(secret, body, Some(&signed)), Ok(()));
    if verify_signature(secret, body, Some(header)).is_ok() {
        assert_eq!(header.trim().to_ascii_lowercase(), signed);
    }

    let signed_hex = sign_hex(secret, body);
    assert_eq!(
        verify_hex_signature(secret, body, Some(&signed_hex)),
        Ok(())
    );
    if verify_hex_signature(secret, body, Some(header)).is_ok() {
        assert_eq!(header.trim().to_ascii_lowercase(), signed_hex);
    }

    let signed_sn = sign_servicenow(secret, body);
    assert_eq!(
        verify_servicenow_signature(secret, body, Some(&signed_sn)),
        Ok(())
    );
    if verify_servicenow_signature(secret, body, Some(header)).is_ok() {
        assert_eq!(header.trim(), signed_sn);
    }

    let tokens = UploadTokens::new(Secret::new(String::from_utf8_lossy(secret)));
    let minted = tokens.mint(installation);
    assert_eq!(tokens.verify(minted.expose()).ok(), Some(installation));
    if let Ok(id) = tokens.verify(header) {
        assert_eq!(tokens.mint(id).expose(), header.trim());
    }
});
