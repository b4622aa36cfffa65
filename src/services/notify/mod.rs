//! Telling people: notices to a user about their account (`notices`), the durable e-mail
//! outbox that sends them (`outbox`), and what a live subscriber receives of an event
//! (`live`).
pub mod live;
pub mod notices;
pub mod outbox;
