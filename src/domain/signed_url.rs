//! Signed URLs: a link that carries its own permission, for what cannot send a header.
//!
//! An `<img src>` embed of a chart cannot send an API key, so a holder of a read key may
//! ask for a link instead: the URL's path and query, then `expires=UNIX` and
//! `sig=HMAC-SHA256(path ? query & expires)`. The signature covers the exact bytes of the
//! path and query, so the link opens that one chart until it expires, and nothing else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a link: 128 bits are plenty against forgery.
const MAC_LEN: usize = 16;

/// The secret that signs links. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct UrlSigner([u8; 32]);

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(<hidden>)")
    }
}

/// Why a signed link is refused; the text is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not one the server signed, or it was altered; ask for a new one")]
    Invalid,
    #[error("this link expired; ask for a new one")]
    Expired,
}

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self, path: &str, signed_query: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"?");
        mac.update(signed_query.as_bytes());
        mac
    }

    /// `query` (without a leading `?`) with `&expires=..&sig=..` appended: the query of a
    /// link to `path` that works until `expires` (Unix seconds).
    pub fn sign(&self, path: &str, query: &str, expires: i64) -> String {
        let signed = if query.is_empty() {
            format!("expires={expires}")
        } else {
            format!("{query}&expires={expires}")
        };
        let tag = self.mac(path, &signed).finalize().into_bytes();
        format!("{signed}&sig={}", URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN]))
    }

    /// Checks a link's query for `path` at `now` (Unix seconds); returns the query as it
    /// was before signing.
    pub fn verify<'q>(&self, path: &str, query: &'q str, now: i64) -> Result<&'q str, LinkError> {
        let parts = split(query).ok_or(LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(parts.sig)
            .map_err(|_| LinkError::Invalid)?;
        // A short tag would be easy to guess: only the full length is compared.
        if tag.len() != MAC_LEN {
            return Err(LinkError::Invalid);
        }
        self.mac(path, parts.signed)
            .verify_truncated_left(&tag)
            .map_err(|_| LinkError::Invalid)?;
        if now > parts.expires {
            return Err(LinkError::Expired);
        }
        Ok(parts.unsigned)
    }
}

/// Whether a query carries a signature (a `sig` parameter), so it must be checked as a link.
pub fn is_signed(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair == "sig" || pair.starts_with("sig="))
}

/// The query as it was before signing (the whole query when it is not a link).
pub fn unsigned(query: &str) -> &str {
    split(query).map_or(query, |parts| parts.unsigned)
}

/// The pieces of a signed query: `unsigned&expires=N&sig=S`.
struct Parts<'q> {
    /// What was signed: the query up to and including `expires`.
    signed: &'q str,
    /// The query before signing.
    unsigned: &'q str,
    expires: i64,
    sig: &'q str,
}

/// A signed query ends with `expires=N&sig=S`, in that order; anything else is not a link.
fn split(query: &str) -> Option<Parts<'_>> {
    let (signed, sig) = query.rsplit_once("&sig=")?;
    let (unsigned, expires) = match signed.rsplit_once('&') {
        Some((unsigned, last)) => (unsigned, last.strip_prefix("expires=")?),
        None => ("", signed.strip_prefix("expires=")?),
    };
    if sig.contains('&') || expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Parts {
        signed,
        unsigned,
        expires: expires.parse().ok()?,
        sig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/v1/bars/chart.svg";
    const NOW: i64 = 1_700_000_000;

    fn signer() -> UrlSigner {
        UrlSigner::new([7; 32])
    }

    #[test]
    fn a_signed_link_opens_its_own_query_until_it_expires() {
        let query = signer().sign(PATH, "symbol=MSFT&interval=1d", NOW + 60);
        assert!(query.starts_with("symbol=MSFT&interval=1d&expires=1700000060&sig="));
        assert!(is_signed(&query));
        assert_eq!(
            signer().verify(PATH, &query, NOW),
            Ok("symbol=MSFT&interval=1d")
        );
        assert_eq!(
            signer().verify(PATH, &query, NOW + 60),
            Ok("symbol=MSFT&interval=1d")
        );
        assert_eq!(unsigned(&query), "symbol=MSFT&interval=1d");
        assert_eq!(unsigned("symbol=MSFT"), "symbol=MSFT");
        assert_eq!(
            signer().verify(PATH, &query, NOW + 61),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let query = signer().sign(PATH, "symbol=MSFT&interval=1d", NOW + 60);
        let altered = [
            query.replace("MSFT", "AAPL"),
            query.replace("interval=1d", "interval=1h"),
            query.replace("1700000060", "1800000000"),
            query.replace("symbol=MSFT&", "symbol=MSFT&start=2021-01-01&"),
            format!("start=2021-01-01&{query}"),
            query[..query.len() - 1].to_owned(),
        ];
        for query in &altered {
            assert_eq!(
                signer().verify(PATH, query, NOW),
                Err(LinkError::Invalid),
                "{query}"
            );
        }
        assert_eq!(
            signer().verify("/v1/bars", &query, NOW),
            Err(LinkError::Invalid),
            "another path"
        );
        assert_eq!(
            UrlSigner::new([8; 32]).verify(PATH, &query, NOW),
            Err(LinkError::Invalid),
            "another key"
        );
    }

    #[test]
    fn malformed_links_are_refused_without_panicking() {
        for query in [
            "",
            "sig=",
            "symbol=A&sig=abc",
            "symbol=A&expires=&sig=abc",
            "symbol=A&expires=-1&sig=abc",
            "symbol=A&expires=99999999999999999999&sig=abc",
            "symbol=A&sig=abc&expires=1",
            "symbol=A&expires=1&sig=%%%",
            "symbol=A&expires=1&sig=a&sig=b",
        ] {
            assert_eq!(
                signer().verify(PATH, query, NOW),
                Err(LinkError::Invalid),
                "{query}"
            );
        }
        assert!(!is_signed("symbol=A&signal=1"));
        assert!(is_signed("sig=x"));
    }

    #[test]
    fn a_query_of_its_own_can_be_empty() {
        let query = signer().sign(PATH, "", NOW);
        assert!(query.starts_with("expires="));
        assert_eq!(signer().verify(PATH, &query, NOW), Ok(""));
    }

    #[test]
    fn the_key_is_not_shown() {
        assert!(!format!("{:?}", signer()).contains('7'));
    }
}
