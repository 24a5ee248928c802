//! Files drawn from a run (`--svg`, `--html`, `--chrome-trace`, `LOOPLAB_HTML`),
//! written whole or not at all, and checked before the run.
//!
//! A picture for a slide is only useful whole. A program that writes straight into
//! `timeline.svg` and fails half-way (a full disk, a killed process) leaves half a
//! picture where the last good one was. So [`write_atomically`] writes the bytes to a
//! temporary file beside the target (the `tempfile` crate: a short random hidden
//! name, in the same folder because a rename across file systems is not atomic),
//! flushes them to disk, and only then renames the temporary file over the target. A
//! rename within one folder is atomic on the platforms looplab runs on: a reader sees
//! the old file or the new one, never a mix. On any error the temporary file is
//! removed, so nothing is left behind.
//!
//! A rename replaces whatever is at the name, so two things are done by hand:
//!
//! - a symbolic link is *written through*: the rename goes onto the file the link
//!   points at ([`target`]), and the link stays a link;
//! - an existing file keeps its permissions: the temporary file gets them before the
//!   rename (a new file gets the usual `0666` less the umask, as `File::create` would).
//!
//! A second hard link is not written through: the rename gives the name a new file,
//! and the other name keeps the old one.
//!
//! A long run should not be wasted on a file that cannot be written, so
//! [`check_writable`] tries, before the run, what the write will do: it resolves the
//! path and creates (and removes) a temporary file in the folder. [`file_id`] tells
//! which file a path names ([`FileId`]), by which two spellings of one file are found
//! out before both are written.

use std::fs::{self, Permissions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many symbolic links in a row are followed before giving up, as the kernel does
/// (Linux's limit is 40).
const MAX_LINKS: usize = 40;

/// Writes `bytes` to `path` through a temporary file in the same folder and a
/// rename. On error nothing is left at `path` that was not there before (an existing
/// file keeps its old contents), no temporary file remains, and the error names
/// `path` and what failed: `could not write /no/such/dir/t.svg: No such file or
/// directory (os error 2)`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let target = target(path).map_err(|e| named(path, e))?;
    write_whole(&target, bytes).map_err(|e| named(path, e))
}

/// Writes each file with [`write_atomically`], in order, trying every one even after
/// one failed: the others are not lost with it. The error names each file not
/// written, and why, then those that were: `could not write a/run.html: No such file
/// or directory (os error 2); written: t.svg, run.json`. The texts are made one at a
/// time, as the iterator gives them.
pub fn write_each<'a>(files: impl IntoIterator<Item = (&'a Path, String)>) -> io::Result<()> {
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for (path, text) in files {
        match write_atomically(path, text.as_bytes()) {
            Ok(()) => written.push(path.display().to_string()),
            Err(e) => failed.push(e),
        }
    }
    let Some(kind) = failed.first().map(io::Error::kind) else {
        return Ok(());
    };
    let mut message: Vec<String> = failed.iter().map(io::Error::to_string).collect();
    if !written.is_empty() {
        message.push(format!("written: {}", written.join(", ")));
    }
    Err(io::Error::new(kind, message.join("; ")))
}

/// Checks, before a run, that [`write_atomically`] can write `path`: its folder exists
/// and takes a new file, and what is there now (if anything) is a regular file. The
/// error is the one the write would give.
pub fn check_writable(path: &Path) -> io::Result<()> {
    let target = target(path).map_err(|e| named(path, e))?;
    // The same temporary file the write will make, removed again when dropped.
    temporary_beside(&target, None).map_err(|e| named(path, e))?;
    Ok(())
}

/// Which file `path` names (the file a write to it would replace, or make), so that
/// two spellings of one file can be found out before both are written.
pub fn file_id(path: &Path) -> io::Result<FileId> {
    target(path)
        .and_then(|target| FileId::of(&target))
        .map_err(|e| named(path, e))
}

/// Which file a path names, whatever its spelling (relative or absolute, `./`, `..`,
/// a symbolic link, a second hard link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileId {
    /// A file that exists: its device and inode, which every name of it shares.
    Existing {
        /// The device the file is on.
        device: u64,
        /// The file's number on that device.
        inode: u64,
    },
    /// A file still to be made: its folder, resolved, and its name.
    New(PathBuf),
}

impl FileId {
    fn of(target: &Path) -> io::Result<FileId> {
        match fs::metadata(target) {
            Ok(metadata) => Ok(FileId::Existing {
                device: metadata.dev(),
                inode: metadata.ino(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let name = target.file_name().ok_or_else(not_a_file)?;
                Ok(FileId::New(fs::canonicalize(folder_of(target))?.join(name)))
            }
            Err(e) => Err(e),
        }
    }
}

/// The file a write to `path` lands on: `path` itself, or, when `path` is a symbolic
/// link (to a file that may not exist yet), the file at the end of the links. Refused
/// when something other than a regular file is there (a folder, or a device such as
/// `/dev/stdout`): a rename would destroy it.
fn target(path: &Path) -> io::Result<PathBuf> {
    // `dir/`, `dir/.` and `..` name folders, whatever is there.
    let spelled = path.as_os_str().as_bytes();
    if path.file_name().is_none() || spelled.ends_with(b"/") || spelled.ends_with(b"/.") {
        return Err(not_a_file());
    }
    let mut target = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                // A relative link is relative to the folder the link is in.
                let points_to = fs::read_link(&target)?;
                target = folder_of(&target).join(points_to);
            }
            Ok(metadata) if metadata.is_file() => return Ok(target),
            Ok(_) => return Err(not_a_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(target),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links in a row"
    )))
}

/// The bytes into a temporary file beside `target`, on disk, then renamed onto it.
fn write_whole(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let keep = match fs::metadata(target) {
        Ok(metadata) => Some(metadata.permissions()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut temporary = temporary_beside(target, keep)?;
    temporary.write_all(bytes)?;
    // On disk before the rename makes it visible, so a crash cannot publish an empty file.
    temporary.as_file().sync_all()?;
    // On failure the temporary file comes back inside the error, and dropping it
    // removes it.
    temporary.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// A new temporary file in `target`'s folder (`.tmpXXXXXX`, short whatever the
/// target's name), with `permissions` when given, or `0666` less the umask.
fn temporary_beside(
    target: &Path,
    permissions: Option<Permissions>,
) -> io::Result<tempfile::NamedTempFile> {
    // The mode given at creation goes through the umask, like `File::create`'s;
    // `NamedTempFile::new_in` would make every export `0600`.
    let file = tempfile::Builder::new()
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(folder_of(target))
        .map_err(without_temporary_name)?;
    if let Some(permissions) = permissions {
        // Exactly the old file's mode, past the umask.
        file.as_file().set_permissions(permissions)?;
    }
    Ok(file)
}

/// The folder `path` is in: `.` for a bare name.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The OS's reason alone. `tempfile` adds ` at path ".tmpXXXXXX"` to its errors (and
/// keeps the OS's error only as text): the random name says nothing to a user who
/// asked for another one, and the error is named after that one by [`named`].
fn without_temporary_name(error: io::Error) -> io::Error {
    match error.to_string().rsplit_once(" at path ") {
        Some((reason, _)) => io::Error::new(error.kind(), reason),
        None => error,
    }
}

fn not_a_file() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not a regular file (give the path of a file to write)",
    )
}

fn named(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("could not write {}: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty folder under the system's temporary folder, removed when dropped.
    fn scratch() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("looplab-export-")
            .tempdir()
            .unwrap()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_file_is_written_whole_and_replaces_the_old_one() {
        let dir = scratch();
        let path = dir.path().join("picture.svg");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new picture").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new picture");
        assert_eq!(entries(dir.path()), ["picture.svg"]);
    }

    #[test]
    fn a_bare_name_is_written_in_the_current_folder() {
        assert_eq!(folder_of(Path::new("x.svg")), Path::new("."));
        assert_eq!(folder_of(Path::new("a/x.svg")), Path::new("a"));
    }

    #[test]
    fn a_missing_folder_is_an_error_that_names_the_path() {
        let dir = scratch();
        let path = dir.path().join("no-such-dir").join("picture.svg");
        for error in [
            write_atomically(&path, b"x").unwrap_err(),
            check_writable(&path).unwrap_err(),
        ] {
            assert_eq!(error.kind(), io::ErrorKind::NotFound);
            // The OS's reason, not the temporary file's random name.
            assert_eq!(
                error.to_string(),
                format!(
                    "could not write {}: No such file or directory (os error 2)",
                    path.display()
                )
            );
        }
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn a_folder_where_the_file_should_go_is_refused_and_left_alone() {
        let dir = scratch();
        let path = dir.path().join("picture.svg");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"kept").unwrap();
        let error = write_atomically(&path, b"x").unwrap_err();
        assert!(error.to_string().contains("picture.svg"), "{error}");
        assert!(error.to_string().contains("not a regular file"), "{error}");
        assert_eq!(entries(dir.path()), ["picture.svg"]);
        assert_eq!(fs::read(path.join("inside")).unwrap(), b"kept");
        assert!(check_writable(&path).is_err());
        assert!(check_writable(&dir.path().join(".")).is_err());
        assert!(check_writable(&dir.path().join("new/")).is_err());
    }

    #[test]
    fn a_device_is_refused_and_left_alone() {
        let error = write_atomically(Path::new("/dev/null"), b"x").unwrap_err();
        assert!(error.to_string().contains("/dev/null"), "{error}");
        assert!(!fs::metadata("/dev/null").unwrap().is_file());
    }

    #[test]
    fn a_symbolic_link_is_written_through_and_the_target_keeps_its_mode() {
        let dir = scratch();
        let real = dir.path().join("real.svg");
        let link = dir.path().join("link.svg");
        write_atomically(&real, b"old").unwrap();
        fs::set_permissions(&real, Permissions::from_mode(0o600)).unwrap();
        // A relative link, resolved from the link's folder, not the current one.
        std::os::unix::fs::symlink("real.svg", &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(mode(&real), 0o600);
        assert_eq!(entries(dir.path()), ["link.svg", "real.svg"]);
    }

    #[test]
    fn a_link_to_a_file_not_made_yet_makes_it() {
        let dir = scratch();
        let link = dir.path().join("link.svg");
        std::os::unix::fs::symlink(dir.path().join("later.svg"), &link).unwrap();
        assert_eq!(
            file_id(&link).unwrap(),
            file_id(&dir.path().join("later.svg")).unwrap()
        );
        write_atomically(&link, b"made").unwrap();
        assert_eq!(fs::read(dir.path().join("later.svg")).unwrap(), b"made");
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    }

    #[test]
    fn links_in_a_loop_are_an_error_not_a_hang() {
        let dir = scratch();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let error = write_atomically(&a, b"x").unwrap_err();
        assert!(error.to_string().contains("symbolic links"), "{error}");
    }

    #[test]
    fn a_new_file_gets_the_usual_mode_not_the_temporary_files() {
        let dir = scratch();
        let path = dir.path().join("new.svg");
        write_atomically(&path, b"x").unwrap();
        let made_by_create = dir.path().join("create.svg");
        fs::File::create(&made_by_create).unwrap();
        assert_eq!(mode(&path), mode(&made_by_create));
    }

    #[test]
    fn every_spelling_of_one_file_has_one_id_and_other_files_another() {
        let dir = scratch();
        let file = dir.path().join("one.svg");
        fs::write(&file, b"x").unwrap();
        let hard = dir.path().join("hard.svg");
        fs::hard_link(&file, &hard).unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let id = file_id(&file).unwrap();
        assert!(matches!(id, FileId::Existing { .. }));
        assert_eq!(file_id(&hard).unwrap(), id);
        assert_eq!(file_id(&sub.join("../one.svg")).unwrap(), id);
        let new = file_id(&dir.path().join("two.svg")).unwrap();
        assert_eq!(file_id(&sub.join("../two.svg")).unwrap(), new);
        assert_ne!(new, id);
        assert_ne!(file_id(&sub.join("two.svg")).unwrap(), new);
        check_writable(&file).unwrap();
        check_writable(&dir.path().join("two.svg")).unwrap();
        // The check leaves no temporary file behind.
        assert_eq!(entries(dir.path()), ["hard.svg", "one.svg", "sub"]);
    }

    #[test]
    fn each_file_is_tried_and_the_error_names_those_written_and_not() {
        let dir = scratch();
        let (a, b) = (dir.path().join("a.svg"), dir.path().join("b.json"));
        let lost = dir.path().join("no-such-dir/page.html");
        let files = [
            (a.as_path(), "a"),
            (lost.as_path(), "p"),
            (b.as_path(), "b"),
        ];
        let error = write_each(files.map(|(path, text)| (path, text.to_owned()))).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            error.to_string(),
            format!(
                "could not write {}: No such file or directory (os error 2); written: {}, {}",
                lost.display(),
                a.display(),
                b.display()
            )
        );
        assert_eq!(entries(dir.path()), ["a.svg", "b.json"]);
        write_each([(a.as_path(), "again".to_owned())]).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"again");
    }

    #[test]
    fn a_name_of_250_characters_is_written() {
        let dir = scratch();
        let path = dir.path().join(format!("{}.svg", "n".repeat(246)));
        check_writable(&path).unwrap();
        write_atomically(&path, b"x").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }
}
