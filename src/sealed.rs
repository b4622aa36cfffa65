//! Secrets at rest. TOTP secrets and webhook signing secrets (current and previous) are stored
//! sealed with `DATA_ENCRYPTION_KEY`, a key from outside the database: a copy of the database
//! alone can neither sign events a SIEM trusts nor mint anyone's codes.
//!
//! A sealed value is `sealed:v1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>`:
//! XChaCha20-Poly1305 with a random 24-byte nonce, the column's name as associated data (a
//! value moved to another column does not open), and the key id (the first 16 hex digits of
//! SHA-256 over the key) naming the key that sealed it. Keys in `DATA_ENCRYPTION_OLD_KEYS`
//! still open values; `rotate-data-key` seals every value under the current key
//! (`services::sealing::seal_existing`).
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::Digest;

/// Why a secret could not be sealed or opened (never the secret itself). `AppError` takes it
/// as INTERNAL.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(pub String);

type Sealed<T> = Result<T, SealError>;

fn fail(why: impl Into<String>) -> SealError {
    SealError(why.into())
}

const PREFIX: &str = "sealed:v1:";

/// Where a sealed value lives: its associated data.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    TotpSecret,
    WebhookSecret,
    WebhookPreviousSecret,
}

impl Field {
    fn name(self) -> &'static [u8] {
        match self {
            Field::TotpSecret => b"users.totp_secret",
            Field::WebhookSecret => b"webhook_endpoints.secret",
            Field::WebhookPreviousSecret => b"webhook_endpoints.previous_secret",
        }
    }
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Key {
        let digest = sha2::Sha256::digest(bytes);
        Key {
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }
}

/// The data keys: the current one seals, every one opens.
#[derive(Clone)]
pub struct DataKeys {
    current: Key,
    old: Vec<Key>,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

impl DataKeys {
    pub fn new(current: &[u8; 32], old: &[[u8; 32]]) -> DataKeys {
        DataKeys {
            current: Key::new(current),
            old: old.iter().map(Key::new).collect(),
        }
    }

    /// The id of the key that seals now.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// `plain`, sealed for `field` under the current key.
    pub fn seal(&self, field: Field, plain: &str) -> Sealed<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: field.name(),
                },
            )
            .map_err(|_| fail("sealing a secret failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        Ok(format!("{PREFIX}{}:{b64}", self.current.id))
    }

    /// The secret in `stored` (a value written before sealing existed is returned as it is,
    /// until `seal_existing` has sealed it). An unknown key or a value that does not open is
    /// an error: never a guess.
    pub fn open(&self, field: Field, stored: &str) -> Sealed<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, b64) = rest
            .split_once(':')
            .ok_or_else(|| fail("a sealed secret is malformed"))?;
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| {
                fail(format!(
                    "a secret is sealed with data key {id}, which is not configured (DATA_ENCRYPTION_OLD_KEYS)"
                ))
            })?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| fail("a sealed secret is malformed"))?;
        if bytes.len() < 24 {
            return Err(fail("a sealed secret is malformed"));
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce
            .try_into()
            .map_err(|_| fail("a sealed secret is malformed"))?;
        let plain = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: field.name(),
                },
            )
            .map_err(|_| fail("a sealed secret does not open with its key"))?;
        String::from_utf8(plain).map_err(|_| fail("a sealed secret is malformed"))
    }

    /// Whether `stored` is sealed under the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|r| r.split_once(':'))
            .is_some_and(|(id, _)| id == self.current.id)
    }

    /// `stored` sealed under the current key (opened first with whichever key sealed it), or
    /// `None` when it already is.
    pub fn reseal(&self, field: Field, stored: &str) -> Sealed<Option<String>> {
        if self.is_current(stored) {
            return Ok(None);
        }
        Ok(Some(self.seal(field, &self.open(field, stored)?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DataKeys {
        DataKeys::new(&[7u8; 32], &[])
    }

    #[test]
    fn a_sealed_value_opens_and_carries_no_plaintext() {
        let k = keys();
        let s = k.seal(Field::TotpSecret, "JBSWY3DPEHPK3PXP").unwrap();
        assert!(s.starts_with("sealed:v1:") && s.contains(k.current_id()));
        assert!(!s.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(k.open(Field::TotpSecret, &s).unwrap(), "JBSWY3DPEHPK3PXP");
        // A fresh nonce each time.
        assert_ne!(s, k.seal(Field::TotpSecret, "JBSWY3DPEHPK3PXP").unwrap());
    }

    #[test]
    fn a_value_moved_to_another_column_or_tampered_with_does_not_open() {
        let k = keys();
        let s = k.seal(Field::WebhookSecret, "whsec_x").unwrap();
        assert!(k.open(Field::TotpSecret, &s).is_err());
        let mut t = s.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert!(
            k.open(Field::WebhookSecret, &String::from_utf8(t).unwrap())
                .is_err()
        );
    }

    #[test]
    fn an_old_key_opens_until_the_value_is_resealed_under_the_new_one() {
        let old = keys();
        let s = old.seal(Field::TotpSecret, "secret").unwrap();
        let rotated = DataKeys::new(&[9u8; 32], &[[7u8; 32]]);
        assert_eq!(rotated.open(Field::TotpSecret, &s).unwrap(), "secret");
        let new = rotated.reseal(Field::TotpSecret, &s).unwrap().unwrap();
        assert!(rotated.is_current(&new));
        assert!(rotated.reseal(Field::TotpSecret, &new).unwrap().is_none());
        // Without the old key, the old value is an error, not a guess.
        assert!(
            DataKeys::new(&[9u8; 32], &[])
                .open(Field::TotpSecret, &s)
                .is_err()
        );
    }
}
