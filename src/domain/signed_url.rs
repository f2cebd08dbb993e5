//! Signed URLs: a link that carries its own permission, for what cannot send a header.
//!
//! An `<img src>` embed of a chart cannot send an API key, so a holder of a read key may
//! ask for a link instead: the URL's query, then `expires=UNIX` and `sig=...`, an
//! HMAC-SHA256 over the path, the query's parameters and `expires`. The link opens that
//! one chart (the same parameters with the same values) until it expires, and nothing
//! else. The parameters are signed sorted and decoded, not as raw bytes, because a proxy
//! may rebuild a query: API Gateway's REST API hands Lambda a map of parameters, not the
//! original text.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the MAC kept in a link: 128 bits are plenty against forgery.
const MAC_LEN: usize = 16;
/// The parameters a link adds to the query it signs.
const EXPIRES: &str = "expires";
const SIG: &str = "sig";

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

type Pairs = Vec<(String, String)>;

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// The MAC of `path` with `params` (in any order) and `expires`.
    fn mac(&self, path: &str, params: &[(String, String)], expires: i64) -> HmacSha256 {
        let mut sorted = params.to_vec();
        sorted.sort();
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        for (name, value) in &sorted {
            // Length-prefixed, so no two different lists feed the same bytes.
            for part in [name, value] {
                mac.update(&(part.len() as u64).to_be_bytes());
                mac.update(part.as_bytes());
            }
        }
        mac.update(&expires.to_be_bytes());
        mac
    }

    /// `query` (without a leading `?`, as a URL has it) with `&expires=..&sig=..` appended:
    /// the query of a link to `path` that works until `expires` (Unix seconds).
    pub fn sign(&self, path: &str, query: &str, expires: i64) -> Result<String, LinkError> {
        let params: Pairs = serde_urlencoded::from_str(query).map_err(|_| LinkError::Invalid)?;
        let tag = self.mac(path, &params, expires).finalize().into_bytes();
        let sig = URL_SAFE_NO_PAD.encode(&tag[..MAC_LEN]);
        let separator = if query.is_empty() { "" } else { "&" };
        Ok(format!("{query}{separator}{EXPIRES}={expires}&{SIG}={sig}"))
    }

    /// Checks a link's query for `path` at `now` (Unix seconds); returns the query without
    /// `expires` and `sig`.
    pub fn verify(&self, path: &str, query: &str, now: i64) -> Result<String, LinkError> {
        let (params, expires, sig) = split(query).ok_or(LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkError::Invalid)?;
        // A short tag would be easy to guess: only the full length is compared.
        if tag.len() != MAC_LEN {
            return Err(LinkError::Invalid);
        }
        self.mac(path, &params, expires)
            .verify_truncated_left(&tag)
            .map_err(|_| LinkError::Invalid)?;
        if now > expires {
            return Err(LinkError::Expired);
        }
        serde_urlencoded::to_string(&params).map_err(|_| LinkError::Invalid)
    }
}

/// Whether a query carries a link's `sig` or `expires`, so it must be checked as a link.
pub fn is_signed(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        name == SIG || name == EXPIRES
    })
}

/// The query without a link's `expires` and `sig` (unchanged when it has none).
pub fn unsigned(query: &str) -> String {
    match split(query) {
        Some((params, _, _)) => serde_urlencoded::to_string(&params).unwrap_or_default(),
        None => query.to_owned(),
    }
}

/// The parameters, `expires` and `sig` of a link's query: exactly one of each of the two.
fn split(query: &str) -> Option<(Pairs, i64, String)> {
    let pairs: Pairs = serde_urlencoded::from_str(query).ok()?;
    let (mut expires, mut sig, mut params) = (None, None, Vec::new());
    for (name, value) in pairs {
        let slot = match name.as_str() {
            EXPIRES => &mut expires,
            SIG => &mut sig,
            _ => {
                params.push((name, value));
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let expires = expires?;
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((params, expires.parse().ok()?, sig?))
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
        let query = signer()
            .sign(PATH, "symbol=MSFT&interval=1d", NOW + 60)
            .unwrap();
        assert!(query.starts_with("symbol=MSFT&interval=1d&expires=1700000060&sig="));
        assert!(is_signed(&query));
        assert_eq!(
            signer().verify(PATH, &query, NOW),
            Ok("symbol=MSFT&interval=1d".to_owned())
        );
        assert_eq!(
            signer().verify(PATH, &query, NOW + 60),
            Ok("symbol=MSFT&interval=1d".to_owned())
        );
        assert_eq!(unsigned(&query), "symbol=MSFT&interval=1d");
        assert_eq!(
            signer().verify("/v1/bars", &query, NOW),
            Err(LinkError::Invalid)
        );
        assert_eq!(unsigned("symbol=MSFT"), "symbol=MSFT");
        assert_eq!(
            signer().verify(PATH, &query, NOW + 61),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let query = signer()
            .sign(PATH, "symbol=MSFT&interval=1d", NOW + 60)
            .unwrap();
        let altered = [
            query.replace("MSFT", "AAPL"),
            query.replace("interval=1d", "interval=1h"),
            query.replace("1700000060", "1800000000"),
            query.replace("symbol=MSFT&", "symbol=MSFT&start=2021-01-01&"),
            format!("start=2021-01-01&{query}"),
            format!("{query}&interval=1h"),
            query.replace("symbol=MSFT&", ""),
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
    fn a_rebuilt_query_with_the_same_parameters_still_opens() {
        let query = signer()
            .sign(PATH, "symbol=BRK.B&tz=America%2FNew_York", NOW)
            .unwrap();
        let (head, tail) = query.split_once("&expires=").unwrap();
        let (symbol, tz) = head.split_once('&').unwrap();
        let reordered = format!("expires={tail}&{tz}&{}", symbol.replace('.', "%2E"));
        assert_eq!(
            signer().verify(PATH, &reordered, NOW),
            Ok("tz=America%2FNew_York&symbol=BRK.B".to_owned())
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
            "symbol=A&expires=1&expires=1&sig=abc",
            "symbol=A&expires=1&sig=%%%",
            "symbol=A&expires=1&sig=a&sig=b",
        ] {
            assert_eq!(
                signer().verify(PATH, query, NOW),
                Err(LinkError::Invalid),
                "{query}"
            );
        }
        assert!(!is_signed("symbol=A&signal=1&expiresx=2"));
        assert!(is_signed("sig=x"));
        assert!(
            is_signed("symbol=A&expires=1"),
            "half a link is checked too"
        );
    }

    #[test]
    fn a_query_of_its_own_can_be_empty() {
        let query = signer().sign(PATH, "", NOW).unwrap();
        assert!(query.starts_with("expires="));
        assert_eq!(signer().verify(PATH, &query, NOW), Ok(String::new()));
    }

    #[test]
    fn the_key_is_not_shown() {
        assert!(!format!("{:?}", signer()).contains('7'));
    }
}
