//! Why a profiling view could not be written.

use std::io;
use std::path::PathBuf;

use capos_symbolize::PcReportError;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot draw flamegraph {}: {source}", path.display())]
    Flamegraph { path: PathBuf, source: io::Error },
    #[error("{}: total weight {total} is too large to draw", path.display())]
    TooHeavy { path: PathBuf, total: u64 },
    #[error("differential folding failed: {0}")]
    Differential(io::Error),
    #[error("timeline JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    PcReport(#[from] PcReportError),
}

pub(crate) fn create_dir(path: &std::path::Path) -> Result<(), ProfileError> {
    std::fs::create_dir_all(path)
        .map_err(|source| ProfileError::CreateDir { path: path.to_path_buf(), source })
}

pub(crate) fn write_file(
    path: &std::path::Path,
    bytes: impl AsRef<[u8]>,
) -> Result<(), ProfileError> {
    std::fs::write(path, bytes)
        .map_err(|source| ProfileError::Write { path: path.to_path_buf(), source })
}
