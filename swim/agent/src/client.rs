//! The commands that ask a running agent, through its local HTTP API.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;

use crate::cli::{BroadcastArgs, ClientArgs, KeysAction, KeysArgs, MembersArgs, MonitorArgs, QueryArgs};
use crate::json::{InfoJson, MemberJson};

/// One connection to the agent's API.
struct Client {
    api: String,
    token: Option<String>,
}

impl Client {
    fn new(args: &ClientArgs) -> Result<Self, String> {
        let token = match &args.token_file {
            Some(path) => Some(read_token(path)?),
            None => std::env::var("SWIM_API_TOKEN").ok(),
        };
        Ok(Client { api: args.api.trim_start_matches("http://").trim_end_matches('/').to_owned(), token })
    }

    /// Sends a request; the response's status and body stream.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        let unreachable = |e: &dyn std::fmt::Display| format!("the agent's API at {} ({e}): is it running?", self.api);
        let stream = tokio::net::TcpStream::connect(&self.api).await.map_err(|e| unreachable(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
        tokio::spawn(connection);
        let mut request = Request::builder().method(method).uri(path).header(header::HOST, &self.api);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(json.to_string())
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body)).map_err(|e| format!("request: {e}"))?;
        sender.send_request(request).await.map_err(|e| unreachable(&e))
    }

    /// A request whose answer is one JSON document; an error status gives
    /// the API's `error` text.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| format!("reading the answer: {e}"))?.to_bytes();
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("the agent answered {status} with no JSON ({e})"))?;
        if status != StatusCode::OK {
            let text = value.get("error").and_then(|e| e.as_str()).unwrap_or("no reason given");
            return Err(format!("the agent refused ({status}): {text}"));
        }
        Ok(value)
    }
}

fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {}: {e}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("an answer of an unexpected shape: {e}"))
}

/// What a peer sent, made safe for a terminal: control characters and the
/// marks that reorder or hide text are shown escaped, never interpreted.
pub(crate) fn shown(text: &str) -> String {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    text.chars().flat_map(|c| if hidden(c) { c.escape_unicode().collect() } else { vec![c] }).collect()
}

fn print_json(value: &serde_json::Value) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(value).map_err(|e| e.to_string())?);
    Ok(())
}

pub(crate) async fn members(args: &MembersArgs) -> Result<(), String> {
    let client = Client::new(&args.client)?;
    let mut path = String::from("/v1/members");
    let mut query = Vec::new();
    if let Some(state) = &args.state {
        query.push(format!("state={}", encode(state)));
    }
    if !args.tags.is_empty() {
        let tags: Vec<String> = args.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        query.push(format!("tag={}", encode(&tags.join(","))));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let value = client.call(Method::GET, &path, None).await?;
    if args.client.json {
        return print_json(&value);
    }
    let members: Vec<MemberJson> = from_json(value)?;
    let rows: Vec<[String; 5]> = members
        .iter()
        .map(|m| {
            let tags: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let rtt = m.rtt_ms.map_or_else(|| "-".into(), |ms| format!("{ms:.2}ms"));
            let name = if m.local { format!("{} (this)", m.name) } else { m.name.clone() };
            [shown(&name), m.addrs.first().cloned().unwrap_or_default(), m.state.clone(), rtt, shown(&tags.join(" "))]
        })
        .collect();
    print_table(&["NAME", "ADDRESS", "STATE", "RTT", "TAGS"], &rows);
    Ok(())
}

/// Percent-encodes what a query string cannot hold as is.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) {
    let mut widths = head.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", line(head.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

pub(crate) async fn monitor(args: &MonitorArgs) -> Result<(), String> {
    let client = Client::new(&args.client)?;
    let response = client.send(Method::GET, "/v1/events", None).await?;
    if response.status() != StatusCode::OK {
        return Err(format!("the agent refused ({})", response.status()));
    }
    let mut body = response.into_body();
    let mut pending = String::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the event stream broke: {e}"))?;
        let Ok(data) = frame.into_data() else { continue };
        pending.push_str(&String::from_utf8_lossy(&data));
        // Server-sent events: `data: <json>` lines, events split by a blank line.
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            for line in block.lines().filter_map(|l| l.strip_prefix("data: ")) {
                let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else { continue };
                if args.client.json {
                    println!("{value}");
                } else {
                    println!("{}", describe(&value));
                }
                let _ = std::io::stdout().flush();
            }
        }
    }
    Ok(())
}

/// An event in one line of text.
pub(crate) fn describe(e: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value, k: &str| shown(v.get(k).and_then(|x| x.as_str()).unwrap_or("?"));
    let member = e.get("member").map(|m| s(m, "name")).unwrap_or_default();
    let kind = e.get("type").and_then(|t| t.as_str()).unwrap_or("?");
    match kind {
        "member-joined" => {
            let addr = e.pointer("/member/addrs/0").and_then(|a| a.as_str()).unwrap_or("?");
            format!("+ {member} joined at {}", shown(addr))
        }
        "member-updated" => match e.get("changed_tags").and_then(|t| t.as_array()).filter(|t| !t.is_empty()) {
            Some(changes) => {
                let changes: Vec<String> = changes.iter().map(|c| shown(c.as_str().unwrap_or("?"))).collect();
                format!("~ {member} tags changed: {}", changes.join(", "))
            }
            None => format!("~ {member} updated"),
        },
        "member-suspected" => format!("? {member} suspected by {}", s(e, "by")),
        "member-recovered" => format!("! {member} recovered"),
        "member-faulty" => format!("x {member} faulty, declared by {}", s(e, "by")),
        "member-left" => format!("- {member} left"),
        "broadcast" => format!("* broadcast from {}: {}", s(e, "origin"), s(e, "payload")),
        "message" => format!("> message from {}: {}", s(e, "from"), s(e, "payload")),
        "query" => format!("? query {} from {}: {}", s(e, "name"), s(e, "from"), s(e, "payload")),
        "refuted" => {
            format!("! refuted a suspicion (incarnation {})", e.get("incarnation").unwrap_or(&serde_json::Value::Null))
        }
        "missed" => format!(
            "! {} events lost (more in one step than the event capacity)",
            e.get("count").unwrap_or(&serde_json::Value::Null)
        ),
        "join-succeeded" => format!("joined through {}", s(e, "seed")),
        "join-failed" => format!("join failed: {}", s(e, "reason")),
        "name-conflict" => format!("! name {} also claimed by {}", s(e, "name"), s(e, "claimed")),
        "not-admitted" => format!("! {} not admitted (from {})", s(e, "name"), s(e, "addr")),
        _ => format!("{kind} {}", shown(&e.to_string())),
    }
}

pub(crate) async fn info(args: &ClientArgs) -> Result<(), String> {
    let value = Client::new(args)?.call(Method::GET, "/v1/info", None).await?;
    if args.json {
        return print_json(&value);
    }
    let info: InfoJson = from_json(value)?;
    println!("member:        {} at {}", shown(&info.name), info.addr);
    println!("uptime:        {:.0} s", info.uptime_s);
    println!("health score:  {} (0 is healthy)", info.health_score);
    println!("probe timeout: {:.0} ms", info.probe_timeout_ms);
    let counts: Vec<String> = info.members.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("members:       {}", counts.join(", "));
    println!("keys:          {}", if info.keys.is_empty() { "none".into() } else { info.keys.join(" ") });
    for (k, v) in &info.counters {
        println!("  {k:<22} {v}");
    }
    Ok(())
}

pub(crate) async fn broadcast(args: &BroadcastArgs) -> Result<(), String> {
    let body = serde_json::json!({ "payload": args.payload });
    let value = Client::new(&args.client)?.call(Method::POST, "/v1/broadcast", Some(body)).await?;
    if args.client.json {
        return print_json(&value);
    }
    println!("broadcast {}", value.get("seq").unwrap_or(&serde_json::Value::Null));
    Ok(())
}

pub(crate) async fn query(args: &QueryArgs) -> Result<(), String> {
    let tags: serde_json::Map<String, serde_json::Value> =
        args.tags.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect();
    let body = serde_json::json!({
        "name": args.name, "payload": args.payload, "nodes": args.nodes, "tags": tags, "timeout_ms": args.timeout_ms,
    });
    let value = Client::new(&args.client)?.call(Method::POST, "/v1/query", Some(body)).await?;
    if args.client.json {
        return print_json(&value);
    }
    for answer in value.get("answers").and_then(|a| a.as_array()).into_iter().flatten() {
        let s = |k: &str| shown(answer.get(k).and_then(|x| x.as_str()).unwrap_or("?"));
        println!("{}: {}", s("from"), s("payload"));
    }
    let n = |k: &str| value.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    println!("{} asked, {} answered, {} acknowledged", n("asked"), n("answered"), n("acked"));
    Ok(())
}

pub(crate) async fn keys(args: &KeysArgs) -> Result<(), String> {
    let client = Client::new(&args.client)?;
    let value = match &args.action {
        KeysAction::List => client.call(Method::GET, "/v1/keys", None).await?,
        KeysAction::Install { key_file } => {
            let keys = crate::settings::read_keys(key_file)?;
            let Some(key) = keys.first() else { return Err("no key in the file".into()) };
            let body = serde_json::json!({ "key": key.to_hex() });
            client.call(Method::POST, "/v1/keys", Some(body)).await?
        }
        KeysAction::Use { id } => {
            client.call(Method::POST, "/v1/keys/use", Some(serde_json::json!({ "id": id }))).await?
        }
        KeysAction::Remove { id } => client.call(Method::DELETE, &format!("/v1/keys/{}", encode(id)), None).await?,
    };
    if args.client.json {
        return print_json(&value);
    }
    let ids: Vec<&str> =
        value.get("keys").and_then(|k| k.as_array()).into_iter().flatten().filter_map(|k| k.as_str()).collect();
    println!("keys: {} (the first encrypts)", ids.join(" "));
    Ok(())
}

pub(crate) async fn leave(args: &ClientArgs) -> Result<(), String> {
    let value = Client::new(args)?.call(Method::POST, "/v1/leave", None).await?;
    if args.json {
        return print_json(&value);
    }
    println!("left");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_peers_send_cannot_drive_the_terminal() {
        assert_eq!(shown("web-1"), "web-1");
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("x\u{202e}y"), "x\\u{202e}y");
    }

    #[test]
    fn query_strings_are_encoded() {
        assert_eq!(encode("role=web,zone=eu"), "role%3Dweb,zone%3Deu");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
