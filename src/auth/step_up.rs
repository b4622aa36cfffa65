//! The step-up rule, in one pure function: which fresh proofs an operation accepts under
//! `IMPERSONATION_STEP_UP`. The service that checks a proof is `services::accounts::step_up`.
use crate::config::StepUp;

/// A kind of fresh proof (beside `AppError`, whose STEP_UP_REQUIRED names them).
pub use crate::error::Method;

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

/// `accepted`, as STEP_UP_REQUIRED's `methods` names them (what a client offers).
pub fn names(rule: StepUp, always: bool) -> Vec<String> {
    accepted(rule, always)
        .iter()
        .map(|m| m.as_str().to_string())
        .collect()
}

/// What a person adds as a second factor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NewFactor {
    Passkey,
    Totp,
}

/// The fresh proof adding a second factor needs, by a factor the account already has: a
/// passkey assertion when it has a passkey, else a TOTP code (a new time step: the code that
/// signed this session in does not count). An account with no factor needs none, except a
/// staff account under `IMPERSONATION_STEP_UP=passkey`, whose first passkey is what opens
/// customers' accounts: it needs a fresh TOTP code (and the other super admins are told).
pub fn to_add_factor(
    adding: NewFactor,
    has_passkey: bool,
    totp_on: bool,
    staff: bool,
    rule: StepUp,
) -> &'static [Method] {
    if has_passkey {
        &[Method::Passkey]
    } else if totp_on || (adding == NewFactor::Passkey && staff && rule == StepUp::Passkey) {
        &[Method::Totp]
    } else {
        &[]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: [StepUp; 3] = [StepUp::None, StepUp::Any, StepUp::Passkey];
    const BOTH: [NewFactor; 2] = [NewFactor::Passkey, NewFactor::Totp];

    #[test]
    fn a_passkey_holder_adds_a_factor_with_a_passkey() {
        for (rule, adding) in RULES.iter().flat_map(|r| BOTH.map(|a| (*r, a))) {
            assert_eq!(
                to_add_factor(adding, true, true, true, rule),
                [Method::Passkey]
            );
            assert_eq!(
                to_add_factor(adding, true, false, false, rule),
                [Method::Passkey]
            );
        }
    }

    #[test]
    fn a_totp_holder_adds_a_passkey_with_a_fresh_code() {
        for rule in RULES {
            assert_eq!(
                to_add_factor(NewFactor::Passkey, false, true, false, rule),
                [Method::Totp]
            );
            assert_eq!(
                to_add_factor(NewFactor::Passkey, false, true, true, rule),
                [Method::Totp]
            );
        }
    }

    #[test]
    fn a_first_factor_needs_no_proof() {
        for (rule, adding) in RULES.iter().flat_map(|r| BOTH.map(|a| (*r, a))) {
            assert!(to_add_factor(adding, false, false, false, rule).is_empty());
        }
        for rule in [StepUp::None, StepUp::Any] {
            assert!(to_add_factor(NewFactor::Passkey, false, false, true, rule).is_empty());
        }
        assert!(to_add_factor(NewFactor::Totp, false, false, true, StepUp::Passkey).is_empty());
    }

    #[test]
    fn staff_under_the_passkey_rule_enrol_a_first_passkey_with_a_code() {
        assert_eq!(
            to_add_factor(NewFactor::Passkey, false, false, true, StepUp::Passkey),
            [Method::Totp]
        );
    }

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
