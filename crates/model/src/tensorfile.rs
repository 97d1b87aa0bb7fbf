//! What checkpoints and network files share: `f32` tensors as little-endian bytes, the JSON
//! document in a safetensors header, and writing a file atomically (temporary file, fsync,
//! rename, fsync of the directory).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::checkpoint::sha256;
use crate::error::ModelError;

/// A file error as a [`ModelError::Checkpoint`].
pub(crate) fn bad(e: impl std::fmt::Display) -> ModelError {
    ModelError::Checkpoint(e.to_string())
}

/// `v` as little-endian bytes.
pub(crate) fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The values of an `f32` tensor.
pub(crate) fn floats(view: &TensorView<'_>, name: &str) -> Result<Vec<f32>, ModelError> {
    if view.dtype() != Dtype::F32 {
        return Err(bad(format!("tensor {name} is not f32")));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The header metadata entry `key` of safetensors `bytes`, or `what` is missing.
pub(crate) fn header_entry(bytes: &[u8], key: &str, what: &str) -> Result<String, ModelError> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    meta.metadata()
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .ok_or_else(|| bad(format!("not an fcnsweep {what} (no {key} header)")))
}

/// Writes `bytes` to `path` through a temporary file beside it, fsync and rename (pausing
/// `pause` before the rename, for fault-injection tests), then fsyncs the directory; returns
/// the SHA-256 of the bytes.
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    pause: Duration,
) -> Result<String, ModelError> {
    let io = |e: std::io::Error| bad(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io)?;
    let tmp = path.with_extension("safetensors.tmp");
    {
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    if !pause.is_zero() {
        std::thread::sleep(pause);
    }
    fs::rename(&tmp, path).map_err(io)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(sha256(bytes))
}
