//! Which kind of file system holds a database: SQLite's locks are unreliable on network file
//! systems (SQLite FAQ, "Can multiple applications or multiple instances of the same
//! application access a single database file at the same time?"), where concurrent writers
//! can corrupt the file, so fcnsweep warns before using one there.

use std::path::Path;

/// The network (or user-space) file system kind of a `statfs` magic number, if it is one.
pub fn network_kind(magic: u64) -> Option<&'static str> {
    match magic {
        0x6969 => Some("NFS"),
        0xFF53_4D42 => Some("CIFS"),
        0xFE53_4D42 => Some("SMB2"),
        0x517B => Some("SMB"),
        0x0102_1997 => Some("9p"),
        0x6573_5546 => Some("FUSE"),
        0x0BD0_0BD0 => Some("Lustre"),
        0x4750_4653 => Some("GPFS"),
        0x00C3_6400 => Some("CephFS"),
        0x5346_414F => Some("AFS"),
        _ => None,
    }
}

/// The network file system kind holding `path` (a file, or the directory it would be created
/// in), or `None` for a local one or when it cannot be told.
pub fn network_file_system(path: &Path) -> Option<&'static str> {
    let dir = if path.is_dir() {
        path
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    };
    magic(dir).and_then(network_kind)
}

#[cfg(target_os = "linux")]
fn magic(dir: &Path) -> Option<u64> {
    rustix::fs::statfs(dir).ok().map(|s| s.f_type as u64)
}

#[cfg(not(target_os = "linux"))]
fn magic(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_magics_are_named_and_local_ones_are_not() {
        assert_eq!(network_kind(0x6969), Some("NFS"));
        assert_eq!(network_kind(0xFF53_4D42), Some("CIFS"));
        assert_eq!(network_kind(0x0102_1997), Some("9p"));
        assert_eq!(network_kind(0x6573_5546), Some("FUSE"));
        // ext4, xfs, btrfs, tmpfs, overlayfs.
        for local in [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794C_7630] {
            assert_eq!(network_kind(local), None, "{local:#x}");
        }
    }

    #[test]
    fn a_temporary_directory_is_local() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(network_file_system(&dir.path().join("db.sqlite")), None);
        assert_eq!(network_file_system(Path::new("db.sqlite")), None);
    }
}
