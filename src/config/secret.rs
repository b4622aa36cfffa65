//! `JWT_SECRET`, or with SQLite a secret generated once and kept beside the database file.
use std::path::{Path, PathBuf};

use super::checks::{ConfigError, invalid};
use super::{MIN_JWT_SECRET_BYTES, is_sqlite};

/// The directory of a SQLite database file, if the URL names one.
pub fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(
        Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    )
}

/// `JWT_SECRET`, or with SQLite a secret generated once and kept beside the database file.
pub(super) fn jwt_secret(given: Option<&str>, url: &str) -> Result<Vec<u8>, ConfigError> {
    const SETTING: &str = "JWT_SECRET";
    if let Some(s) = given {
        if s.len() < MIN_JWT_SECRET_BYTES {
            return Err(invalid(
                SETTING,
                format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            ));
        }
        return Ok(s.as_bytes().to_vec());
    }
    let Some(dir) = is_sqlite(url).then(|| sqlite_dir(url)).flatten() else {
        return Err(invalid(
            SETTING,
            "is required with PostgreSQL (at least 32 bytes)",
        ));
    };
    let file = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&file)
        && s.trim().len() >= MIN_JWT_SECRET_BYTES
    {
        return Ok(s.trim().as_bytes().to_vec());
    }
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = hex::encode(bytes);
    std::fs::create_dir_all(&dir)
        .and_then(|_| write_private(&file, &secret))
        .map_err(|e| {
            invalid(
                SETTING,
                format!(
                    "is not set, and a generated one cannot be kept in {}: {e}",
                    file.display()
                ),
            )
        })?;
    tracing::warn!(path = %file.display(), "JWT_SECRET not set: generated one and kept it beside the database");
    Ok(secret.into_bytes())
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(content.as_bytes())
}
