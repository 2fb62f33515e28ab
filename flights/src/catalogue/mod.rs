//! The catalogue: cities, airports, airplanes and flights (CRUD).

pub mod airplanes;
pub mod airports;
pub mod cities;
pub mod directory;
pub mod flights;
pub mod seat_map;

use axum::Router;
pub use flights_api::catalogue::Paged;

use crate::app::AppState;
use crate::extract::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(cities::router())
        .merge(airports::router())
        .merge(airplanes::router())
        .merge(flights::router())
}

/// One page of a list.
pub fn paged<T>(items: Vec<T>, page: Page, total: i64) -> Paged<T> {
    Paged {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    }
}

/// The `q` lookup parameter as a LIKE pattern matching it as a literal prefix.
pub fn prefix_param(params: &crate::extract::Params) -> crate::error::Result<Option<String>> {
    let Some(q) = params.str("q") else {
        return Ok(None);
    };
    if q.chars().count() > 100 || q.chars().any(char::is_control) {
        return Err(crate::error::Error::invalid_param(
            "q",
            "must be at most 100 printable characters",
        ));
    }
    Ok(Some(like_prefix(q)))
}

/// Escapes LIKE wildcards so `q` is matched as a literal prefix.
fn like_prefix(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 1);
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out.to_lowercase()
}

/// A trimmed, non-empty name of bounded length.
pub fn clean_name(field: &'static str, raw: &str, max: usize) -> crate::error::Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(crate::error::Error::validation(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(name.to_owned())
}
