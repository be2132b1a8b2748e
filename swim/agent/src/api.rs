//! The agent's local HTTP API (shapes in the crate's README):
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/members[?state=S&tag=K=V]` | the members this agent sees |
//! | `GET /v1/members/{name}` | one member (404 if unknown) |
//! | `GET /v1/info` | this member, health, probe timeout, counters |
//! | `GET /v1/events` | events as they happen (server-sent events, JSON) |
//! | `POST /v1/broadcast` | `{"payload": text}`: gossips it |
//! | `POST /v1/query` | `{"name", "payload", "nodes", "tags", "timeout_ms"}`: the answers |
//! | `GET /v1/keys`, `POST /v1/keys` `{"key"}`, `POST /v1/keys/use` `{"id"}`, `DELETE /v1/keys/{id}` | keys |
//! | `POST /v1/leave` | leaves gracefully; the agent then stops |
//! | `GET /metrics` | every metric, Prometheus text format |
//! | `GET /` | the dashboard (one page, its script at `/dashboard.js`) |
//!
//! With a token, every request needs `Authorization: Bearer <token>`
//! (`/metrics` too; not the dashboard's two files, which hold no data: the
//! page sends the token it is given in its address's fragment). Errors are
//! `{"error": text}` with a 4xx or 5xx status.
//!
//! Against web pages in the operator's browser: on a loopback API the
//! `Host` must be a loopback address or `localhost` (no DNS rebinding),
//! and a request that changes something from another origin is refused.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Deserialize;
use swim::{Cluster, QueryOptions, QueryReply, SecretKey};
use tokio::sync::Notify;
use tokio_stream::StreamExt;

use crate::json::{InfoJson, MemberJson};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) cluster: Cluster,
    pub(crate) name: String,
    pub(crate) token: Option<Arc<str>>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) started: Instant,
    /// Told when `POST /v1/leave` has left: the agent stops.
    pub(crate) stop: Arc<Notify>,
    /// The API listens on loopback: requests must name a loopback host.
    pub(crate) loopback: bool,
}

/// An error as the API returns it.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<swim::Error> for ApiError {
    fn from(e: swim::Error) -> Self {
        let status = match &e {
            swim::Error::Command(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, e.to_string())
    }
}

fn bad(text: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, text.into())
}

pub(crate) fn router(api: Api) -> Router {
    Router::new()
        .route("/v1/members", get(members))
        .route("/v1/members/{name}", get(member))
        .route("/v1/info", get(info))
        .route("/v1/events", get(events))
        .route("/v1/broadcast", post(broadcast))
        .route("/v1/query", post(query))
        .route("/v1/keys", get(keys).post(install_key))
        .route("/v1/keys/use", post(use_key))
        .route("/v1/keys/{id}", delete(remove_key))
        .route("/v1/leave", post(leave))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard))
        .route("/dashboard.js", get(dashboard_js))
        .layer(middleware::from_fn_with_state(api.clone(), authorize))
        .with_state(api)
}

/// Compares without leaking where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `host` (a `Host` header: name or address, and a port) is this
/// machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn authorize(State(api): State<Api>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if api.loopback && !loopback_host(host) {
        return ApiError(StatusCode::FORBIDDEN, format!("host `{host}` is not this machine's loopback"))
            .into_response();
    }
    let changes = !matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && changes
        && origin.strip_prefix("http://").is_none_or(|o| o != host)
    {
        return ApiError(StatusCode::FORBIDDEN, format!("a request from another origin ({origin})")).into_response();
    }
    let path = request.uri().path();
    if path == "/" || path == "/dashboard.js" {
        return next.run(request).await;
    }
    if let Some(token) = &api.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            return ApiError(StatusCode::UNAUTHORIZED, "a bearer token is required".into()).into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct MemberFilter {
    state: Option<String>,
    /// `K=V[,K=V...]`: all must match.
    tag: Option<String>,
}

async fn members(
    State(api): State<Api>,
    Query(filter): Query<MemberFilter>,
) -> Result<Json<Vec<MemberJson>>, ApiError> {
    if let Some(state) = &filter.state
        && !["alive", "suspect", "faulty", "left"].contains(&state.as_str())
    {
        return Err(bad(format!("state `{state}` is not alive, suspect, faulty or left")));
    }
    let tags = match &filter.tag {
        Some(list) => list.split(',').map(crate::cli::parse_tag).collect::<Result<Vec<_>, _>>().map_err(bad)?,
        None => Vec::new(),
    };
    let mut out: Vec<MemberJson> = api
        .cluster
        .members()
        .await?
        .iter()
        .filter(|m| filter.state.as_ref().is_none_or(|s| m.state.to_string() == *s))
        .filter(|m| tags.iter().all(|(k, v)| m.tag(k) == Some(v.as_str())))
        .map(|m| MemberJson::new(m, &api.name))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

async fn member(State(api): State<Api>, Path(name): Path<String>) -> Result<Json<MemberJson>, ApiError> {
    match api.cluster.member(name.as_str()).await? {
        Some(m) => Ok(Json(MemberJson::new(&m, &api.name))),
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no member named `{name}`"))),
    }
}

async fn info(State(api): State<Api>) -> Result<Json<InfoJson>, ApiError> {
    let stats = api.cluster.stats().await?;
    let mut members = BTreeMap::new();
    for state in ["alive", "suspect", "faulty", "left"] {
        members.insert(state.to_owned(), 0);
    }
    for m in api.cluster.members().await? {
        *members.entry(m.state.to_string()).or_insert(0) += 1;
    }
    Ok(Json(InfoJson {
        name: api.name.clone(),
        addr: api.cluster.local_addr().to_string(),
        uptime_s: api.started.elapsed().as_secs_f64(),
        health_score: stats.health,
        probe_timeout_ms: stats.probe_timeout.as_secs_f64() * 1e3,
        members,
        keys: api.cluster.key_ids().await?.iter().map(|id| format!("{id:08x}")).collect(),
        counters: crate::json::counters(&stats),
    }))
}

async fn events(State(api): State<Api>) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let name = api.name.clone();
    let stream = api.cluster.events().filter_map(move |e| {
        let value = match e {
            Ok(e) => crate::json::event(&e, &name)?,
            Err(swim::RecvError::Lagged(n)) => serde_json::json!({"type": "lagged", "count": n}),
            Err(swim::RecvError::Closed) => return None,
        };
        Some(Ok(SseEvent::default().data(value.to_string())))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastBody {
    payload: String,
}

async fn broadcast(
    State(api): State<Api>,
    Json(body): Json<BroadcastBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let seq = api.cluster.broadcast(body.payload.into_bytes()).await?;
    Ok(Json(serde_json::json!({ "seq": seq })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryBody {
    name: String,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    nodes: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    timeout_ms: Option<u64>,
}

async fn query(State(api): State<Api>, Json(body): Json<QueryBody>) -> Result<Json<serde_json::Value>, ApiError> {
    let mut options = QueryOptions::new();
    for n in body.nodes {
        options = options.name(n);
    }
    for (k, v) in body.tags {
        options = options.tag(k, v);
    }
    if let Some(ms) = body.timeout_ms {
        if !(1..=600_000).contains(&ms) {
            return Err(bad("timeout_ms must be between 1 and 600000"));
        }
        options = options.timeout(Duration::from_millis(ms));
    }
    let mut responses = api.cluster.query(body.name.into_bytes(), body.payload.into_bytes(), options).await?;
    let (mut answers, mut acks) = (Vec::new(), Vec::new());
    while let Some(reply) = responses.next().await {
        match reply {
            QueryReply::Response { from, payload } => answers.push(serde_json::json!({
                "from": from.to_string(), "payload": String::from_utf8_lossy(&payload),
            })),
            QueryReply::Ack { from } => acks.push(from.to_string()),
        }
    }
    let summary = responses.summary();
    Ok(Json(serde_json::json!({
        "answers": answers,
        "acks": acks,
        "asked": summary.map(|s| s.asked),
        "answered": summary.map(|s| s.answered),
        "acked": summary.map(|s| s.acked),
    })))
}

fn key_list(ids: &[u32]) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": ids.iter().map(|id| format!("{id:08x}")).collect::<Vec<_>>() }))
}

fn parse_id(text: &str) -> Result<u32, ApiError> {
    u32::from_str_radix(text, 16).map_err(|_| bad(format!("`{text}` is not a key id (8 hex digits)")))
}

async fn keys(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(key_list(&api.cluster.key_ids().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    key: String,
}

async fn install_key(State(api): State<Api>, Json(body): Json<KeyBody>) -> Result<Json<serde_json::Value>, ApiError> {
    let key: SecretKey = body.key.trim().parse().map_err(|e| bad(format!("key: {e}")))?;
    Ok(key_list(&api.cluster.add_key(key).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdBody {
    id: String,
}

async fn use_key(State(api): State<Api>, Json(body): Json<IdBody>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(key_list(&api.cluster.use_key(parse_id(&body.id)?).await?))
}

async fn remove_key(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(key_list(&api.cluster.remove_key(parse_id(&id)?).await?))
}

async fn leave(State(api): State<Api>) -> Result<Json<serde_json::Value>, ApiError> {
    api.cluster.leave(Duration::from_secs(5)).await?;
    api.stop.notify_one();
    Ok(Json(serde_json::json!({ "left": true })))
}

/// The dashboard's files, built into the binary (no CDN, nothing fetched).
const DASHBOARD_HTML: &str = include_str!("dashboard/index.html");
const DASHBOARD_JS: &str = include_str!("dashboard/dashboard.js");
const PAGE_HEADERS: [(header::HeaderName, &str); 3] = [
    (header::CONTENT_SECURITY_POLICY, "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::CACHE_CONTROL, "no-store"),
];

async fn dashboard() -> impl IntoResponse {
    (PAGE_HEADERS, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], DASHBOARD_HTML)
}

async fn dashboard_js() -> impl IntoResponse {
    (PAGE_HEADERS, [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], DASHBOARD_JS)
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], api.metrics.render())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_hosts_pass() {
        for host in ["127.0.0.1:7947", "localhost:7947", "LOCALHOST", "[::1]:7947", "127.0.0.2:1"] {
            assert!(super::loopback_host(host), "{host}");
        }
        for host in ["evil.example:7947", "10.0.0.1:7947", "", "[::2]:1", "localhost.evil.example"] {
            assert!(!super::loopback_host(host), "{host}");
        }
    }
}
