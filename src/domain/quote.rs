//! Quoting client input in messages: never more than a short prefix, so an error about a
//! huge value stays small and does not echo the value back.

/// Characters of input a message quotes at most.
pub const QUOTE_CHARS: usize = 80;

/// `raw` as a quoted string; past [`QUOTE_CHARS`] characters, its start, an ellipsis and
/// its length in bytes: `"AAAA…" (900 bytes)`.
pub fn quote(raw: &str) -> String {
    if raw.chars().nth(QUOTE_CHARS).is_none() {
        return format!("{raw:?}");
    }
    let cut = raw
        .char_indices()
        .nth(QUOTE_CHARS - 1)
        .map_or(raw.len(), |(i, _)| i);
    format!("{:?} ({} bytes)", format!("{}…", &raw[..cut]), raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_quoted_whole() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote(&"x".repeat(80)), format!("\"{}\"", "x".repeat(80)));
    }

    #[test]
    fn long_input_is_cut_and_its_length_given() {
        let q = quote(&"é".repeat(500));
        assert_eq!(q, format!("\"{}…\" (1000 bytes)", "é".repeat(79)));
    }
}
