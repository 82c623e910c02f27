//! CODEOWNERS: the file is the input up to the first NUL byte, the paths looked up are the lines
//! after it (plus a few fixed ones, so a file alone is exercised too). The properties: no panic;
//! `owners_of` is `lookup` with errors read as "no owner"; and every owner returned is an owner
//! some line of the file names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scantix_core::owners::CodeOwners;

const FIXED_PATHS: &[&str] = &[
    "src/app.js",
    "/docs/README.md",
    "a/b/c/d/e/f.rs",
    "app/[locale]/page.tsx",
    "",
];

fuzz_target!(|data: &[u8]| {
    let (file, paths) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(file) = std::str::from_utf8(file) else {
        return;
    };
    let paths = String::from_utf8_lossy(paths);
    let owners = CodeOwners::parse(file);
    for path in FIXED_PATHS.iter().copied().chain(paths.lines()) {
        let found = owners.owners_of(path);
        match owners.lookup(path) {
            Ok(looked_up) => assert_eq!(found, looked_up),
            Err(_) => assert!(found.is_empty()),
        }
        for owner in found {
            assert!(
                file.contains(owner.as_str()) || owner.contains(['#', ' ']),
                "owner {owner:?} is not in the file"
            );
        }
    }
});
