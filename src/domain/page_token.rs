//! Opaque, tamper-evident page tokens for keyset pagination.
//!
//! A token says where the next page starts: a symbol and a time bound within it. It is
//! signed with HMAC-SHA256 over the token and a fingerprint of the query it came from, so a
//! forged or altered token, or one reused with other parameters, is refused.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Symbol;

type HmacSha256 = Hmac<Sha256>;

/// Bumped when the token layout changes, so old tokens are refused cleanly.
const VERSION: u8 = 1;
/// Bytes of the MAC kept in the token: 128 bits are plenty against forgery.
const MAC_LEN: usize = 16;

/// The secret that signs page tokens. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct PageTokenKey([u8; 32]);

impl PageTokenKey {
    /// Shortest accepted configured secret.
    pub const MIN_SECRET_LEN: usize = 16;

    /// A fresh key from the operating system's random source: tokens then work only with
    /// the process that issued them.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source");
        Self(key)
    }

    /// A key derived from a configured secret, shared by every instance that has it.
    pub fn from_secret(secret: &str) -> Result<Self, String> {
        if secret.len() < Self::MIN_SECRET_LEN {
            return Err(format!(
                "the page token key must be at least {} characters",
                Self::MIN_SECRET_LEN
            ));
        }
        Ok(Self(Sha256::digest(secret.as_bytes()).into()))
    }

    /// A separate key for another purpose (signed links), so one secret configures both
    /// and neither signature can stand in for the other.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"tsapi derived key: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, fingerprint: &[u8], body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(fingerprint);
        mac.update(body);
        mac
    }

    /// The token that resumes `query` at `cursor`.
    pub fn seal(&self, query: &QueryFingerprint, cursor: &Cursor) -> String {
        let mut body = vec![VERSION];
        body.extend_from_slice(&cursor.resume.timestamp_micros().to_be_bytes());
        body.extend_from_slice(cursor.symbol.as_str().as_bytes());
        let tag = self.mac(&query.0, &body).finalize().into_bytes();
        body.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(body)
    }

    /// Reads a token issued by [`PageTokenKey::seal`] for the same query.
    pub fn open(&self, query: &QueryFingerprint, token: &str) -> Result<Cursor, String> {
        let invalid = || {
            "is not a token this server issued for these parameters; \
             pass it back unchanged, with the same query parameters"
                .to_owned()
        };
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if raw.len() < 1 + 8 + 1 + MAC_LEN {
            return Err(invalid());
        }
        let (body, tag) = raw.split_at(raw.len() - MAC_LEN);
        self.mac(&query.0, body)
            .verify_truncated_left(tag)
            .map_err(|_| invalid())?;
        // Signed by us, so the layout is ours; still parse without panicking.
        if body[0] != VERSION {
            return Err(invalid());
        }
        let micros = i64::from_be_bytes(body[1..9].try_into().map_err(|_| invalid())?);
        let resume = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        let symbol = std::str::from_utf8(&body[9..]).map_err(|_| invalid())?;
        Ok(Cursor {
            symbol: Symbol::from_stored(symbol.to_owned()),
            resume,
        })
    }
}

impl fmt::Debug for PageTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageTokenKey(<hidden>)")
    }
}

impl FromStr for PageTokenKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::from_secret(s)
    }
}

/// Where the next page starts: within `symbol`, rows at or after `resume` (ascending
/// order) or before it (descending); every later symbol from its beginning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub symbol: Symbol,
    pub resume: DateTime<Utc>,
}

/// A digest of the parameters that decide which rows a query returns, in a fixed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryFingerprint([u8; 32]);

impl QueryFingerprint {
    /// Also bound to an adjustment and a names' date; raw literal reads keep the
    /// fingerprint they had before adjustments existed, so their tokens stay valid.
    pub fn with_adjustment(
        self,
        adjustment: super::actions::Adjustment,
        asof: Option<chrono::NaiveDate>,
    ) -> Self {
        if adjustment == super::actions::Adjustment::Raw && asof.is_none() {
            return self;
        }
        let asof = asof.map(|d| d.to_string()).unwrap_or_default();
        let digest = URL_SAFE_NO_PAD.encode(self.0);
        Self::of(&[&digest, adjustment.as_str(), &asof])
    }

    pub fn of(parts: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for part in parts {
            // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        Self(hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            symbol: Symbol::parse("BRK.B").unwrap(),
            resume: "2021-11-12T15:00:00.000001Z".parse().unwrap(),
        }
    }

    #[test]
    fn round_trips() {
        let key = PageTokenKey::random();
        let query = QueryFingerprint::of(&["AAPL,MSFT", "asc"]);
        let token = key.seal(&query, &cursor());
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        );
        assert_eq!(key.open(&query, &token).unwrap(), cursor());
    }

    #[test]
    fn refuses_other_queries_other_keys_and_edits() {
        let key = PageTokenKey::from_secret("a secret of enough length").unwrap();
        let query = QueryFingerprint::of(&["AAPL", "asc"]);
        let token = key.seal(&query, &cursor());
        let other_query = QueryFingerprint::of(&["AAPL", "desc"]);
        assert!(key.open(&other_query, &token).is_err());
        let other_key = PageTokenKey::from_secret("another secret, also long").unwrap();
        assert!(other_key.open(&query, &token).is_err());
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[3] ^= 1;
        assert!(key.open(&query, &URL_SAFE_NO_PAD.encode(raw)).is_err());
        for junk in [
            "",
            "x",
            "!!!",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(key.open(&query, junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(
            QueryFingerprint::of(&["ab", "c"]),
            QueryFingerprint::of(&["a", "bc"])
        );
    }

    #[test]
    fn keys_are_hidden_and_secrets_must_be_long() {
        let key = PageTokenKey::from_secret("a secret of enough length").unwrap();
        assert!(!format!("{key:?}").contains("secret"));
        assert!(PageTokenKey::from_secret("short").is_err());
    }
}
