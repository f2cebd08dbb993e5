//! The state every request handler shares.

use std::sync::Arc;

use crate::config::ApiArgs;
use crate::db::{DbError, PgPool, RecentWindow, TableInfoCache};
use crate::domain::PageTokenKey;

/// Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct AppState {
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
}

impl AppState {
    pub fn new(pool: PgPool, settings: ApiArgs) -> Self {
        let page_tokens = Arc::new(
            settings
                .page_token_key
                .clone()
                .unwrap_or_else(PageTokenKey::random),
        );
        Self {
            pool,
            settings: Arc::new(settings),
            table: Arc::default(),
            recent: Arc::default(),
            page_tokens,
        }
    }

    /// A pooled connection, or a 503-worthy error after the pool's wait timeout.
    pub async fn db(&self) -> Result<deadpool_postgres::Client, DbError> {
        Ok(self.pool.get().await?)
    }
}
