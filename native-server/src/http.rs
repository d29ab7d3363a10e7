//! The HTTP side: the built site, one page per lab for iframes, and `/ws`.
//!
//! The site is either inside the binary (built with the `embed` feature,
//! served from memory by memory-serve with its types, ETags and compression)
//! or a folder (`--assets DIR`, for development). Files from a folder come
//! from tower-http's `ServeDir`, which refuses `..` and
//! absolute paths; a symlink that leads out of `--assets` and a path that
//! starts with `//` (which `ServeDir` would redirect off-site) get 404 here. Static assets may be fetched from other origins (CORS `*`,
//! GET only) so course pages elsewhere can load the `<socket-lab>` loader and
//! the wasm; the bridge has its own, much stricter, Origin check. Every page
//! gets a Content-Security-Policy that lets the wasm run and nothing inline
//! (the book, whose theme uses inline scripts, gets `'unsafe-inline'` for
//! scripts). If the site has not been built, pages say how to build it.

use std::path::{Component, Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use protocol::demo::LABS;
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::bridge::policy::OriginPolicy;
use crate::bridge::{self, Bridge};
use crate::demos::DemoCtx;
use crate::log_limit::LogLimit;
use crate::service::Service;

/// What HTTP handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The demos' shared context (config, bus, shutdown).
    pub ctx: DemoCtx,
    /// Every listening service, for the pages and the bridge.
    pub services: Arc<Vec<Service>>,
    /// The bridge's policy and limits.
    pub bridge: Bridge,
}

impl axum::extract::FromRef<AppState> for crate::bridge::BridgeState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            bridge: state.bridge.clone(),
            env: crate::bridge::session::SessionEnv {
                ctx: state.ctx.clone(),
                services: state.services.clone(),
            },
        }
    }
}

impl axum::extract::FromRef<AppState> for crate::check_runs::PublishState {
    fn from_ref(state: &AppState) -> Self {
        Self {
            runs: state.ctx.checks.clone(),
            shutdown: state.ctx.shutdown.clone(),
        }
    }
}

impl AppState {
    /// Bundles the context with the service list; `http` is our own address.
    pub fn new(ctx: DemoCtx, services: Vec<Service>, http: std::net::SocketAddr) -> Self {
        let policy = OriginPolicy::new(http, &ctx.config.allow_origins, &ctx.config.allow_hosts);
        let sessions = Arc::new(Semaphore::new(ctx.config.bridge.max_sessions));
        let per_client =
            crate::per_client::PerClient::new(ctx.config.bridge.max_sessions_per_client);
        Self {
            ctx,
            services: Arc::new(services),
            bridge: Bridge {
                policy: Arc::new(policy),
                sessions,
                per_client,
            },
        }
    }
}

const CSP_SITE: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss: http: https:; \
    object-src 'none'; base-uri 'self'; frame-ancestors *";
const CSP_BOOK: &str = "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self' ws: wss: http: https:; object-src 'none'; base-uri 'self'; frame-ancestors *";

/// A request target that is not an absolute path (`GET secret.txt`, legal
/// only for proxies) gets a plain 400 instead of reaching the router.
///
/// A path starting with `//` gets a 404: `ServeDir` would answer `GET //book`
/// with `Location: //book/`, which a browser reads as "the host `book`"
/// (an open redirect). No page of the site links to such a path.
async fn absolute_paths_only(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with('/') {
        return (
            StatusCode::BAD_REQUEST,
            "the request target must be an absolute path such as /book/",
        )
            .into_response();
    }
    if path.starts_with("//") {
        return (
            StatusCode::NOT_FOUND,
            "no such page (a path starts with a single /, e.g. /book/)",
        )
            .into_response();
    }
    next.run(req).await
}

/// The file `ServeDir` would open for `path` under `root`, worked out the way
/// it does (tower-http `serve_dir::build_and_validate_path`): percent-decoded,
/// `.` skipped; `None` for anything it refuses itself (`..`, absolute parts).
fn file_for(root: &FsPath, path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    let mut file = root.to_path_buf();
    for part in FsPath::new(&*decoded).components() {
        match part {
            Component::Normal(name) => file.push(name),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(file)
}

/// Whether `file` (and, for a directory, its `index.html`) really lies inside
/// `root` once every symlink is followed. A missing file counts as inside:
/// `ServeDir` will answer 404 for it anyway.
async fn stays_inside(root: &FsPath, file: &FsPath) -> bool {
    let inside = |p: &FsPath| p.starts_with(root);
    match tokio::fs::canonicalize(file).await {
        Ok(real) if !inside(&real) => false,
        Ok(real) => match tokio::fs::canonicalize(real.join("index.html")).await {
            Ok(index) => inside(&index),
            Err(_) => true,
        },
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Static files may be symlinks, but only to something inside `--assets`:
/// `ServeDir` follows symlinks wherever they point, so a link left in the
/// built site (`dist/notes -> /home/teacher`) would serve whatever it reaches.
async fn no_symlinks_out(State(root): State<Arc<PathBuf>>, req: Request, next: Next) -> Response {
    if let Some(file) = file_for(&root, req.uri().path())
        && !stays_inside(&root, &file).await
    {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    }
    next.run(req).await
}

fn header_text(req: &Request, name: header::HeaderName) -> Option<String> {
    Some(req.headers().get(name)?.to_str().ok()?.to_owned())
}

/// Refused upgrades are logged, but at most one line per second per reason:
/// a hostile page can try thousands a second.
async fn log_refused_upgrades(req: Request, next: Next) -> Response {
    static FORBIDDEN: LogLimit = LogLimit::per_second();
    static BUSY: LogLimit = LogLimit::per_second();
    static OTHER: LogLimit = LogLimit::per_second();
    let (host, origin) = (
        header_text(&req, header::HOST),
        header_text(&req, header::ORIGIN),
    );
    let res = next.run(req).await;
    let status = res.status();
    let limit = match status {
        StatusCode::SWITCHING_PROTOCOLS => return res,
        StatusCode::FORBIDDEN => &FORBIDDEN,
        StatusCode::SERVICE_UNAVAILABLE => &BUSY,
        _ => &OTHER,
    };
    if let Some(suppressed) = limit.allow() {
        tracing::info!(
            status = status.as_u16(),
            ?host,
            ?origin,
            suppressed,
            "bridge upgrade refused"
        );
    }
    res
}

async fn security_headers(req: Request, next: Next) -> Response {
    let book = req.uri().path().starts_with("/book");
    let mut res = next.run(req).await;
    let csp = if book { CSP_BOOK } else { CSP_SITE };
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    res
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let assets = state.ctx.config.assets.clone();
    let built = assets.join("index.html").is_file();
    let embedded = state.ctx.config.embedded_site.then(embedded_site).flatten();
    if embedded.is_none() && !built {
        tracing::warn!(path = %assets.display(), "site not built; serving instructions instead");
    }
    let static_files: Router<AppState> = if let Some(site) = embedded {
        site
    } else if built {
        // Symlinks are judged against the real path of the directory itself.
        let root = Arc::new(std::fs::canonicalize(&assets).unwrap_or_else(|_| assets.clone()));
        Router::new()
            .fallback_service(ServeDir::new(&assets).append_index_html_on_directories(true))
            .layer(middleware::from_fn_with_state(root, no_symlinks_out))
    } else {
        Router::new().fallback(not_built)
    };
    let site = Router::new()
        .route("/embed/{lab}", get(embed))
        .merge(static_files)
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD]),
        )
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(middleware::from_fn(security_headers));
    Router::new()
        .route(
            "/ws",
            get(bridge::upgrade).layer(middleware::from_fn(log_refused_upgrades)),
        )
        .route("/check/publish", get(crate::check_runs::publish))
        .route("/tls-cert.pem", get(tls_cert))
        .merge(site)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn(absolute_paths_only))
        .with_state(state)
}

/// Whether this binary carries the built site (built with `--features embed`).
pub const HAS_EMBEDDED_SITE: bool = cfg!(feature = "embed");

/// The site built into the binary, served from memory with its types, ETags
/// and gzip/brotli, every file revalidated (`no-cache`) like the folder.
#[cfg(feature = "embed")]
fn embedded_site() -> Option<Router<AppState>> {
    use memory_serve::CacheControl;
    let site = memory_serve::load!()
        .index_file(Some("/index.html"))
        // The book's pages link relative to `/book/`, so `/book` redirects
        // there, as a folder served from disk does.
        .add_alias("/book/", "/book/index.html")
        .html_cache_control(CacheControl::NoCache)
        .cache_control(CacheControl::NoCache)
        .into_router();
    Some(site.route(
        "/book",
        get(|| async { axum::response::Redirect::permanent("/book/") }),
    ))
}

#[cfg(not(feature = "embed"))]
fn embedded_site() -> Option<Router<AppState>> {
    None
}

/// `GET /tls-cert.pem`: the certificate `tls-echo` made at start, for clients
/// to trust (`curl -o socket-lab-cert.pem …`, then `cafile=`).
async fn tls_cert(State(state): State<AppState>) -> Response {
    if state.ctx.tls.cert_pem.is_empty() {
        #[cfg(not(feature = "tls"))]
        return (StatusCode::NOT_FOUND, crate::demos::tls::NO_TLS).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/x-pem-file"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"socket-lab-cert.pem\"",
            ),
        ],
        state.ctx.tls.cert_pem.to_string(),
    )
        .into_response()
}

/// `GET /embed/<lab>`: a page with just that lab, for an iframe.
async fn embed(Path(lab): Path<String>, State(_): State<AppState>) -> Response {
    if !LABS.contains(&lab.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            // The name is not echoed back: it came from the URL.
            format!("there is no such lab; the labs are: {}", LABS.join(", ")),
        )
            .into_response();
    }
    Html(format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Socket Lab: {lab}</title>\n<link rel=\"stylesheet\" href=\"../socket-lab.css\">\n\
         <script src=\"../socket-lab.js\"></script>\n</head>\n<body class=\"sl-site sl-embed\">\n\
         <socket-lab lab=\"{lab}\"></socket-lab>\n</body>\n</html>\n"
    ))
    .into_response()
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
