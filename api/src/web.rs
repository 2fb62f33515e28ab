//! The traveller's web app (`web/`): a page and seven static files, built
//! into the binary, served at `/` beside the API. No build step and no
//! framework: plain ES modules on the public API (see web/app.js).
//!
//! The page loads Stripe.js from `STRIPE_JS_URL` with the publishable key
//! `STRIPE_PUBLISHABLE_KEY`; its Content-Security-Policy allows scripts,
//! frames and requests only to the page itself and Stripe.

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest::Url;

/// Stripe's own Stripe.js, for production.
pub const STRIPE_JS: &str = "https://js.stripe.com/v3/";

/// The page's files, embedded at build time.
pub const ASSETS: [(&str, &str, &str); 7] = [
    (
        "/assets/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "/assets/booking.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/booking.js"),
    ),
    (
        "/assets/page.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/page.js"),
    ),
    (
        "/assets/ui.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/ui.js"),
    ),
    (
        "/assets/account.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/account.js"),
    ),
    (
        "/assets/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/api.js"),
    ),
    (
        "/assets/app.css",
        "text/css; charset=utf-8",
        include_str!("../../web/app.css"),
    ),
];

const INDEX: &str = include_str!("../../web/index.html");

#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Where the page loads Stripe.js from (`STRIPE_JS_URL`).
    pub stripe_js_url: String,
    /// The publishable key (`STRIPE_PUBLISHABLE_KEY`, `pk_…`); without one
    /// the page says card payments are unavailable.
    pub stripe_publishable_key: Option<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            stripe_js_url: STRIPE_JS.to_owned(),
            stripe_publishable_key: None,
        }
    }
}

impl WebConfig {
    /// Reads `STRIPE_JS_URL` and `STRIPE_PUBLISHABLE_KEY`.
    pub fn from_env() -> anyhow::Result<Self> {
        let config = WebConfig {
            stripe_js_url: kit::config::var("STRIPE_JS_URL")
                .unwrap_or_else(|| STRIPE_JS.to_owned()),
            stripe_publishable_key: kit::config::var("STRIPE_PUBLISHABLE_KEY"),
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<Url> {
        let url = Url::parse(&self.stripe_js_url).context("STRIPE_JS_URL is not a URL")?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            bail!("STRIPE_JS_URL must be an http(s) URL");
        }
        if let Some(key) = &self.stripe_publishable_key {
            let valid = key.starts_with("pk_")
                && key.len() <= 255
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                bail!(
                    "STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_…), never a secret one"
                );
            }
        }
        Ok(url)
    }

    /// What the page may load and call: itself, and Stripe (Stripe's
    /// documented origins for js.stripe.com, else the Stripe.js URL's own
    /// origin, as localstripe serves both the script and the API).
    fn content_security_policy(&self) -> anyhow::Result<String> {
        let url = self.check()?;
        let origin = url.origin().ascii_serialization();
        let (script, frame, connect) = if url.host_str() == Some("js.stripe.com") {
            (
                "https://js.stripe.com https://*.js.stripe.com".to_owned(),
                "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com".to_owned(),
                "https://api.stripe.com".to_owned(),
            )
        } else {
            (origin.clone(), origin.clone(), origin)
        };
        Ok(format!(
            "default-src 'none'; script-src 'self' {script}; style-src 'self'; \
             img-src 'self' data:; connect-src 'self' {connect}; frame-src {frame}; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ))
    }

    /// The page, with Stripe.js's URL and the publishable key filled in.
    fn index(&self) -> String {
        INDEX
            .replace("{{STRIPE_JS_URL}}", &attribute(&self.stripe_js_url))
            .replace(
                "{{STRIPE_PUBLISHABLE_KEY}}",
                &attribute(self.stripe_publishable_key.as_deref().unwrap_or("")),
            )
    }
}

/// Escapes text for a double-quoted HTML attribute.
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn answer(content_type: &'static str, body: Bytes, csp: Option<&HeaderValue>) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        body,
    )
        .into_response();
    if let Some(csp) = csp {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        response
            .headers_mut()
            .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// `GET /` and the page's files.
pub fn router<S: Clone + Send + Sync + 'static>(config: &WebConfig) -> anyhow::Result<Router<S>> {
    let csp = HeaderValue::from_str(&config.content_security_policy()?)
        .context("the Content-Security-Policy")?;
    let index = Bytes::from(config.index());
    let mut router = Router::new().route(
        "/",
        get(move || {
            std::future::ready(answer(
                "text/html; charset=utf-8",
                index.clone(),
                Some(&csp),
            ))
        }),
    );
    for (path, content_type, body) in ASSETS {
        let body = Bytes::from_static(body.as_bytes());
        router = router.route(
            path,
            get(move || std::future::ready(answer(content_type, body.clone(), None))),
        );
    }
    Ok(router)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_fills_in_stripe_and_escapes_it() {
        let config = WebConfig {
            stripe_js_url: "http://127.0.0.1:8420/js.stripe.com/v3/".into(),
            stripe_publishable_key: Some("pk_test_abc".into()),
        };
        let page = config.index();
        assert!(page.contains(r#"<script src="http://127.0.0.1:8420/js.stripe.com/v3/">"#));
        assert!(page.contains(r#"data-stripe-key="pk_test_abc""#));
        assert_eq!(attribute(r#"a"<b>&'"#), "a&quot;&lt;b&gt;&amp;&#39;");
    }

    #[test]
    fn the_policy_allows_only_the_page_and_stripe() {
        let local = WebConfig {
            stripe_js_url: "http://127.0.0.1:8420/js.stripe.com/v3/".into(),
            stripe_publishable_key: None,
        };
        let csp = local.content_security_policy().unwrap();
        assert!(
            csp.contains("script-src 'self' http://127.0.0.1:8420;"),
            "{csp}"
        );
        assert!(
            csp.contains("connect-src 'self' http://127.0.0.1:8420;"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        let stripe = WebConfig::default().content_security_policy().unwrap();
        assert!(
            stripe.contains("connect-src 'self' https://api.stripe.com;"),
            "{stripe}"
        );
        assert!(stripe.contains("hooks.stripe.com"), "{stripe}");
    }

    #[test]
    fn a_secret_key_or_a_bad_url_is_refused() {
        let secret = WebConfig {
            stripe_publishable_key: Some("sk_test_123".into()),
            ..WebConfig::default()
        };
        assert!(secret.check().is_err());
        let url = WebConfig {
            stripe_js_url: "javascript:alert(1)".into(),
            ..WebConfig::default()
        };
        assert!(url.check().is_err());
    }

    /// The JavaScript the page ships, compressed as a browser receives it
    /// with gzip: the budget is 150 KB.
    #[test]
    fn the_shipped_javascript_stays_under_150_kb_compressed() {
        use std::io::Write;
        let mut total = 0;
        for (path, content_type, body) in ASSETS {
            if !content_type.starts_with("text/javascript") {
                continue;
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(body.as_bytes()).unwrap();
            let size = gz.finish().unwrap().len();
            println!("{path}: {} bytes, {size} bytes gzipped", body.len());
            total += size;
        }
        println!("JavaScript shipped: {total} bytes gzipped (budget 153600)");
        assert!(total <= 150 * 1024, "{total} bytes");
    }
}
