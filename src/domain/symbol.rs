//! Ticker symbols.

use std::fmt;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

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

/// The pattern of one symbol, as [`Symbol::parse`] checks it.
const SYMBOL_PATTERN: &str = r"[A-Za-z0-9.\-_/:^=@+]{1,32}";

/// The OpenAPI schema of one symbol as text: every parameter that takes a symbol refers to
/// this one schema, so the rule is written once.
pub struct SymbolText;

/// The OpenAPI schema of a comma-separated list of symbols (`AAPL,MSFT`).
pub struct SymbolListText;

fn text_schema(pattern: String, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .examples([example])
        .into()
}

impl PartialSchema for SymbolText {
    fn schema() -> RefOr<Schema> {
        text_schema(format!("^{SYMBOL_PATTERN}$"), "AAPL")
    }
}

impl ToSchema for SymbolText {}

impl PartialSchema for SymbolListText {
    fn schema() -> RefOr<Schema> {
        text_schema(
            format!("^{SYMBOL_PATTERN}(,{SYMBOL_PATTERN})*$"),
            "AAPL,MSFT",
        )
    }
}

impl ToSchema for SymbolListText {}

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
