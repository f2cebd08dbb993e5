//! Reading a paged answer (`/v1/bars` and the doors over it) to its last page.

use serde_json::Value;

use super::TestApp;

/// More pages than any test's data can fill: a token that never runs out is a bug.
const MAX_PAGES: usize = 1000;

/// `path_and_query` for the page `token` names (the first page without one).
pub fn page_path(path_and_query: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{path_and_query}&page_token={t}"),
        None => path_and_query.to_owned(),
    }
}

/// Follows page tokens from the first page to the last. `page(token)` fetches the page
/// `token` names (the first without one) and returns its items and the next page's token.
/// Returns every item, in order, and the number of pages.
pub async fn follow_pages<T>(
    mut page: impl AsyncFnMut(Option<&str>) -> (Vec<T>, Option<String>),
) -> (Vec<T>, usize) {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    for pages in 1..=MAX_PAGES {
        let (more, next) = page(token.as_deref()).await;
        items.extend(more);
        token = next;
        if token.is_none() {
            return (items, pages);
        }
    }
    panic!("more than {MAX_PAGES} pages");
}

/// The bars of a JSON page and its `next_page_token`.
pub fn bars_and_token(page: &Value) -> (Vec<Value>, Option<String>) {
    let bars = page["bars"].as_array().unwrap_or_else(|| panic!("{page}"));
    let token = page["next_page_token"].as_str().map(str::to_owned);
    (bars.clone(), token)
}

impl TestApp {
    /// Follows `next_page_token` from the first page of `/v1/bars?{query}` to the last;
    /// returns every bar and the number of pages.
    pub async fn all_pages(&self, query: &str) -> (Vec<Value>, usize) {
        follow_pages(async |token| {
            let path = page_path(&format!("/v1/bars?{query}"), token);
            let (status, page) = self.get_json(&path).await;
            assert_eq!(status, 200, "{page}");
            bars_and_token(&page)
        })
        .await
    }
}
