//! Opening an input file (an executable or a core) the one way every reader does: only a
//! regular file, refused with one line otherwise. A FIFO would block the open (and every
//! read) until a writer came; a device or socket is never a core or a binary.

use std::fs::File;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// `ELOOP`: the path is a loop of symbolic links.
const ELOOP: i32 = 40;

/// Why `path` cannot be read as a `what` ("core file", "binary"), or None when it is a
/// regular file.
pub fn input_problem(path: &Path, what: &str) -> Option<Error> {
    let name = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => return Some(io_error(path, &e)),
    };
    let kind = meta.file_type();
    let is = if kind.is_file() {
        return None;
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    };
    Some(Error::new(
        ErrorKind::Io,
        format!("{name} is {is}, not a {what}: goscope reads regular files only"),
    ))
}

/// Opens `path` for reading if it is a regular file (see [`input_problem`]).
pub fn open_regular(path: &Path, what: &str) -> Result<File> {
    if let Some(problem) = input_problem(path, what) {
        return Err(problem);
    }
    let file = File::open(path).map_err(|e| io_error(path, &e))?;
    // The path may have been replaced between the check and the open.
    let meta = file.metadata().map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot stat {}: {e}", path.display()),
        )
    })?;
    if !meta.file_type().is_file() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "{} is not a regular file, not a {what}: goscope reads regular files only",
                path.display()
            ),
        ));
    }
    Ok(file)
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    let name = path.display();
    let message = if e.raw_os_error() == Some(ELOOP) {
        format!("cannot open {name}: too many levels of symbolic links (a symlink loop)")
    } else {
        format!("cannot open {name}: {e}")
    };
    Error::new(ErrorKind::Io, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = std::env::temp_dir().join(format!("goscope-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .ok();
        let said = |path: &Path, what: &str| {
            open_regular(path, what)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.map(|s| s.success()).unwrap_or(false), "mkfifo");
        assert!(said(&fifo, "core file").contains("named pipe"));
        let link = dir.join("loop");
        std::os::unix::fs::symlink(&link, &link).ok();
        assert!(said(&link, "core file").contains("symlink loop"));
        assert!(said(&dir, "binary").contains("a directory"));
        assert!(said(&dir.join("none"), "binary").contains("No such file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
