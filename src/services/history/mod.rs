//! The customer's history in words, and the read side of the trail: what support did in an
//! account told as sentences for their reader (`story`: a session operation by operation;
//! `words`: each audit row), the records they name (`names`), and which audit rows a reader
//! may list (`log`). `audit/` keeps only the recorder, the ground the other services stand on;
//! nothing here writes.
pub mod log;
pub mod names;
pub mod story;
pub mod words;
