//! A bound on how deeply a document nests, checked on its text before any parser sees it.
//!
//! async-graphql's parser (pest) recurses once per level of `[`, `{` and `(`: a 4 KB document
//! of list literals nested 2,000 deep overflows a worker's stack and aborts the whole process,
//! before any limit, authentication or body check could refuse it. This scan is iterative and
//! costs one pass over the bytes: it skips strings, block strings and comments, and refuses
//! - argument and default values (lists and input objects inside `( … )`) nested deeper than
//!   `MAX_VALUE_NESTING`, and
//! - any nesting (selection sets included) deeper than `MAX_NESTING`, far above what the depth
//!   limit lets run (the standard introspection query nests 15 levels),
//!
//! so that whatever reaches the parser recurses a bounded number of times.

/// How deeply list and object values may nest inside arguments and variable defaults.
pub const MAX_VALUE_NESTING: usize = 32;
/// How deeply brackets of any kind may nest in a document.
pub const MAX_NESTING: usize = 128;

/// Why a document was refused, in words for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep(pub String);

/// Checks the bounds above on a document's text.
pub fn check(query: &str) -> Result<(), TooDeep> {
    let bytes = query.as_bytes();
    // For each open bracket: how deeply values nest at it (0 for `(` and selection sets).
    let mut open: Vec<(u8, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped triple quote inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            c @ (b'(' | b'[' | b'{') => {
                let in_args = open.iter().any(|(b, _)| *b == b'(');
                let value_depth = match (c, open.last()) {
                    (b'(', _) => 0,
                    (_, Some((_, d))) if in_args => d + 1,
                    _ => 0,
                };
                if value_depth > MAX_VALUE_NESTING {
                    return Err(TooDeep(format!(
                        "values nest deeper than {MAX_VALUE_NESTING} levels"
                    )));
                }
                open.push((c, value_depth));
                if open.len() > MAX_NESTING {
                    return Err(TooDeep(format!(
                        "the document nests deeper than {MAX_NESTING} levels"
                    )));
                }
            }
            b')' | b']' | b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, n: usize) -> String {
        format!("{}1{}", open.repeat(n), close.repeat(n))
    }

    #[test]
    fn deep_list_and_object_values_are_refused() {
        let list = format!("{{ __typename(x: {}) }}", nested("[", "]", 2000));
        assert!(check(&list).is_err());
        let object = format!("{{ __typename(x: {}) }}", nested("{a: ", "}", 2000));
        assert!(check(&object).is_err());
        let default = format!(
            "query($v: [Int] = {}) {{ me {{ id }} }}",
            nested("[", "]", 40)
        );
        assert!(check(&default).is_err());
        let selections = format!("{}{}", "{ a ".repeat(200), "}".repeat(200));
        assert!(check(&selections).is_err());
    }

    #[test]
    fn ordinary_documents_pass() {
        assert!(check("{ me { id teams { id name } } }").is_ok());
        let values = format!("{{ x(a: {}) }}", nested("[", "]", MAX_VALUE_NESTING));
        assert!(check(&values).is_ok());
        // Brackets inside strings, block strings and comments do not count.
        let quoted = format!(
            "{{ a(s: \"{}\\\"\", b: \"\"\"{}\\\"\"\"\"\"\") # {}\n}}",
            "[".repeat(5000),
            "{".repeat(5000),
            "(".repeat(5000)
        );
        assert_eq!(check(&quoted), Ok(()));
    }
}
