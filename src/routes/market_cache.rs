//! Whole-market answers kept in memory while the catalogue is unchanged.
//!
//! A snapshot of every symbol is megabytes to read and encode, and clients poll it; between
//! two writes every poll gets the same bytes. Each answer is kept with the catalogue's change
//! count (`db::catalog_version`) read on the same connection before the answer was built,
//! and served again only while the count is the same: any committed change to the catalogue
//! (a write through tsapi, the refresh that finds other tools' writes, a rebuild) raises it.
//! Only answers that depend on nothing but the catalogue are kept: every symbol, raw prices,
//! the catalogue's zone.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::db::{self, Conn, DbError};
use crate::domain::ResponseFormat;
use crate::error::ApiError;

/// Answers kept at most; the oldest goes first.
const MAX_ENTRIES: usize = 8;
/// A larger answer is not kept.
const MAX_BODY_BYTES: usize = 64 << 20;

/// Which answer: the route, the zone and day it is for, and its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub route: &'static str,
    pub zone: Tz,
    pub date: NaiveDate,
    pub format: ResponseFormat,
}

struct Kept {
    key: Key,
    version: i64,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// See the module documentation.
#[derive(Default)]
pub struct MarketCache {
    /// 0: not looked up yet; 1: the database has the change counter; 2: it has not.
    counter: AtomicU8,
    kept: Mutex<Vec<Kept>>,
}

impl MarketCache {
    /// The catalogue's change count on `client`, or `None` when the database keeps none
    /// (then nothing is kept).
    pub async fn version(&self, client: &Conn) -> Result<Option<i64>, DbError> {
        if self.counter.load(Ordering::Relaxed) == 0 {
            let exists = db::catalog_version::exists(client).await?;
            self.counter
                .store(if exists { 1 } else { 2 }, Ordering::Relaxed);
        }
        if self.counter.load(Ordering::Relaxed) == 2 {
            return Ok(None);
        }
        Ok(Some(db::catalog_version::read(client).await?))
    }

    /// The answer kept for `key` at `version`, if any.
    pub fn get(&self, key: &Key, version: i64) -> Option<Response> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let hit = kept
            .iter()
            .find(|k| k.key == *key && k.version == version)?;
        let mut response = Response::new(Body::from(hit.body.clone()));
        *response.status_mut() = hit.status;
        *response.headers_mut() = hit.headers.clone();
        Some(response)
    }

    /// Keeps a successful `response` for `key` at `version` and returns it.
    pub async fn keep(
        &self,
        key: Key,
        version: i64,
        response: Response,
    ) -> Result<Response, ApiError> {
        if response.status() != StatusCode::OK {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        // The answers kept here are built in memory already (their bodies cannot fail), so
        // reading them whole costs no more memory than they hold.
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|e| ApiError::Internal(format!("whole-market answer: {e}")))?;
        if body.len() <= MAX_BODY_BYTES {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            kept.retain(|k| k.key != key);
            if kept.len() >= MAX_ENTRIES {
                kept.remove(0);
            }
            kept.push(Kept {
                key,
                version,
                status: parts.status,
                headers: parts.headers.clone(),
                body: body.clone(),
            });
        }
        Ok(Response::from_parts(parts, Body::from(body)))
    }
}
