//! The impersonation policy: the one place that decides whether an admin may impersonate a
//! user. One pure function, `check`, over the facts it needs (`Impersonator::of`/`caller` and
//! `Target::of` read them from stored users), used by `impersonate`, by `impersonationCheck`
//! in the Teams List, by `requestSupportAccess`, and again on every request made with an
//! impersonation token.

use super::{AuthContext, Role};
use crate::entities::impersonation::Mode;
use crate::entities::user;

/// Why impersonation is refused (the enum lives beside `AppError`, which carries it).
pub use crate::error::ImpersonationDenial;

/// What the policy needs to know about the admin. `is_impersonating` is whether the request
/// is already made with an impersonation token.
#[derive(Debug, Clone, Copy)]
pub struct Impersonator<'a> {
    pub id: &'a str,
    pub role: Role,
    pub two_factor_enabled: bool,
    pub is_impersonating: bool,
}

/// What the policy needs to know about the target.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub id: &'a str,
    pub role: Role,
    pub impersonation_allowed: bool,
    /// Every session needs the target's approval (an approved grant).
    pub requires_approval: bool,
    /// A sensitive account: a session that can change it needs a second admin's review.
    pub review_required: bool,
}

/// What the admin asks for: a mode, or none (the default), and the approved, unexpired grant
/// of the target that covers this admin, if there is one (`services::support_access`).
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub mode: Option<Mode>,
    pub default_mode: Mode,
    /// The mode the covering grant allows.
    pub grant: Option<Mode>,
    /// The mode of this admin's approved, unused review for the target, if there is one
    /// (`services::review`); a running session's own review, on the per-request re-check.
    pub review: Option<Mode>,
    /// Read-only sessions need a review too (`IMPERSONATION_REVIEW_READ_ONLY`).
    pub review_read_only: bool,
}

impl Ask {
    /// A session in `mode` (or the default), under no grant and no review, where only
    /// read-write sessions need a review.
    pub fn mode(mode: Option<Mode>, default_mode: Mode) -> Ask {
        Ask {
            mode,
            default_mode,
            grant: None,
            review: None,
            review_read_only: false,
        }
    }
}

/// Whether impersonation is switched on for everyone (the kill switch, kept in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillSwitch {
    pub enabled: bool,
}

/// Decides whether `who` may impersonate `target` now, as asked, and in which mode the session
/// runs. Being an admin at all is checked by the guards (FORBIDDEN), not here; this answers
/// the contract's denial reasons. A grant, when one covers the admin, bounds the mode: without
/// a mode asked, a READ_ONLY grant gives a READ_ONLY session; READ_WRITE asked under it is
/// APPROVAL_REQUIRED. In an account marked for review, a session in a mode that needs one
/// (READ_WRITE; READ_ONLY too with `review_read_only`) needs the admin's approved review in
/// that mode, else REVIEW_REQUIRED: the customer's consent is checked first, and applies as
/// well, not instead. Without a mode asked, a review gives its own.
pub fn check(
    switch: KillSwitch,
    who: Impersonator<'_>,
    target: Target<'_>,
    ask: Ask,
) -> Result<Mode, ImpersonationDenial> {
    use ImpersonationDenial::*;
    if who.is_impersonating {
        return Err(AlreadyImpersonating);
    }
    if !switch.enabled {
        return Err(ImpersonationDisabled);
    }
    if !who.two_factor_enabled {
        return Err(TwoFactorDisabled);
    }
    if who.id == target.id {
        return Err(SelfTarget);
    }
    if target.role == Role::SuperAdmin {
        return Err(TargetIsSuperAdmin);
    }
    if target.role == Role::Admin && who.role != Role::SuperAdmin {
        return Err(TargetIsAdmin);
    }
    if !target.impersonation_allowed {
        return Err(NotAllowedByUser);
    }
    let asked = ask.mode.or(ask.review);
    let mode = match (ask.grant, asked) {
        (None, _) if target.requires_approval => Err(ApprovalRequired),
        (None, mode) => Ok(mode.unwrap_or(ask.default_mode)),
        (Some(Mode::ReadOnly), Some(Mode::ReadWrite)) => Err(ApprovalRequired),
        (Some(Mode::ReadOnly), _) => Ok(Mode::ReadOnly),
        (Some(Mode::ReadWrite), mode) => Ok(mode.unwrap_or(ask.default_mode)),
    }?;
    if needs_review(target, mode, ask.review_read_only) && ask.review != Some(mode) {
        return Err(ReviewRequired);
    }
    Ok(mode)
}

/// Whether a session in `mode` into `target` needs a second admin's review: in an account
/// marked for review, READ_WRITE always, READ_ONLY with `review_read_only`.
pub fn needs_review(target: Target<'_>, mode: Mode, review_read_only: bool) -> bool {
    target.review_required && (mode == Mode::ReadWrite || review_read_only)
}

/// Whether a second admin's decision (a review, an unmarking) counts against one insider:
/// the decider is not the requester, held the rights before it was asked (`rights_since`:
/// when their role was last set, else when their account was made), and their role was not
/// last set by the requester (who could otherwise promote an account of their own to approve
/// their own request).
pub fn decider_counts(
    decider_id: &str,
    rights_since: chrono::DateTime<chrono::Utc>,
    role_set_by: Option<&str>,
    asked_at: chrono::DateTime<chrono::Utc>,
    requester_id: &str,
) -> bool {
    decider_id != requester_id && rights_since < asked_at && role_set_by != Some(requester_id)
}

impl<'a> Impersonator<'a> {
    /// A stored user as the would-be impersonator.
    pub fn of(user: &'a user::Model, is_impersonating: bool) -> Self {
        Impersonator {
            id: &user.id,
            role: user.role,
            two_factor_enabled: user.two_factor_on(),
            is_impersonating,
        }
    }

    /// The person really behind a request (the impersonator, while impersonating).
    pub fn caller(ctx: &'a AuthContext) -> Self {
        Self::of(ctx.true_user(), ctx.is_impersonating())
    }
}

impl<'a> Target<'a> {
    /// A stored user as the target.
    pub fn of(user: &'a user::Model) -> Self {
        Target {
            id: &user.id,
            role: user.role,
            impersonation_allowed: user.impersonation_allowed,
            requires_approval: user.impersonation_requires_approval,
            review_required: user.impersonation_review_required,
        }
    }

    /// The target as if neither their approval nor a review were needed: for asking for them
    /// (`requestSupportAccess`, `requestImpersonationReview`) and for who may review.
    pub fn but_for_approval_and_review(self) -> Self {
        Target {
            requires_approval: false,
            review_required: false,
            ..self
        }
    }
}

#[cfg(test)]
mod decider_tests {
    use super::decider_counts;
    use chrono::{Duration, Utc};

    #[test]
    fn the_requester_never_decides_their_own_ask() {
        let asked = Utc::now();
        assert!(!decider_counts(
            "req",
            asked - Duration::days(30),
            None,
            asked,
            "req"
        ));
    }

    #[test]
    fn a_decider_who_held_the_rights_before_the_ask_counts() {
        let asked = Utc::now();
        let long_ago = asked - Duration::days(30);
        assert!(decider_counts("bob", long_ago, None, asked, "req"));
        assert!(decider_counts("bob", long_ago, Some("other"), asked, "req"));
    }

    #[test]
    fn a_decider_promoted_after_the_ask_does_not_count() {
        let asked = Utc::now();
        let later = asked + Duration::seconds(1);
        assert!(!decider_counts("bob", later, Some("other"), asked, "req"));
        assert!(!decider_counts("bob", asked, Some("other"), asked, "req"));
    }

    #[test]
    fn a_decider_whose_role_the_requester_set_never_counts() {
        let asked = Utc::now();
        let long_ago = asked - Duration::days(365);
        assert!(!decider_counts("bob", long_ago, Some("req"), asked, "req"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ImpersonationDenial::*;

    const ON: KillSwitch = KillSwitch { enabled: true };
    const RW: Mode = Mode::ReadWrite;
    const RO: Mode = Mode::ReadOnly;

    /// No mode asked, READ_WRITE by default, no grant.
    fn plain() -> Ask {
        Ask::mode(None, RW)
    }

    fn check(
        switch: KillSwitch,
        who: Impersonator<'_>,
        target: Target<'_>,
    ) -> Result<(), ImpersonationDenial> {
        super::check(switch, who, target, plain()).map(|_| ())
    }

    fn approving() -> Target<'static> {
        Target {
            requires_approval: true,
            ..customer()
        }
    }

    fn under(grant: Option<Mode>, mode: Option<Mode>) -> Ask {
        Ask {
            grant,
            ..Ask::mode(mode, RW)
        }
    }

    fn admin() -> Impersonator<'static> {
        Impersonator {
            id: "admin",
            role: Role::Admin,
            two_factor_enabled: true,
            is_impersonating: false,
        }
    }

    fn customer() -> Target<'static> {
        Target {
            id: "customer",
            role: Role::User,
            impersonation_allowed: true,
            requires_approval: false,
            review_required: false,
        }
    }

    fn sensitive() -> Target<'static> {
        Target {
            review_required: true,
            ..customer()
        }
    }

    fn reviewed(review: Option<Mode>, mode: Option<Mode>, read_only_too: bool) -> Ask {
        Ask {
            review,
            review_read_only: read_only_too,
            ..Ask::mode(mode, RW)
        }
    }

    #[test]
    fn a_read_write_session_into_a_marked_account_needs_a_review_in_that_mode() {
        let t = sensitive();
        let denied = super::check(ON, admin(), t, reviewed(None, None, false));
        assert_eq!(denied, Err(ReviewRequired));
        let denied = super::check(ON, admin(), t, reviewed(Some(RO), Some(RW), false));
        assert_eq!(denied, Err(ReviewRequired));
        assert_eq!(
            super::check(ON, admin(), t, reviewed(Some(RW), None, false)),
            Ok(RW)
        );
    }

    #[test]
    fn read_only_sessions_need_a_review_only_when_configured() {
        let t = sensitive();
        assert_eq!(
            super::check(ON, admin(), t, reviewed(None, Some(RO), false)),
            Ok(RO)
        );
        let denied = super::check(ON, admin(), t, reviewed(None, Some(RO), true));
        assert_eq!(denied, Err(ReviewRequired));
        assert_eq!(
            super::check(ON, admin(), t, reviewed(Some(RO), None, true)),
            Ok(RO)
        );
    }

    #[test]
    fn a_review_does_not_replace_the_customers_approval_nor_the_reverse() {
        let both = Target {
            requires_approval: true,
            ..sensitive()
        };
        // The review alone: approval is still required.
        let denied = super::check(ON, admin(), both, reviewed(Some(RW), Some(RW), false));
        assert_eq!(denied, Err(ApprovalRequired));
        // The grant alone: the review is still required.
        let grant_only = Ask {
            grant: Some(RW),
            ..reviewed(None, Some(RW), false)
        };
        assert_eq!(
            super::check(ON, admin(), both, grant_only),
            Err(ReviewRequired)
        );
        let with_both = Ask {
            grant: Some(RW),
            ..reviewed(Some(RW), Some(RW), false)
        };
        assert_eq!(super::check(ON, admin(), both, with_both), Ok(RW));
    }

    #[test]
    fn a_review_does_not_lift_any_other_rule() {
        let t = Target {
            impersonation_allowed: false,
            ..sensitive()
        };
        let denied = super::check(ON, admin(), t, reviewed(Some(RW), None, false));
        assert_eq!(denied, Err(NotAllowedByUser));
        let off = KillSwitch { enabled: false };
        let denied = super::check(off, admin(), sensitive(), reviewed(Some(RW), None, false));
        assert_eq!(denied, Err(ImpersonationDisabled));
    }

    #[test]
    fn admin_with_2fa_may_impersonate_a_consenting_user() {
        assert_eq!(check(ON, admin(), customer()), Ok(()));
    }

    #[test]
    fn own_two_factor_off_is_denied() {
        let who = Impersonator {
            two_factor_enabled: false,
            ..admin()
        };
        assert_eq!(check(ON, who, customer()), Err(TwoFactorDisabled));
    }

    #[test]
    fn self_is_denied() {
        let target = Target {
            id: "admin",
            role: Role::Admin,
            ..customer()
        };
        let who = Impersonator {
            role: Role::SuperAdmin,
            ..admin()
        };
        assert_eq!(check(ON, who, target), Err(SelfTarget));
    }

    #[test]
    fn super_admin_target_is_denied_even_for_super_admins() {
        let target = Target {
            role: Role::SuperAdmin,
            ..customer()
        };
        assert_eq!(check(ON, admin(), target), Err(TargetIsSuperAdmin));
        let who = Impersonator {
            role: Role::SuperAdmin,
            ..admin()
        };
        assert_eq!(check(ON, who, target), Err(TargetIsSuperAdmin));
    }

    #[test]
    fn admin_target_needs_a_super_admin() {
        let target = Target {
            role: Role::Admin,
            ..customer()
        };
        assert_eq!(check(ON, admin(), target), Err(TargetIsAdmin));
        let who = Impersonator {
            role: Role::SuperAdmin,
            ..admin()
        };
        assert_eq!(check(ON, who, target), Ok(()));
    }

    #[test]
    fn already_impersonating_is_denied() {
        let who = Impersonator {
            is_impersonating: true,
            ..admin()
        };
        assert_eq!(check(ON, who, customer()), Err(AlreadyImpersonating));
    }

    #[test]
    fn target_who_switched_impersonation_off_is_denied() {
        let target = Target {
            impersonation_allowed: false,
            ..customer()
        };
        assert_eq!(check(ON, admin(), target), Err(NotAllowedByUser));
    }

    #[test]
    fn nobody_impersonates_while_the_switch_is_off() {
        let off = KillSwitch { enabled: false };
        assert_eq!(check(off, admin(), customer()), Err(ImpersonationDisabled));
        let who = Impersonator {
            role: Role::SuperAdmin,
            ..admin()
        };
        assert_eq!(check(off, who, customer()), Err(ImpersonationDisabled));
    }

    #[test]
    fn already_impersonating_is_told_before_the_switch() {
        let who = Impersonator {
            is_impersonating: true,
            ..admin()
        };
        let off = KillSwitch { enabled: false };
        assert_eq!(check(off, who, customer()), Err(AlreadyImpersonating));
    }

    #[test]
    fn the_session_runs_in_the_mode_asked_or_the_default() {
        let ask = |mode, default_mode| Ask::mode(mode, default_mode);
        assert_eq!(super::check(ON, admin(), customer(), ask(None, RW)), Ok(RW));
        assert_eq!(super::check(ON, admin(), customer(), ask(None, RO)), Ok(RO));
        assert_eq!(
            super::check(ON, admin(), customer(), ask(Some(RO), RW)),
            Ok(RO)
        );
        assert_eq!(
            super::check(ON, admin(), customer(), ask(Some(RW), RO)),
            Ok(RW)
        );
    }

    #[test]
    fn a_target_who_requires_approval_needs_a_grant() {
        let denied = super::check(ON, admin(), approving(), under(None, None));
        assert_eq!(denied, Err(ApprovalRequired));
        let denied = super::check(ON, admin(), approving(), under(None, Some(RO)));
        assert_eq!(denied, Err(ApprovalRequired));
    }

    #[test]
    fn approval_binds_super_admins_too() {
        let who = Impersonator {
            role: Role::SuperAdmin,
            ..admin()
        };
        let denied = super::check(ON, who, approving(), under(None, None));
        assert_eq!(denied, Err(ApprovalRequired));
    }

    #[test]
    fn a_read_write_grant_allows_either_mode() {
        let t = approving();
        assert_eq!(super::check(ON, admin(), t, under(Some(RW), None)), Ok(RW));
        assert_eq!(
            super::check(ON, admin(), t, under(Some(RW), Some(RO))),
            Ok(RO)
        );
        assert_eq!(
            super::check(ON, admin(), t, under(Some(RW), Some(RW))),
            Ok(RW)
        );
    }

    #[test]
    fn a_read_only_grant_starts_read_only_and_refuses_read_write() {
        let t = approving();
        assert_eq!(super::check(ON, admin(), t, under(Some(RO), None)), Ok(RO));
        assert_eq!(
            super::check(ON, admin(), t, under(Some(RO), Some(RO))),
            Ok(RO)
        );
        let denied = super::check(ON, admin(), t, under(Some(RO), Some(RW)));
        assert_eq!(denied, Err(ApprovalRequired));
    }

    #[test]
    fn a_grant_bounds_the_mode_even_without_approval_required() {
        let t = customer();
        assert_eq!(super::check(ON, admin(), t, under(Some(RO), None)), Ok(RO));
        let denied = super::check(ON, admin(), t, under(Some(RO), Some(RW)));
        assert_eq!(denied, Err(ApprovalRequired));
    }

    #[test]
    fn consent_off_is_told_before_approval() {
        let t = Target {
            impersonation_allowed: false,
            ..approving()
        };
        assert_eq!(check(ON, admin(), t), Err(NotAllowedByUser));
    }

    #[test]
    fn a_grant_does_not_lift_any_other_rule() {
        let target = Target {
            role: Role::Admin,
            ..approving()
        };
        let denied = super::check(ON, admin(), target, under(Some(RW), None));
        assert_eq!(denied, Err(TargetIsAdmin));
        let off = KillSwitch { enabled: false };
        let denied = super::check(off, admin(), approving(), under(Some(RW), None));
        assert_eq!(denied, Err(ImpersonationDisabled));
    }
}
