//! Relay-style keyset pagination over UUIDv7 ids (which sort by creation time).
use base64::Engine;

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The documented maximum page size of every connection.
pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, Clone)]
pub struct PageArgs {
    pub first: u64,
    /// The id after which the page starts.
    pub after: Option<String>,
}

/// The page size a request asks for, for the complexity count: `first` if given and in
/// range, else `default` (an out-of-range `first` is refused when the field runs).
pub fn requested_size(first: Option<i32>, default: u64) -> usize {
    match first {
        Some(n) if n >= 0 && (n as u64) <= MAX_PAGE_SIZE => n as usize,
        Some(_) => MAX_PAGE_SIZE as usize,
        None => default as usize,
    }
}

impl PageArgs {
    pub fn parse(first: Option<i32>, after: Option<String>) -> AppResult<Self> {
        Self::parse_or(first, after, DEFAULT_PAGE_SIZE)
    }

    /// Like `parse`, with another default page size.
    pub fn parse_or(first: Option<i32>, after: Option<String>, default: u64) -> AppResult<Self> {
        let first = match first {
            None => default,
            Some(n) if n >= 0 && (n as u64) <= MAX_PAGE_SIZE => n as u64,
            Some(_) => {
                return Err(AppError::bad_input(
                    "first",
                    format!("first must be between 0 and {MAX_PAGE_SIZE}"),
                ));
            }
        };
        let after = after.map(|c| decode_cursor(&c)).transpose()?;
        Ok(PageArgs { first, after })
    }
}

pub fn encode_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> AppResult<String> {
    let bad = || AppError::bad_input("after", "invalid cursor");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = s.strip_prefix("id:").ok_or_else(bad)?;
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(id.to_string())
}

/// The complexity of a list field: every row counts its children once (and at least one).
pub fn list_complexity(first: Option<i32>, default: u64, child_complexity: usize) -> usize {
    requested_size(first, default)
        .saturating_mul(child_complexity.max(1))
        .saturating_add(1)
}

/// One page: the rows, and whether more follow.
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<T>, args: &PageArgs) -> Self {
        let has_next_page = rows.len() as u64 > args.first;
        rows.truncate(args.first as usize);
        Page {
            items: rows,
            has_next_page,
            has_previous_page: args.after.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01a1feb8-7151-7059-a8ba-26c2068d7c64";

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(
            PageArgs::parse(None, None).unwrap().first,
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(PageArgs::parse_or(None, None, 100).unwrap().first, 100);
        assert_eq!(PageArgs::parse(Some(100), None).unwrap().first, 100);
        for bad in [-1, 101] {
            let e = PageArgs::parse(Some(bad), None).unwrap_err();
            assert_eq!(e.code(), "BAD_USER_INPUT", "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let after = PageArgs::parse(None, Some(encode_cursor(ID)))
            .unwrap()
            .after;
        assert_eq!(after.as_deref(), Some(ID));
        for bad in ["", "not base64!", &encode_cursor("not-a-uuid")] {
            assert!(
                PageArgs::parse(None, Some(bad.to_string())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_page_knows_whether_more_follow() {
        let args = PageArgs::parse(Some(2), None).unwrap();
        let page = Page::from_rows(vec![1, 2, 3], &args);
        assert_eq!(page.items, [1, 2]);
        assert!(page.has_next_page && !page.has_previous_page);
        let page = Page::from_rows(vec![1, 2], &args);
        assert!(!page.has_next_page);
    }

    #[test]
    fn a_list_costs_its_page_size_times_its_children() {
        assert_eq!(list_complexity(Some(10), 20, 3), 31);
        assert_eq!(list_complexity(None, 20, 3), 61);
        assert_eq!(
            list_complexity(Some(5000), 20, 1),
            101,
            "an out-of-range size costs the most"
        );
        assert_eq!(list_complexity(Some(0), 20, 3), 1);
    }
}
