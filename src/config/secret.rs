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

/// One data key: 32 bytes in base64.
fn data_key(setting: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| {
            invalid(
                setting,
                "must be 32 bytes in base64 (`openssl rand -base64 32`)",
            )
        })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        invalid(
            setting,
            format!("must be 32 bytes in base64, not {} bytes", bytes.len()),
        )
    })
}

/// `DATA_ENCRYPTION_KEY` (and `DATA_ENCRYPTION_OLD_KEYS`), or with SQLite in development a key
/// generated once and kept beside the database file. Production and PostgreSQL require it.
pub(super) fn data_keys(
    given: Option<&str>,
    old: Option<&str>,
    url: &str,
    environment: super::Environment,
) -> Result<crate::sealed::DataKeys, ConfigError> {
    use base64::Engine;
    const SETTING: &str = "DATA_ENCRYPTION_KEY";
    let old = old
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| data_key("DATA_ENCRYPTION_OLD_KEYS", k))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(k) = given.filter(|k| !k.trim().is_empty()) {
        return Ok(crate::sealed::DataKeys::new(&data_key(SETTING, k)?, &old));
    }
    if environment == super::Environment::Production {
        return Err(invalid(
            SETTING,
            "is required in production: 32 bytes in base64, kept outside the database",
        ));
    }
    let Some(dir) = is_sqlite(url).then(|| sqlite_dir(url)).flatten() else {
        return Err(invalid(
            SETTING,
            "is required with PostgreSQL: 32 bytes in base64, kept outside the database",
        ));
    };
    let file = dir.join("data-key");
    if let Ok(s) = std::fs::read_to_string(&file) {
        return Ok(crate::sealed::DataKeys::new(&data_key(SETTING, &s)?, &old));
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    std::fs::create_dir_all(&dir)
        .and_then(|_| write_private(&file, &text))
        .map_err(|e| {
            invalid(
                SETTING,
                format!(
                    "is not set, and a generated one cannot be kept in {}: {e}",
                    file.display()
                ),
            )
        })?;
    tracing::warn!(path = %file.display(), "DATA_ENCRYPTION_KEY not set: generated one and kept it beside the database");
    Ok(crate::sealed::DataKeys::new(&bytes, &old))
}
