//! The HTTP side: the built site from `--assets` (lab index, book, wasm).
//!
//! Static files come from tower-http's `ServeDir`, which refuses `..` and
//! absolute paths. If the site has not been built, every page says how to
//! build it instead of answering a bare 404.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::demos::DemoCtx;
use crate::server::Service;

/// What HTTP handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The demos' shared context (config, bus, shutdown).
    pub ctx: DemoCtx,
    /// Every listening service, for the pages and the bridge.
    pub services: Arc<Vec<Service>>,
}

impl AppState {
    /// Bundles the context with the service list.
    pub fn new(ctx: DemoCtx, services: Vec<Service>) -> Self {
        Self {
            ctx,
            services: Arc::new(services),
        }
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let assets = state.ctx.config.assets.clone();
    let static_files = if assets.join("index.html").is_file() {
        Router::new()
            .fallback_service(ServeDir::new(&assets).append_index_html_on_directories(true))
    } else {
        tracing::warn!(path = %assets.display(), "site not built; serving instructions instead");
        Router::new().fallback(not_built)
    };
    static_files
        .with_state(())
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

async fn not_built() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><title>Socket Lab: site not built</title>\
             <h1>The site has not been built yet</h1>\
             <p>Run <code>cargo xtask serve</code> (it builds, then serves), or \
             <code>cargo xtask build</code> and start <code>socket-lab --assets dist</code>.</p>\
             <p>The demo servers are running already.</p>",
        ),
    )
}
