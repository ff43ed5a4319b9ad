//! Atomic run directories. Everything is written into a hidden staging
//! directory beside the target and swapped into place at the end, so the
//! target's name holds a whole run at every instant: the old one until the
//! swap, the new one after it. A killed run never leaves a directory that
//! looks whole, nor loses the run it was replacing; two runs into one
//! target at once are refused, not interleaved.

use std::fs;
use std::io::Write as _;
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
    /// Held from `new` until the staging directory is committed or dropped.
    lock: PathBuf,
    committed: bool,
}

/// The names beside `<name>` that belong to its writers: `.<name>.lock`,
/// `.<name>.partial-<pid>` (a run being written) and
/// `.<name>.replaced-<pid>` (a run being replaced, set aside for a moment).
struct Names {
    parent: PathBuf,
    name: String,
}

impl Names {
    fn of(target: &Path) -> Self {
        Names {
            parent: target.parent().unwrap_or(Path::new(".")).to_path_buf(),
            name: target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into()),
        }
    }

    fn lock(&self) -> PathBuf {
        self.parent.join(format!(".{}.lock", self.name))
    }

    fn staging_prefix(&self) -> String {
        format!(".{}.partial-", self.name)
    }

    fn replaced_prefix(&self) -> String {
        format!(".{}.replaced-", self.name)
    }
}

impl Staging {
    pub(crate) fn new(target: &Path) -> Result<Self> {
        let names = Names::of(target);
        let parent = &names.parent;
        fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
        let lock = take_lock(&names.lock(), target)?;
        sweep(&names, target);
        let staging = parent.join(format!("{}{}", names.staging_prefix(), std::process::id()));
        if let Err(e) = fs::create_dir(&staging) {
            let _ = fs::remove_file(&lock);
            return Err(Error::write(&staging, e));
        }
        Ok(Staging {
            staging,
            target: target.to_path_buf(),
            lock,
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

    /// Puts the staged directory in the target's place.
    pub(crate) fn commit(mut self) -> Result<()> {
        swap_in(&self.staging, &self.target).map_err(|e| Error::write(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
        let _ = fs::remove_file(&self.lock);
    }
}

/// Creates the target's lock file holding this process's id, or says who
/// holds it. A lock left by a process that no longer runs is taken over.
fn take_lock(lock: &Path, target: &Path) -> Result<PathBuf> {
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(lock)
        {
            Ok(mut file) => {
                file.write_all(std::process::id().to_string().as_bytes())
                    .map_err(|e| Error::write(lock, e))?;
                return Ok(lock.to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(lock).unwrap_or_default();
                let holder = holder.trim();
                if process_alive(holder) {
                    return Err(Error::Busy {
                        path: target.to_path_buf(),
                        pid: holder.parse().unwrap_or(0),
                    });
                }
                let _ = fs::remove_file(lock);
            }
            Err(e) => return Err(Error::write(lock, e)),
        }
    }
    Err(Error::Busy {
        path: target.to_path_buf(),
        pid: 0,
    })
}

/// Cleans up after writers of this target that were killed (their process
/// is gone; this one holds the lock): a staging directory is removed; a run
/// set aside for replacing goes back to the target's name if the
/// replacement never arrived, and is removed if it did.
fn sweep(names: &Names, target: &Path) {
    let Ok(entries) = fs::read_dir(&names.parent) else {
        return;
    };
    let (staging, replaced) = (names.staging_prefix(), names.replaced_prefix());
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = file_name.strip_prefix(&staging)
            && !process_alive(pid)
        {
            let _ = fs::remove_dir_all(entry.path());
        } else if let Some(pid) = file_name.strip_prefix(&replaced)
            && !process_alive(pid)
        {
            if target.exists() {
                let _ = fs::remove_dir_all(entry.path());
            } else {
                let _ = fs::rename(entry.path(), target);
            }
        }
    }
}

/// Replaces `target` (if any) with `staged`. On Linux the two are exchanged
/// in one step (`renameat2` with `RENAME_EXCHANGE`) and the old run, now
/// under the staging name, is removed. Where the file system cannot
/// exchange, the old run is renamed aside, the new one renamed in, and the
/// old one removed; a kill between the two renames leaves the old run aside,
/// and the next writer of this target puts it back (`sweep`).
fn swap_in(staged: &Path, target: &Path) -> std::io::Result<()> {
    if fs::symlink_metadata(target).is_err() {
        return fs::rename(staged, target);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, staged, CWD, target, RenameFlags::EXCHANGE) {
            Ok(()) => {
                let _ = fs::remove_dir_all(staged);
                return Ok(());
            }
            // No exchange on this file system (or kernel): the portable way.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    let names = Names::of(target);
    let aside = names
        .parent
        .join(format!("{}{}", names.replaced_prefix(), std::process::id()));
    fs::rename(target, &aside)?;
    fs::rename(staged, target)?;
    let _ = fs::remove_dir_all(&aside);
    Ok(())
}

/// The visible directories in `dir` (staging directories start with a dot),
/// sorted, so whatever walks output trees does so in the same order on any
/// file system. Links are not followed: a link back up the tree would make
/// a walk redraw the same runs again and again, or never end. Nothing when
/// `dir` cannot be read.
pub(crate) fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_type().is_ok_and(|t| t.is_dir())
                && !e.file_name().to_string_lossy().starts_with('.')
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_in(dir: &Path, marker: &str) {
        let staging = Staging::new(dir).unwrap();
        staging.write_file("run.json", marker).unwrap();
        staging.commit().unwrap();
    }

    #[test]
    fn replacing_a_run_leaves_only_the_new_one_and_no_litter() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("seed-1");
        run_in(&target, "old");
        run_in(&target, "new");
        assert_eq!(fs::read_to_string(target.join("run.json")).unwrap(), "new");
        let names: Vec<String> = fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["seed-1"]);
    }

    #[test]
    fn a_second_writer_of_the_same_target_is_refused_while_the_first_runs() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("seed-1");
        let first = Staging::new(&target).unwrap();
        match Staging::new(&target) {
            Err(Error::Busy { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected Busy, got {:?}", other.map(|_| ())),
        }
        drop(first);
        // Released: the next writer goes ahead.
        run_in(&target, "after");
    }

    #[test]
    fn a_run_killed_while_replacing_gets_its_old_run_back() {
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("seed-1");
        run_in(&target, "old");
        // Killed between the two renames of the portable swap: the old run
        // is aside under a process id that no longer runs.
        let names = Names::of(&target);
        let dead = u32::MAX;
        let aside = names
            .parent
            .join(format!("{}{dead}", names.replaced_prefix()));
        fs::rename(&target, &aside).unwrap();
        fs::write(names.lock(), dead.to_string()).unwrap();
        // The next writer of the target takes over the stale lock and puts
        // the old run back before it stages its own.
        let staging = Staging::new(&target).unwrap();
        assert_eq!(fs::read_to_string(target.join("run.json")).unwrap(), "old");
        assert!(!aside.exists());
        drop(staging);
        assert_eq!(fs::read_to_string(target.join("run.json")).unwrap(), "old");
    }
}
