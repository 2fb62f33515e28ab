//! [`ScratchDir`]: a test's folder in the system's temporary directory,
//! gone when the test is done with it, even if the test process was
//! killed before it could remove it.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// What every scratch folder's name starts with, before the owning
/// process's id.
const PREFIX: &str = "airline-test-";

/// A fresh folder in the temporary directory, removed with everything in
/// it when dropped. Its name carries the test process's id: the first
/// scratch folder a process makes removes those of processes that died
/// without dropping theirs (a test binary killed on a timeout, say).
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A new folder named after `what` (`kannel`, `smtp-sink`, ...).
    pub fn new(what: &str) -> ScratchDir {
        static SWEEP: Once = Once::new();
        SWEEP.call_once(remove_orphans);
        let path = std::env::temp_dir().join(format!(
            "{PREFIX}{}-{what}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        ScratchDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the scratch folders whose process is gone.
fn remove_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_folder_goes_with_its_owner_or_after_its_dead_process() {
        // A folder left by a process that is gone (no such pid).
        let orphan = std::env::temp_dir().join(format!("{PREFIX}4294967-kannel-left"));
        std::fs::create_dir_all(orphan.join("store")).unwrap();
        remove_orphans();
        assert!(!orphan.exists(), "the dead process's folder stayed");

        let dir = ScratchDir::new("kannel");
        let path = dir.path().to_owned();
        std::fs::write(dir.join("messages.jsonl"), "{}\n").unwrap();
        remove_orphans();
        assert!(path.exists(), "a live process's folder was removed");
        drop(dir);
        assert!(!path.exists(), "the folder stayed after its owner");
    }
}
