//! Ticker symbols.

use std::fmt;

/// A ticker such as `MSFT`, `BRK.B`, `BTC/USD` or `^GSPC`: 1 to 32 ASCII letters, digits
/// or `. - _ / : ^ = @ +`. The case is kept as given; symbols are compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(String);

impl Symbol {
    pub const MAX_LEN: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if let Some(bad) = raw.chars().find(|c| !Self::allowed(*c)) {
            return Err(format!(
                "contains {bad:?}; allowed are ASCII letters, digits and . - _ / : ^ = @ +"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    fn allowed(c: char) -> bool {
        c.is_ascii_alphanumeric() || ".-_/:^=@+".contains(c)
    }

    /// A symbol read back from the table. Rows written by other tools may not follow
    /// [`Symbol::parse`]'s rules; they are returned as stored.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Symbol;

    #[test]
    fn accepts_common_tickers() {
        for ok in [
            "MSFT", "BRK.B", "BTC/USD", "^GSPC", "EURUSD=X", "es-fut", "A",
        ] {
            assert_eq!(Symbol::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_empty_long_and_odd_characters() {
        assert!(Symbol::parse("").unwrap_err().contains("empty"));
        assert!(Symbol::parse(&"X".repeat(33)).unwrap_err().contains("32"));
        for bad in ["MS FT", "A,B", "A'B", "Ä", "A\u{0}", "a\"b"] {
            assert!(Symbol::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
