//! `Accept` header negotiation (RFC 9110 §12.5.1): quality values, wildcards, and the
//! client's order to break ties.
//!
//! Small on purpose: the API offers three media types, so it needs the matching rules,
//! not a general media-type library.

/// Most media ranges read from one header; the rest are ignored, so a hostile header
/// costs a bounded amount of work.
const MAX_RANGES: usize = 32;

/// One `type/subtype;q=x` item of the header.
#[derive(Debug, Clone, PartialEq)]
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// Quality in thousandths, 0 to 1000; 0 means "not acceptable".
    quality: u16,
}

impl<'a> MediaRange<'a> {
    /// `None` for a malformed item, which is skipped.
    fn parse(item: &'a str) -> Option<Self> {
        let mut parts = item.split(';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        let (kind, subtype) = (kind.trim(), subtype.trim());
        if kind.is_empty() || subtype.is_empty() || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut quality = 1000;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                quality = parse_quality(value.trim())?;
            }
        }
        Some(Self {
            kind,
            subtype,
            quality,
        })
    }

    /// How closely this range names `media_type`: 3 exactly, 2 by `type/*`, 1 by `*/*`,
    /// `None` not at all.
    fn specificity(&self, media_type: &str) -> Option<u8> {
        let (kind, subtype) = media_type.split_once('/')?;
        if self.kind == "*" {
            return Some(1);
        }
        if !self.kind.eq_ignore_ascii_case(kind) {
            return None;
        }
        if self.subtype == "*" {
            return Some(2);
        }
        self.subtype.eq_ignore_ascii_case(subtype).then_some(3)
    }
}

/// `1`, `1.0`, `0.5`, `0.125` as thousandths; anything else is malformed.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Which of `offers` (media types in the server's order of preference) the client wants.
///
/// No header, or one with no readable item: the first offer. Otherwise each offer takes the
/// quality of the most specific range that names it; the highest quality wins, then the
/// offer whose range the client listed first, then the server's order. `None` when every
/// offer has quality 0 or is not named at all: nothing acceptable (406).
pub fn negotiate(header: Option<&str>, offers: &[&str]) -> Option<usize> {
    let ranges: Vec<MediaRange<'_>> = header
        .unwrap_or_default()
        .split(',')
        .take(MAX_RANGES)
        .filter_map(MediaRange::parse)
        .collect();
    if ranges.is_empty() {
        return (!offers.is_empty()).then_some(0);
    }
    offers
        .iter()
        .enumerate()
        .filter_map(|(offer_index, offer)| {
            // The most specific range decides; among equally specific ones, the first.
            let (position, range) = ranges
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.specificity(offer).map(|s| (s, i, r)))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|(_, i, r)| (i, r))?;
            (range.quality > 0).then_some((range.quality, position, offer_index))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)))
        .map(|(_, _, offer_index)| offer_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFERS: [&str; 3] = ["application/json", "text/csv", "application/x-ndjson"];

    fn pick(header: &str) -> Option<&'static str> {
        negotiate(Some(header), &OFFERS).map(|i| OFFERS[i])
    }

    #[test]
    fn quality_values_decide() {
        assert_eq!(
            pick("text/csv;q=0.5, application/json"),
            Some("application/json")
        );
        assert_eq!(pick("application/json;q=0.2, text/csv"), Some("text/csv"));
        assert_eq!(
            pick("text/csv; q=0.9, application/x-ndjson;q=0.95"),
            Some("application/x-ndjson")
        );
        assert_eq!(pick("text/csv;q=0"), None, "q=0 refuses");
        assert_eq!(pick("image/png"), None);
    }

    #[test]
    fn ties_go_to_the_clients_first_choice_then_the_servers() {
        assert_eq!(pick("text/csv, application/json"), Some("text/csv"));
        assert_eq!(pick("application/json, text/csv"), Some("application/json"));
        assert_eq!(pick("*/*"), Some("application/json"));
        assert_eq!(pick("application/*"), Some("application/json"));
        assert_eq!(
            pick("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Some("application/json"),
            "a browser gets JSON"
        );
    }

    #[test]
    fn the_most_specific_range_wins_for_each_offer() {
        assert_eq!(pick("*/*;q=0.1, text/csv;q=0.5"), Some("text/csv"));
        assert_eq!(pick("*/*, application/json;q=0"), Some("text/csv"));
        assert_eq!(pick("text/*;q=0.3, application/*;q=0.2"), Some("text/csv"));
        assert_eq!(pick("TEXT/CSV;charset=utf-8"), Some("text/csv"));
    }

    #[test]
    fn malformed_items_are_skipped_and_no_header_means_the_default() {
        assert_eq!(negotiate(None, &OFFERS), Some(0));
        assert_eq!(pick(""), Some("application/json"));
        assert_eq!(pick("garbage"), Some("application/json"));
        assert_eq!(
            pick("text/csv;q=2, application/x-ndjson"),
            Some("application/x-ndjson")
        );
        assert_eq!(
            pick("text/csv;q=0.5555, application/x-ndjson;q=0.1"),
            Some("application/x-ndjson")
        );
        assert_eq!(pick("*/csv, text/csv;q=0.4"), Some("text/csv"));
    }

    #[test]
    fn qualities_parse_as_the_rfc_writes_them() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.125"), Some(125));
        assert_eq!(parse_quality("0"), Some(0));
        for bad in ["1.5", "2", "-0.1", "0.1234", "x", "0.a", ""] {
            assert_eq!(parse_quality(bad), None, "{bad}");
        }
    }
}
