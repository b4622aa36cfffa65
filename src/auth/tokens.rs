//! Access tokens (HS256 JWTs with the contract's claim names) and opaque refresh tokens.
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{AppError, AppResult};

/// The `typ` claim of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "access";
/// The `typ` claim of a token issued by `login` to a user with 2FA on, before the code: good
/// only where signing in is enough (`me`, `authenticateTwoFactor`), never as an access token.
pub const PRE_TWO_FACTOR_TOKEN_TYPE: &str = "pre_2fa";

/// RFC 8693 actor claim: who really acts behind `sub`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActorClaim {
    pub sub: String,
}

/// The claims of an access token. Names are the contract's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccessClaims {
    pub sub: String,
    pub team_id: Option<String>,
    pub is_two_factor_enable: bool,
    pub is_two_factor_authenticated: bool,
    pub iat: i64,
    /// When it was issued, in microseconds: `iat` has whole seconds only, and a password
    /// change must refuse every token issued before it, the same second included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_us: Option<i64>,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub typ: String,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_by: Option<String>,
    /// Seconds since the epoch: the record's `started_at` at the precision a JWT carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonation_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator_team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActorClaim>,
}

/// The impersonation part of a token, present on all four claims or on none.
#[derive(Debug, Clone)]
pub struct ImpersonationClaims {
    pub impersonated_by: String,
    pub impersonated_at: i64,
    pub code: String,
    pub impersonator_team_id: Option<String>,
}

impl AccessClaims {
    /// When the token was issued, in microseconds (a token without `iatUs`: the start of its
    /// `iat` second).
    pub fn issued_at_micros(&self) -> i64 {
        self.iat_us.unwrap_or(self.iat.saturating_mul(1_000_000))
    }

    /// A token still waiting for the second factor.
    pub fn is_pre_two_factor(&self) -> bool {
        self.typ == PRE_TWO_FACTOR_TOKEN_TYPE
    }

    /// The impersonation claims, or an error if only some of them are present.
    pub fn impersonation(&self) -> AppResult<Option<ImpersonationClaims>> {
        match (
            &self.impersonated_by,
            self.impersonated_at,
            &self.impersonation_code,
            &self.act,
        ) {
            (None, None, None, None) if self.impersonator_team_id.is_none() => Ok(None),
            (Some(by), Some(at), Some(code), Some(act)) if act.sub == *by => {
                Ok(Some(ImpersonationClaims {
                    impersonated_by: by.clone(),
                    impersonated_at: at,
                    code: code.clone(),
                    impersonator_team_id: self.impersonator_team_id.clone(),
                }))
            }
            _ => Err(AppError::Unauthenticated("invalid token")),
        }
    }
}

/// What goes into a new access token.
pub struct AccessGrant<'a> {
    pub user_id: &'a str,
    pub team_id: Option<&'a str>,
    pub two_factor_enabled: bool,
    pub two_factor_authenticated: bool,
    pub impersonation: Option<ImpersonationClaims>,
}

impl AccessGrant<'_> {
    /// The one definition of "waiting for 2FA": the user has 2FA on and this sign-in has not
    /// passed it yet. An impersonation token never waits (the target's 2FA is skipped by
    /// design). Such a token gets `typ: pre_2fa` and is good only for `me` and
    /// `authenticateTwoFactor`.
    pub fn waits_for_two_factor(&self) -> bool {
        self.two_factor_enabled && !self.two_factor_authenticated && self.impersonation.is_none()
    }
}

/// Signs an access token. Returns the token and its expiry.
pub fn issue_access(
    config: &Config,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
    grant: AccessGrant<'_>,
) -> AppResult<(String, DateTime<Utc>)> {
    let exp = crate::clock::later(now, ttl)?;
    let typ = if grant.waits_for_two_factor() {
        PRE_TWO_FACTOR_TOKEN_TYPE
    } else {
        ACCESS_TOKEN_TYPE
    };
    let imp = grant.impersonation;
    let claims = AccessClaims {
        sub: grant.user_id.to_string(),
        team_id: grant.team_id.map(str::to_string),
        is_two_factor_enable: grant.two_factor_enabled,
        is_two_factor_authenticated: grant.two_factor_authenticated,
        iat: now.timestamp(),
        iat_us: Some(now.timestamp_micros()),
        exp: exp.timestamp(),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        typ: typ.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        act: imp.as_ref().map(|i| ActorClaim {
            sub: i.impersonated_by.clone(),
        }),
        impersonated_by: imp.as_ref().map(|i| i.impersonated_by.clone()),
        impersonated_at: imp.as_ref().map(|i| i.impersonated_at),
        impersonation_code: imp.as_ref().map(|i| i.code.clone()),
        impersonator_team_id: imp.and_then(|i| i.impersonator_team_id),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&config.jwt_secret),
    )
    .map_err(AppError::internal)?;
    Ok((token, exp))
}

/// Verifies an access token: HS256 only, our key, issuer, audience and type, typed claims,
/// no key-locating headers, and `exp` against the injected clock (with the configured leeway).
pub fn verify_access(config: &Config, now: DateTime<Utc>, token: &str) -> AppResult<AccessClaims> {
    let bad = || AppError::Unauthenticated("invalid or expired token");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
    // `exp` is required and typed by `AccessClaims`; it is compared below with the app's
    // clock rather than the library's, so expiry is testable without sleeping.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<AccessClaims>(
        token,
        &DecodingKey::from_secret(&config.jwt_secret),
        &validation,
    )
    .map_err(|_| bad())?;
    if data.header.kid.is_some() || data.header.jku.is_some() || data.header.jwk.is_some() {
        return Err(bad());
    }
    let claims = data.claims;
    let pre_2fa_ok = claims.typ == PRE_TWO_FACTOR_TOKEN_TYPE
        && !claims.is_two_factor_authenticated
        && claims.impersonation_code.is_none();
    if claims.typ != ACCESS_TOKEN_TYPE && !pre_2fa_ok {
        return Err(bad());
    }
    let leeway = config.jwt_leeway_seconds as i64;
    if claims.exp + leeway <= now.timestamp() || claims.iat - leeway > now.timestamp() {
        return Err(bad());
    }
    Ok(claims)
}

/// A new opaque refresh token (256 random bits) and the hash that is stored.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&token);
    (token, hash)
}

pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A 24-character impersonation code from the OS-seeded CSPRNG.
pub fn new_impersonation_code() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::with_defaults("sqlite::memory:")
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn grant(two_factor_enabled: bool, authenticated: bool) -> AccessGrant<'static> {
        AccessGrant {
            user_id: "u1",
            team_id: Some("t1"),
            two_factor_enabled,
            two_factor_authenticated: authenticated,
            impersonation: None,
        }
    }

    fn issue(g: AccessGrant<'_>) -> (String, DateTime<Utc>) {
        issue_access(&config(), now(), chrono::Duration::minutes(15), g).unwrap()
    }

    #[test]
    fn an_access_token_verifies_with_its_claims() {
        let (token, exp) = issue(grant(false, false));
        assert_eq!(exp, now() + chrono::Duration::minutes(15));
        let c = verify_access(&config(), now(), &token).unwrap();
        assert_eq!((c.sub.as_str(), c.team_id.as_deref()), ("u1", Some("t1")));
        assert_eq!(c.typ, ACCESS_TOKEN_TYPE);
        assert!(c.impersonation().unwrap().is_none());
    }

    #[test]
    fn a_user_with_two_factor_on_gets_a_pre_two_factor_token_until_it_is_passed() {
        let (token, _) = issue(grant(true, false));
        let c = verify_access(&config(), now(), &token).unwrap();
        assert!(c.is_pre_two_factor());
        let (token, _) = issue(grant(true, true));
        assert!(
            !verify_access(&config(), now(), &token)
                .unwrap()
                .is_pre_two_factor()
        );
    }

    #[test]
    fn impersonation_claims_go_together_and_never_wait_for_two_factor() {
        let mut g = grant(true, false);
        g.impersonation = Some(ImpersonationClaims {
            impersonated_by: "admin".into(),
            impersonated_at: now().timestamp(),
            code: "c".repeat(24),
            impersonator_team_id: Some("t0".into()),
        });
        assert!(!g.waits_for_two_factor());
        let (token, _) = issue(g);
        let c = verify_access(&config(), now(), &token).unwrap();
        let imp = c.impersonation().unwrap().unwrap();
        assert_eq!(imp.impersonated_by, "admin");
        assert_eq!(c.act.unwrap().sub, "admin");
    }

    #[test]
    fn expiry_is_checked_against_the_given_clock_with_the_leeway() {
        let (token, exp) = issue(grant(false, false));
        let leeway = chrono::Duration::seconds(config().jwt_leeway_seconds as i64);
        assert!(
            verify_access(
                &config(),
                exp + leeway - chrono::Duration::seconds(1),
                &token
            )
            .is_ok()
        );
        let late = verify_access(&config(), exp + leeway, &token).unwrap_err();
        assert_eq!(late.code(), "UNAUTHENTICATED");
    }

    #[test]
    fn another_key_or_audience_is_refused() {
        let (token, _) = issue(grant(false, false));
        let mut other = config();
        other.jwt_secret = b"another-secret-that-is-long-enough-for-hs256".to_vec();
        assert!(verify_access(&other, now(), &token).is_err());
        let mut other = config();
        other.audience = "someone-else".into();
        assert!(verify_access(&other, now(), &token).is_err());
    }

    #[test]
    fn refresh_tokens_are_stored_only_as_hashes_and_codes_are_24_characters() {
        let (token, hash) = new_refresh_token();
        assert_eq!(hash, hash_refresh_token(&token));
        assert_ne!(hash, token);
        assert_ne!(new_refresh_token().0, token);
        let code = new_impersonation_code();
        assert_eq!(code.len(), 24);
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
