//! The customers' work: teams and who belongs to them, and the businesses, leads and comments
//! of a team. Everything is scoped to the caller's current team.
pub mod businesses;
pub mod comments;
pub mod leads;
pub mod memberships;
pub mod teams;
