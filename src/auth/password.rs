//! argon2id password hashing. Hashing is CPU-heavy, so it runs on the blocking pool.
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

use std::sync::LazyLock;

use crate::error::{AppError, AppResult};

/// Bounds how many hashes run at once: argon2 takes ~19 MiB and a core per hash, so a flood
/// of logins waits here instead of exhausting memory and starving other requests.
pub type HashingPool = std::sync::Arc<tokio::sync::Semaphore>;

pub fn hashing_pool(concurrency: usize) -> HashingPool {
    std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)))
}

pub async fn hash(pool: &HashingPool, password: String) -> AppResult<String> {
    let _permit = pool.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AppError::internal)
    })
    .await
    .map_err(AppError::internal)?
}

/// Verifies `password` against a stored hash. With no stored hash (unknown account) it
/// verifies against a dummy hash, so both cases take the same time.
pub async fn verify(
    pool: &HashingPool,
    password: String,
    stored: Option<String>,
) -> AppResult<bool> {
    let _permit = pool.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&stored).map_err(AppError::internal)?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
    .map_err(AppError::internal)?
}

/// argon2id hash of a random password nobody knows, made once per process.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    let secret = uuid::Uuid::new_v4().to_string();
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});
