//! The gateway's routes, recorded as they are added: the OpenAPI document
//! must describe every method and path routed here, and nothing else
//! (`openapi::tests::every_route_is_documented`).

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::state::AppState;

/// A router and the (method, path) of each route it serves.
pub struct Routes {
    router: Router<AppState>,
    table: Vec<(Method, String)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method path` to `handler`. Several methods on one path merge.
    pub fn on<H, T>(mut self, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} cannot be routed"));
        self.router = self.router.route(path, on(filter, handler));
        self.table.push((method, path.to_owned()));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::GET, path, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::POST, path, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::PUT, path, handler)
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::PATCH, path, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, handler: H) -> Self {
        self.on(Method::DELETE, path, handler)
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// Applies `f` (a layer, usually) to the router; the table is unchanged.
    pub fn map_router(mut self, f: impl FnOnce(Router<AppState>) -> Router<AppState>) -> Self {
        self.router = f(self.router);
        self
    }

    /// The same routes under `prefix`.
    pub fn nest(prefix: &str, inner: Routes) -> Self {
        Routes {
            router: Router::new().nest(prefix, inner.router),
            table: inner
                .table
                .into_iter()
                .map(|(m, p)| (m, format!("{prefix}{p}")))
                .collect(),
        }
    }

    pub fn table(&self) -> &[(Method, String)] {
        &self.table
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
