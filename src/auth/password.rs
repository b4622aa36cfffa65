//! argon2id password hashing on a fixed pool of worker threads.
//!
//! Each hash needs ~19 MiB of working memory and a core. Running hashes on a few dedicated
//! threads (instead of tokio's blocking pool) bounds both: a flood of logins queues here, other
//! requests keep their cores, and each worker reuses its own allocation, so memory stays at
//! about `workers x 19 MiB` however many threads the blocking pool would have spread it over
//! (measured in `bench/login_flood.py`).
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send>;

/// The hashing workers. Cloning shares them.
#[derive(Clone)]
pub struct HashingPool {
    jobs: Sender<Job>,
}

impl HashingPool {
    pub fn new(workers: usize) -> Self {
        let (jobs, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender is gone
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing worker");
            }
        }
        HashingPool { jobs }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::internal("password hashing pool stopped"))?;
        rx.await
            .map_err(|_| AppError::internal("password hashing job lost"))
    }
}

pub async fn hash(pool: &HashingPool, password: String) -> AppResult<String> {
    pool.run(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AppError::internal)
    })
    .await?
}

/// Verifies `password` against a stored hash. With no stored hash (unknown account) it
/// verifies against a dummy hash, so both cases take the same time.
pub async fn verify(
    pool: &HashingPool,
    password: String,
    stored: Option<String>,
) -> AppResult<bool> {
    pool.run(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&stored).map_err(AppError::internal)?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await?
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
