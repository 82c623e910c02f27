//! SQLite's answers as `StoreError`s: everything SQLite can answer is mapped here, and only here.

use rusqlite::ErrorCode;
use scantix_core::ports::store::StoreError;

/// Maps a SQLite error: contention and I/O trouble may pass, a damaged file or a refused
/// statement will not.
pub(super) fn sql_error(err: rusqlite::Error) -> StoreError {
    let code = match &err {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    };
    match code {
        // Another connection (another process) held the write lock past the busy timeout.
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("SQLite is busy: {err}"))
        }
        // A full disk, an I/O error, a file that could not be opened: the machine, not the data.
        Some(
            ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable(format!("SQLite: {err}")),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(format!("SQLite: {err}"))
        }
        Some(ErrorCode::TooBig) => StoreError::TooLarge(format!("SQLite: {err}")),
        // A uniqueness constraint can only fail when a record was written since it was checked.
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict,
        // Read-only files, denied access, and statements SQLite refuses: no retry fixes them.
        _ => StoreError::Rejected(format!("SQLite: {err}")),
    }
}

/// A record that did not read back.
pub(super) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}
