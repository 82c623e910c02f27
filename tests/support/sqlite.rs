//! SQLite stores for tests: each in a directory of its own under the system's temporary
//! directory, removed when the test is done with it.

use scantix_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory that is removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory no other test (in this process or another) uses.
    pub fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "scantix-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("could not create {}: {e}", path.display());
        }
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `SqliteStore` in a new directory; keep the directory as long as the store.
pub fn temp_store() -> (SqliteStore, TempDir) {
    let dir = TempDir::new();
    match SqliteStore::open(dir.path()) {
        Ok(store) => (store, dir),
        Err(e) => panic!(
            "could not open a SQLite store in {}: {e}",
            dir.path().display()
        ),
    }
}
