//! The state every request handler shares.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::{Auth, AuthHandle};
use crate::config::ApiArgs;
use crate::db::{
    Conn, DbError, PgPool, PooledClient, ReadPool, RecentWindow, SharedConnection, StatementMode,
    TableInfoCache,
};
use crate::domain::PageTokenKey;
use crate::domain::signed_url::UrlSigner;

/// What every request handler shares. Cloned for each request (axum hands each extractor
/// its own copy), so it is one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`]. Cheap to clone too, for the builder methods: every field
/// is shared.
#[derive(Clone)]
pub struct Shared {
    /// Pooled connections, made once and reused across requests.
    pub pool: PgPool,
    /// Limits and input rules.
    pub settings: Arc<ApiArgs>,
    /// The table's column types, looked up once.
    pub table: Arc<TableInfoCache>,
    /// Where the newest chunks start, so latest-bar reads touch only those.
    pub recent: Arc<RecentWindow>,
    /// Signs `/v1/bars` page tokens: the configured key, else one made at start-up.
    pub page_tokens: Arc<PageTokenKey>,
    /// Signs chart links (`GET /v1/bars/chart-link`); derived from the page token key, so
    /// instances that share `TSAPI_PAGE_TOKEN_KEY` accept each other's links.
    pub links: Arc<UrlSigner>,
    /// Who may call the API. Secure by default: no keys configured refuses every request.
    /// Reloadable (SIGHUP) without a restart.
    pub auth: Arc<AuthHandle>,
    /// Prepared statements, or unnamed ones behind a transaction-mode pooler.
    pub statements: StatementMode,
    /// A read replica for GET requests, if configured.
    pub replica: Option<Arc<ReadPool>>,
    /// The primary's connection for pipelined point reads (connected on first use).
    pub point_reads: Arc<SharedConnection>,
    /// Whether point reads are pipelined over the shared connections (with prepared
    /// statements only), or each takes a pooled connection.
    pub pipelined_reads: bool,
    /// The change feed (live bars, latest bars in memory); `None` in Lambda.
    pub feed: Option<crate::feed::Feed>,
    /// Whole-market answers kept while the catalogue is unchanged.
    pub market_cache: Arc<crate::routes::market_cache::MarketCache>,
}

impl AppState {
    /// How naive times (without an offset) in requests are read: in the configured zone.
    pub fn time_parser(&self) -> crate::domain::TimeParser {
        crate::domain::TimeParser::new(self.settings.timezone)
    }

    pub fn new(pool: PgPool, settings: ApiArgs) -> Self {
        let page_tokens = Arc::new(
            settings
                .page_token_key
                .as_ref()
                .and_then(|secret| PageTokenKey::from_secret(secret.expose()).ok())
                .unwrap_or_else(PageTokenKey::random),
        );
        let links = Arc::new(UrlSigner::new(page_tokens.derive("chart links")));
        Self(Arc::new(Shared {
            links,
            point_reads: Arc::new(SharedConnection::new(pool.clone())),
            pipelined_reads: true,
            pool,
            settings: Arc::new(settings),
            table: Arc::default(),
            recent: Arc::default(),
            page_tokens,
            auth: Arc::new(AuthHandle::new(Auth::Keys {
                keys: Vec::new(),
                public_reads: false,
            })),
            statements: StatementMode::default(),
            replica: None,
            feed: None,
            market_cache: Arc::default(),
        }))
    }

    /// For the builder methods below, which run before the state is shared.
    fn fields(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.fields().auth = Arc::new(AuthHandle::new(auth));
        self
    }

    pub fn with_statements(mut self, mode: StatementMode) -> Self {
        self.fields().statements = mode;
        self
    }

    /// Whether to pipeline point reads (a symbol's latest bar) over shared connections; on
    /// by default. Never with unnamed statements: a transaction-mode pooler may split a
    /// pipeline across server connections.
    pub fn with_pipelined_reads(mut self, pipelined: bool) -> Self {
        self.fields().pipelined_reads = pipelined;
        self
    }

    pub fn with_replica(mut self, replica: PgPool) -> Self {
        self.fields().replica = Some(Arc::new(ReadPool::new(replica)));
        self
    }

    pub fn with_feed(mut self, feed: crate::feed::Feed) -> Self {
        self.fields().feed = Some(feed);
        self
    }

    /// A pooled connection to the primary, or a 503-worthy error after the pool's wait
    /// timeout. Writes use this.
    pub async fn db(&self) -> Result<PooledClient, DbError> {
        Ok(PooledClient::new(self.pool.get().await?, self.statements))
    }

    /// A connection for reads: the replica when one is configured and up, else the primary.
    pub async fn read_db(&self) -> Result<Conn, DbError> {
        let trade_stats = self.trade_stats().await;
        if let Some(replica) = &self.replica
            && let Some(client) = replica.get().await
        {
            let client = PooledClient::new(client, self.statements);
            return Ok(Conn::pooled(client, self.statements).with_trade_stats(trade_stats));
        }
        Ok(Conn::pooled(self.db().await?, self.statements).with_trade_stats(trade_stats))
    }

    /// Whether the table has `trade_count` and `vwap` (looked up once, with the table's
    /// facts). A failed lookup reads as "no": reads then answer nulls until it succeeds.
    pub async fn trade_stats(&self) -> bool {
        self.table
            .get(self.db())
            .await
            .is_ok_and(|table| table.trade_stats)
    }

    /// The symbol catalogue's zone, or `None` when the database has no catalogue (looked
    /// up once, with the table's facts).
    pub async fn catalog(&self) -> Result<Option<chrono_tz::Tz>, DbError> {
        Ok(self.table.get(self.db()).await?.catalog_zone)
    }

    /// Where the newest chunks start (see [`RecentWindow`]), for latest-bar lookups.
    pub async fn recent_bound(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        self.recent.lower_bound(self.read_db()).await
    }

    /// A connection for short index lookups (a symbol's latest bar): shared with the other
    /// lookups in flight and pipelined when enabled, else as [`Self::read_db`].
    pub async fn point_read_db(&self) -> Result<Conn, DbError> {
        if !self.pipelined_reads || self.statements != StatementMode::Cached {
            return self.read_db().await;
        }
        let trade_stats = self.trade_stats().await;
        if let Some(replica) = &self.replica
            && let Some(client) = replica.get_shared().await
        {
            return Ok(Conn::shared(client, self.statements).with_trade_stats(trade_stats));
        }
        let client = self.point_reads.get().await?;
        Ok(Conn::shared(client, self.statements).with_trade_stats(trade_stats))
    }
}
