//! Private files: the data directory and everything under it are for the Depot user alone
//! (directories 0700, files 0600), whatever the umask, because private packages live there.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory Depot creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file Depot creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) as 0700; an existing directory readable or writable by
/// others is tightened to 0700, with a log line.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    tighten(dir, DIR_MODE)
}

/// Sets `path` to `mode` if its permissions are looser (group or other bits set).
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let have = meta.permissions().mode() & 0o777;
    if have & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        tracing::warn!(path = %path.display(), from = format!("{have:o}"), to = format!("{mode:o}"),
            "tightened permissions: the data directory is private");
    }
    Ok(())
}

/// Creates `path` as an empty 0600 file if it is missing (so a library opening it later does
/// not create it under the umask), and tightens it if it exists.
pub fn private_file(path: &Path) -> io::Result<()> {
    match fs::OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten(path, FILE_MODE),
        Err(e) => Err(e),
    }
}
