//! TOTP (RFC 6238) with totp-rs: 160-bit secrets, 30 s steps, one step of skew either side.
use totp_rs::{Algorithm, Secret, Totp};

use crate::error::{AppError, AppResult};

pub const ISSUER: &str = "CRM";

/// A fresh random secret, base32-encoded for storage and authenticator apps.
pub fn new_secret() -> String {
    Secret::generate().to_base32()
}

fn build(secret_b32: &str, account: &str) -> AppResult<Totp> {
    let secret = Secret::try_from_base32(secret_b32).map_err(AppError::internal)?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(AppError::internal)
}

/// The otpauth:// URL and a PNG QR code of it as a data URL.
pub fn enrollment(secret_b32: &str, account: &str) -> AppResult<(String, String)> {
    let totp = build(secret_b32, account)?;
    let url = totp.to_url().map_err(AppError::internal)?;
    let qr = totp.to_qr_base64().map_err(AppError::internal)?;
    Ok((url, format!("data:image/png;base64,{qr}")))
}

/// The time step a code is valid for at `unix_time`, if it is valid at all.
pub fn matching_step(secret_b32: &str, code: &str, unix_time: i64) -> AppResult<Option<i64>> {
    let totp = build(secret_b32, "")?;
    Ok(totp
        .check(code.trim(), unix_time.max(0) as u64)
        .map(|s| s as i64))
}

/// The code for `unix_time`. For the demo-data helper and tests.
pub fn code_at(secret_b32: &str, unix_time: i64) -> AppResult<String> {
    let totp = build(secret_b32, "")?;
    Ok(totp.generate(unix_time.max(0) as u64).to_string())
}
