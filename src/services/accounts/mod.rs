//! Accounts: who a user is and how they prove it.
//!
//! - `signup`: new accounts (`register`, and `create-user` for operators).
//! - `sign_in`: signing in (`login`), the tokens a client holds, refresh-token rotation and
//!   logout.
//! - `bearer`: the bearer token of an operation becoming its `AuthContext` (the gate calls it
//!   for every operation).
//! - `two_factor`: enrolment, the second sign-in step, the one TOTP check.
//! - `passkeys`: WebAuthn passkeys: registration, the list, removal, the one check of an
//!   assertion (sign-in's second step and step-up).
//! - `factors`: a change of what signs a person in, told to them, to super admins (for
//!   staff) and to the SIEM.
//! - `step_up`: the fresh proof `IMPERSONATION_STEP_UP` asks of an admin, per operation.
//! - `throttle`: rate limiting of credential guesses, shared by every server.
//! - `profile`: the Profile Settings page, passwords, roles.
//! - `users`: looking a user up, changing one row.
pub mod bearer;
pub mod factors;
pub mod passkeys;
pub mod profile;
pub mod sign_in;
pub mod signup;
pub mod step_up;
pub mod throttle;
pub mod two_factor;
pub mod users;
