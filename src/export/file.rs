//! Files drawn from a run (`--svg`, `--html`, `--chrome-trace`, `LOOPLAB_HTML`),
//! written whole or not at all.
//!
//! A picture for a slide is only useful whole. A program that writes straight into
//! `timeline.svg` and fails half-way (a full disk, a killed process) leaves half a
//! picture where the last good one was. So [`write_atomically`] writes the bytes to a
//! temporary file beside the target, flushes them to disk, and only then renames the
//! temporary file over the target. A rename within one directory is atomic on the
//! platforms looplab runs on: a reader sees the old file or the new one, never a mix.
//! On any error the temporary file is removed, so nothing is left behind.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file in the same directory and a
/// rename. On error nothing is left at `path` that was not there before (an existing
/// file keeps its old contents), no temporary file remains, and the error names
/// `path` and what failed: `could not write /no/such/dir/t.svg: No such file or
/// directory (os error 2)`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let named = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("could not write {}: {error}", path.display()),
        )
    };
    // A symbolic link is followed: the file it points at is the one replaced, and the
    // link stays. Anything that is not a regular file (a directory, a device such as
    // /dev/stdout) cannot be replaced by a rename without destroying it: refused.
    let target = match fs::canonicalize(path) {
        Ok(resolved) => {
            if !fs::metadata(&resolved).map_err(named)?.is_file() {
                return Err(named(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file (give the path of a file to write)",
                )));
            }
            resolved
        }
        // Not there yet: written where it was asked for.
        Err(_) => path.to_path_buf(),
    };
    let path = target.as_path();
    let temporary = temporary_path(path);
    let result = write_and_sync(&temporary, bytes).and_then(|()| fs::rename(&temporary, path));
    result.map_err(|error| {
        // Best effort: when the temporary file was never created there is nothing to do.
        let _ = fs::remove_file(&temporary);
        named(error)
    })
}

fn write_and_sync(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // `create_new`: never follow or overwrite something already at the temporary name.
    let mut file = File::options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    // On disk before the rename makes it visible, so a crash cannot publish an empty file.
    file.sync_all()
}

/// `dir/.timeline.svg.12345.tmp` for `dir/timeline.svg`: hidden, in the same directory
/// (a rename across file systems is not atomic), and named after this process so two
/// runs at once do not write into each other's temporary file.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".to_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory under the target dir, removed first if a previous run left it.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("looplab-export-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_written_whole_and_replaces_the_old_one() {
        let dir = scratch("replace");
        let path = dir.join("picture.svg");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new picture").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new picture");
        assert_eq!(entries(&dir), ["picture.svg"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_that_names_the_path() {
        let dir = scratch("missing");
        let path = dir.join("no-such-dir").join("picture.svg");
        let error = write_atomically(&path, b"x").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(
            error
                .to_string()
                .starts_with(&format!("could not write {}: ", path.display())),
            "{error}"
        );
        assert!(entries(&dir).is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file_and_the_target_untouched() {
        let dir = scratch("directory");
        // A directory where the file should go: the write succeeds, the rename fails.
        let path = dir.join("picture.svg");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"kept").unwrap();
        let error = write_atomically(&path, b"x").unwrap_err();
        assert!(error.to_string().contains("picture.svg"), "{error}");
        assert_eq!(entries(&dir), ["picture.svg"]);
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"kept");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_is_followed_and_stays_a_link() {
        let dir = scratch("symlink");
        let real = dir.join("real.svg");
        let link = dir.join("link.svg");
        write_atomically(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_directory_or_a_device_is_refused_and_left_alone() {
        let dir = scratch("not-a-file");
        let error = write_atomically(&dir, b"x").unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert!(dir.is_dir());
        let error = write_atomically(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(error.to_string().contains("/dev/null"), "{error}");
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
    }
}
