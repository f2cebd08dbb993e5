//! Reading `/v1/bars` to its last page.

use serde_json::Value;

use super::TestApp;

impl TestApp {
    /// Follows `next_page_token` from the first page of `/v1/bars?{query}` to the last;
    /// returns every bar and the number of pages.
    pub async fn all_pages(&self, query: &str) -> (Vec<Value>, usize) {
        let mut bars = vec![];
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let extra = token
                .map(|t| format!("&page_token={t}"))
                .unwrap_or_default();
            let (status, page) = self.get_json(&format!("/v1/bars?{query}{extra}")).await;
            assert_eq!(status, 200, "{page}");
            pages += 1;
            bars.extend(page["bars"].as_array().expect("bars").iter().cloned());
            match page["next_page_token"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => return (bars, pages),
            }
        }
    }
}
