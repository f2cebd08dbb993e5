//! API keys with scopes.
//!
//! A key is a random secret (`tsapi_` + 64 hex digits, 256 bits from the OS) that only its
//! owner holds; the configuration keeps its SHA-256 digest, so a leaked configuration file
//! does not leak keys. Presented keys are hashed and compared with every configured digest
//! in constant time. Keys are never logged.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{AuthArgs, AuthMode, ConfigError, Hidden};
use crate::domain::signed_url::{self, UrlSigner};
use crate::error::ApiError;

/// Prefix of every key, so a leaked one is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "tsapi_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    pub read: bool,
    pub write: bool,
}

impl Scopes {
    /// `read`, `write` or `read+write` (in either order).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut scopes = Self {
            read: false,
            write: false,
        };
        for part in text.split('+') {
            match part.trim() {
                "read" => scopes.read = true,
                "write" => scopes.write = true,
                other => {
                    return Err(format!(
                        "unknown scope {other:?}; use read, write or read+write"
                    ));
                }
            }
        }
        Ok(scopes)
    }

    fn as_str(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "read+write",
            (false, true) => "write",
            _ => "read",
        }
    }
}

/// One configured key: who holds it, what it may do, and its digest.
#[derive(Clone)]
pub struct ApiKey {
    pub name: String,
    pub scopes: Scopes,
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// Parses a `name:scopes:sha256hex` entry.
    pub fn parse_entry(entry: &str) -> Result<Self, String> {
        let mut parts = entry.trim().splitn(3, ':');
        let (Some(name), Some(scopes), Some(digest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("expected name:scopes:sha256hex".into());
        };
        if name.is_empty() {
            return Err("the key name is empty".into());
        }
        let scopes = Scopes::parse(scopes)?;
        let digest: [u8; 32] = hex::decode(digest.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("key {name:?}: the digest is not 64 hex digits"))?;
        Ok(Self {
            name: name.to_owned(),
            scopes,
            digest,
        })
    }

    /// The configuration entry of a key.
    pub fn entry(name: &str, scopes: Scopes, key: &str) -> String {
        format!("{name}:{}:{}", scopes.as_str(), hex::encode(digest(key)))
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A new key from the operating system's random source.
pub fn generate_key() -> Result<String, rand::rand_core::OsError> {
    let mut secret = [0u8; 32];
    OsRng.try_fill_bytes(&mut secret)?;
    Ok(format!("{KEY_PREFIX}{}", hex::encode(secret)))
}

/// Who may do what.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `TSAPI_AUTH=none`: everyone may read and write (the tutorial's behaviour).
    Disabled,
    /// Requests need a configured key with the right scope (none configured: all refused).
    Keys {
        keys: Vec<ApiKey>,
        /// Reads without a key (`TSAPI_PUBLIC_READS=true`).
        public_reads: bool,
    },
}

impl Auth {
    /// The rules the settings ask for: no checks, or keys from the configured sources.
    pub fn from_args(args: &AuthArgs) -> Result<Self, ConfigError> {
        match args.auth {
            AuthMode::None => Ok(Self::Disabled),
            AuthMode::Keys => Self::from_config(
                args.api_keys.as_ref().map(Hidden::expose),
                args.api_keys_file.as_deref(),
                args.public_reads,
            ),
        }
    }

    /// One line for the log: how requests are checked, never which keys.
    pub fn log_summary(&self) {
        match self {
            Self::Disabled => {
                tracing::warn!(
                    "TSAPI_AUTH=none: anyone who can reach this server may read and write"
                )
            }
            Self::Keys { keys, .. } if keys.is_empty() => tracing::warn!(
                "no API keys configured: every request but the public routes is refused; \
                 create one with `tsapi keygen --name NAME --scopes read+write`"
            ),
            Self::Keys { keys, .. } => tracing::info!(keys = keys.len(), "API keys loaded"),
        }
    }

    /// Keys from `TSAPI_API_KEYS` (comma-separated) and `TSAPI_API_KEYS_FILE` (one per
    /// line; `#` comments and blank lines allowed).
    pub fn from_config(
        inline: Option<&str>,
        file: Option<&Path>,
        public_reads: bool,
    ) -> Result<Self, ConfigError> {
        let mut keys = Vec::new();
        for (i, entry) in inline.unwrap_or_default().split(',').enumerate() {
            if entry.trim().is_empty() {
                continue;
            }
            keys.push(
                ApiKey::parse_entry(entry)
                    .map_err(|e| ConfigError(format!("TSAPI_API_KEYS entry {}: {e}", i + 1)))?,
            );
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "cannot read TSAPI_API_KEYS_FILE {}: {e}",
                    path.display()
                ))
            })?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                keys.push(
                    ApiKey::parse_entry(line).map_err(|e| {
                        ConfigError(format!("{} line {}: {e}", path.display(), i + 1))
                    })?,
                );
            }
        }
        Ok(Self::Keys { keys, public_reads })
    }

    /// Whether a request with these headers (and, for the Polygon dialect, this query
    /// string) may use `method`.
    pub fn check(
        &self,
        method: &Method,
        headers: &HeaderMap,
        query_key: Option<&str>,
    ) -> Result<(), ApiError> {
        let Self::Keys { keys, public_reads } = self else {
            return Ok(());
        };
        let write = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !write && *public_reads {
            return Ok(());
        }
        if keys.is_empty() {
            return Err(ApiError::Unauthorized(
                "no API keys are configured: create one with `tsapi keygen --name NAME \
                 --scopes read+write` and set TSAPI_API_KEYS or TSAPI_API_KEYS_FILE"
                    .into(),
            ));
        }
        let presented = presented_keys(headers, query_key);
        if presented.is_empty() {
            return Err(ApiError::Unauthorized(
                "send an API key as `Authorization: Bearer KEY` or `X-API-Key: KEY` (Alpaca \
                 dialect: `APCA-API-SECRET-KEY`; Polygon dialect: also `apiKey=KEY`)"
                    .into(),
            ));
        }
        let Some(key) = presented.into_iter().find_map(|p| find(keys, p)) else {
            return Err(ApiError::Unauthorized("the API key is not valid".into()));
        };
        let allowed = if write {
            key.scopes.write
        } else {
            key.scopes.read
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key may not {}",
                if write { "write" } else { "read" }
            )))
        }
    }
}

/// Headers of the Alpaca dialect that may carry a key: `alpaca-py` always sends both, so
/// either may hold the tsapi key (the other can hold anything, e.g. the key's name).
const ALPACA_KEY_HEADERS: [&str; 2] = ["apca-api-secret-key", "apca-api-key-id"];

/// Every key the request presents: `Authorization: Bearer KEY`, `X-API-Key: KEY`, the
/// Alpaca headers and the Polygon dialect's `apiKey` query parameter (`query_key`).
fn presented_keys<'a>(headers: &'a HeaderMap, query_key: Option<&'a str>) -> Vec<&'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let named = ["x-api-key"]
        .into_iter()
        .chain(ALPACA_KEY_HEADERS)
        .map(|name| headers.get(name).and_then(|v| v.to_str().ok()));
    std::iter::once(bearer)
        .chain(named)
        .chain(std::iter::once(query_key))
        .flatten()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect()
}

/// The `apiKey` query parameter of a Polygon-dialect request (elsewhere a key in the URL
/// is not read: URLs end up in proxies' logs). Never logged.
fn polygon_query_key(request: &Request) -> Option<String> {
    if !request.uri().path().starts_with("/polygon/") {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(request.uri().query()?).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "apiKey")
        .map(|(_, value)| value)
}

/// Compares with every key, without stopping early, so timing reveals nothing.
fn find<'a>(keys: &'a [ApiKey], presented: &str) -> Option<&'a ApiKey> {
    let presented = digest(presented);
    let mut found = None;
    for key in keys {
        if bool::from(key.digest.ct_eq(&presented)) {
            found = Some(key);
        }
    }
    found
}

/// Marks a request whose caller the platform has already authenticated: a direct Lambda
/// invocation needs IAM's `lambda:InvokeFunction`, so it carries no API key.
#[derive(Debug, Clone, Copy)]
pub struct PlatformAuthenticated;

/// Marks a request whose URL carries a valid signature for its own path and query: a
/// chart link, made for a holder of a read key (`GET /v1/bars/chart-link`).
#[derive(Debug, Clone, Copy)]
pub struct SignedLink;

/// What signed links may open: a chart, read only.
const SIGNED_LINK_PATHS: [&str; 1] = [crate::routes::chart::CHART_PATH];

/// The middleware in front of [`require_key`]: a read of a link path with a `sig`
/// parameter passes when the signature holds, and is a 401 saying why when not.
pub async fn admit_signed_links(
    State(signer): State<Arc<UrlSigner>>,
    mut request: Request,
    next: Next,
) -> Response {
    let uri = request.uri();
    let query = uri.query().unwrap_or_default();
    if SIGNED_LINK_PATHS.contains(&uri.path())
        && matches!(*request.method(), Method::GET | Method::HEAD)
        && signed_url::is_signed(query)
    {
        let now = chrono::Utc::now().timestamp();
        if let Err(e) = signer.verify(uri.path(), query, now) {
            return ApiError::Unauthorized(e.to_string()).into_response();
        }
        request.extensions_mut().insert(SignedLink);
    }
    next.run(request).await
}

/// The access rules in force. Replaced whole when the keys are reloaded (SIGHUP), so a
/// request is checked against the old set or the new one, never a mix, and none waits.
#[derive(Debug)]
pub struct AuthHandle(ArcSwap<Auth>);

impl AuthHandle {
    pub fn new(auth: Auth) -> Self {
        Self(ArcSwap::from_pointee(auth))
    }

    /// The rules for one request.
    pub fn current(&self) -> Arc<Auth> {
        self.0.load_full()
    }

    /// Puts new rules in force for every request that starts after this call.
    pub fn replace(&self, auth: Auth) {
        self.0.store(Arc::new(auth));
    }
}

/// The middleware of every keyed route (public ones are outside it, in the route table):
/// a key with the right scope, or a caller the platform has authenticated.
pub async fn require_key(
    State(auth): State<Arc<AuthHandle>>,
    request: Request,
    next: Next,
) -> Response {
    let extensions = request.extensions();
    if extensions.get::<PlatformAuthenticated>().is_some()
        || extensions.get::<SignedLink>().is_some()
    {
        return next.run(request).await;
    }
    let query_key = polygon_query_key(&request);
    match auth
        .current()
        .check(request.method(), request.headers(), query_key.as_deref())
    {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        h
    }

    #[test]
    fn keys_are_long_random_and_prefixed() {
        let a = generate_key().unwrap();
        let b = generate_key().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
    }

    #[test]
    fn entry_round_trips_and_holds_no_key() {
        let key = generate_key().unwrap();
        let entry = ApiKey::entry("ci", Scopes::parse("read+write").unwrap(), &key);
        assert!(!entry.contains(&key));
        let parsed = ApiKey::parse_entry(&entry).unwrap();
        assert_eq!(parsed.name, "ci");
        assert!(parsed.scopes.read && parsed.scopes.write);
        assert!(!format!("{parsed:?}").contains(&entry[entry.len() - 64..]));
    }

    #[test]
    fn refuses_bad_entries() {
        assert!(ApiKey::parse_entry("x:read").is_err());
        assert!(ApiKey::parse_entry("x:admin:00").is_err());
        assert!(ApiKey::parse_entry("x:read:abcd").is_err());
        assert!(ApiKey::parse_entry(":read:abcd").is_err());
    }

    #[test]
    fn scopes_decide() {
        let reader = generate_key().unwrap();
        let writer = generate_key().unwrap();
        let entries = format!(
            "{},{}",
            ApiKey::entry("r", Scopes::parse("read").unwrap(), &reader),
            ApiKey::entry("w", Scopes::parse("write").unwrap(), &writer)
        );
        let auth = Auth::from_config(Some(&entries), None, false).unwrap();
        let bearer = |k: &str| headers("authorization", &format!("Bearer {k}"));
        assert!(auth.check(&Method::GET, &bearer(&reader), None).is_ok());
        assert!(matches!(
            auth.check(&Method::POST, &bearer(&reader), None),
            Err(ApiError::Forbidden(_))
        ));
        assert!(
            auth.check(&Method::POST, &headers("x-api-key", &writer), None)
                .is_ok()
        );
        assert!(matches!(
            auth.check(&Method::GET, &HeaderMap::new(), None),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            auth.check(&Method::GET, &bearer("tsapi_nope"), None),
            Err(ApiError::Unauthorized(_))
        ));
        let apca = |id: &str, secret: &str| {
            let mut h = headers("apca-api-key-id", id);
            h.insert("apca-api-secret-key", secret.parse().unwrap());
            h
        };
        assert!(auth.check(&Method::GET, &apca("me", &reader), None).is_ok());
        assert!(auth.check(&Method::GET, &apca(&reader, "x"), None).is_ok());
        assert!(matches!(
            auth.check(&Method::GET, &apca("me", "tsapi_nope"), None),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(
            auth.check(&Method::GET, &HeaderMap::new(), Some(&reader))
                .is_ok()
        );
    }
}
