//! The step-up rule, in one pure function: which fresh proofs an operation accepts under
//! `IMPERSONATION_STEP_UP`. The service that checks a proof is `services::accounts::step_up`.
use crate::config::StepUp;

/// A kind of fresh proof.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// A passkey assertion (phishing-resistant).
    Passkey,
    /// A TOTP code.
    Totp,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Passkey => "PASSKEY",
            Method::Totp => "TOTP",
        }
    }
}

/// The proofs an operation accepts. `always` marks an operation that needs a fresh proof
/// even without a step-up rule (`elevateImpersonation`, which always took a code). Empty:
/// none is needed.
pub fn accepted(rule: StepUp, always: bool) -> &'static [Method] {
    const EITHER: &[Method] = &[Method::Passkey, Method::Totp];
    match rule {
        StepUp::None if always => EITHER,
        StepUp::None => &[],
        StepUp::Any => EITHER,
        StepUp::Passkey => &[Method::Passkey],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_asks_nothing_of_starting_a_session() {
        assert!(accepted(StepUp::None, false).is_empty());
    }

    #[test]
    fn none_still_asks_a_fresh_proof_to_elevate() {
        assert_eq!(
            accepted(StepUp::None, true),
            [Method::Passkey, Method::Totp]
        );
    }

    #[test]
    fn any_accepts_a_passkey_or_a_code() {
        assert_eq!(
            accepted(StepUp::Any, false),
            [Method::Passkey, Method::Totp]
        );
        assert_eq!(accepted(StepUp::Any, true), [Method::Passkey, Method::Totp]);
    }

    #[test]
    fn passkey_accepts_only_a_passkey() {
        assert_eq!(accepted(StepUp::Passkey, false), [Method::Passkey]);
        assert_eq!(accepted(StepUp::Passkey, true), [Method::Passkey]);
    }
}
