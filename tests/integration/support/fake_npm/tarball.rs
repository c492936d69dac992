//! Tarballs and timestamps for the fake npm registry.

use std::io::Write as _;

use serde_json::json;

/// A valid npm tarball: gzip of a ustar archive holding `package/package.json`
/// (`{"name","version"}`, unless `extra_files` has its own `package.json`) and every
/// `(path, bytes)` of `extra_files` under `package/`. Deterministic (fixed mtime, as
/// `npm pack` does).
pub fn make_tarball(name: &str, version: &str, extra_files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    if !extra_files.iter().any(|(p, _)| p.trim_start_matches("./") == "package.json") {
        let manifest =
            serde_json::to_vec_pretty(&json!({ "name": name, "version": version })).expect("serialize package.json");
        append(&mut tar, "package/package.json", &manifest);
    }
    for (path, data) in extra_files {
        append(&mut tar, &format!("package/{}", path.trim_start_matches("./")), data);
    }
    let tar = tar.into_inner().expect("finish tarball");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("gzip tarball");
    gz.finish().expect("gzip tarball")
}

/// One regular file in a ustar header (a long path goes into its prefix field).
fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_path(path).unwrap_or_else(|e| panic!("make_tarball: {path}: {e}"));
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(499_162_500); // 1985-10-26T08:15:00Z, as npm pack writes
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    tar.append(&h, data).expect("append to tarball");
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the registry writes `time` entries.
pub fn rfc3339_now() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::now_utc().format(&format).expect("format the time")
}
