//! Atomic run directories: everything is written into a hidden staging
//! directory beside the target and renamed into place at the end, so a killed
//! run never leaves a directory that looks whole.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether process `pid` still runs. Where that cannot be known (no
/// `/proc`), it is assumed to, so nothing in use is ever removed.
pub(super) fn process_alive(pid: &str) -> bool {
    let proc = Path::new("/proc");
    if !proc.is_dir() {
        return true;
    }
    pid.parse::<u32>().is_err() || proc.join(pid).exists()
}

pub(crate) struct Staging {
    staging: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    pub(crate) fn new(target: &Path) -> Result<Self> {
        let parent = target.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        // A run that was killed leaves its staging directory behind; the
        // next run of the same target sweeps it away, unless the process
        // that owns it is still alive (two runs of one target at once).
        let prefix = format!(".{name}.partial-");
        if let Ok(entries) = fs::read_dir(parent) {
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = file_name.strip_prefix(&prefix)
                    && !process_alive(pid)
                {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        fs::create_dir(&staging).map_err(|e| Error::write(&staging, e))?;
        Ok(Staging {
            staging,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.staging
    }

    pub(crate) fn write_file(&self, name: &str, contents: &str) -> Result<()> {
        let path = self.staging.join(name);
        fs::write(&path, contents).map_err(|e| Error::write(path, e))
    }

    /// Replaces the target with the staged directory.
    pub(crate) fn commit(mut self) -> Result<()> {
        if self.target.exists() {
            fs::remove_dir_all(&self.target).map_err(|e| Error::write(&self.target, e))?;
        }
        fs::rename(&self.staging, &self.target).map_err(|e| Error::write(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// The visible directories in `dir` (staging directories start with a dot),
/// sorted, so whatever walks output trees does so in the same order on any
/// file system. Nothing when `dir` cannot be read.
pub(crate) fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    dirs.sort();
    dirs
}
