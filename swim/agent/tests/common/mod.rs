//! What the agent's tests share: the binary, its processes (killed when
//! dropped), agents on loopback, bounded waits.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_swim-agent");

/// A child process, killed when dropped, whose stdout lines arrive on a
/// channel.
pub struct Proc {
    pub child: Child,
    pub lines: Receiver<String>,
}

impl Proc {
    pub fn spawn(args: &[&str], env: &[(&str, &Path)]) -> Proc {
        let mut command = Command::new(BIN);
        command.args(args).stdout(Stdio::piped()).stderr(Stdio::inherit()).env_remove("SWIM_KEY");
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Proc { child, lines }
    }

    /// The first line (within `within`) that `pick` accepts, mapped.
    pub fn wait_for<T>(&self, within: Duration, what: &str, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = pick(&line) {
                        return found;
                    }
                    seen.push(line);
                }
                Err(_) => break,
            }
        }
        panic!("no {what} within {within:?}; saw: {seen:#?}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running agent: its process, member address and API address.
pub struct Agent {
    pub proc: Proc,
    pub addr: String,
    pub api: String,
}

pub fn start_agent(name: &str, extra: &[&str], env: &[(&str, &Path)]) -> Agent {
    let mut args = vec!["agent", "--name", name, "--bind", "127.0.0.1:0", "--api", "127.0.0.1:0", "--preset", "local"];
    args.extend_from_slice(extra);
    let proc = Proc::spawn(&args, env);
    let addr = proc.wait_for(Duration::from_secs(20), "member line", |l| {
        l.strip_prefix("swim-agent: member ")
            .and_then(|rest| rest.split(" at ").nth(1))
            .map(|a| a.split(' ').next().unwrap().to_owned())
    });
    let api = proc.wait_for(Duration::from_secs(5), "api line", |l| {
        l.strip_prefix("swim-agent: api at http://").map(str::to_owned)
    });
    Agent { proc, addr, api }
}

/// Runs a client command to completion; its stdout, or a panic with its
/// stderr.
pub fn run(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = Command::new(BIN);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn members(api: &str, env: &[(&str, &Path)]) -> Vec<serde_json::Value> {
    serde_json::from_str(&run(&["members", "--api", api, "--json"], env)).unwrap()
}

pub fn states(api: &str, env: &[(&str, &Path)]) -> Vec<(String, String)> {
    members(api, env)
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["state"].as_str().unwrap().to_owned()))
        .collect()
}

/// Polls `check` every 100 ms for at most `within`.
pub fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not within {within:?}: {what}");
}

/// A plain HTTP/1.1 GET; the status line and the body.
pub fn http_get(api: &str, path: &str, token: Option<&str>) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(api).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {api}\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

pub fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("swim-agent-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An HTTP/1.1 request with a JSON body (or none); the status code and the
/// body.
pub fn http_json(addr: &str, method: &str, path: &str, body: Option<&serde_json::Value>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(ToString::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // Read up to the end of what the headers announce (the server may keep
    // the connection open), or to the end of the stream.
    let (mut bytes, mut buf) = (Vec::new(), [0u8; 16 * 1024]);
    loop {
        let n = stream.read(&mut buf).unwrap();
        bytes.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&bytes);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let lower = head.to_ascii_lowercase();
            let length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap());
            let chunked = lower.lines().any(|l| l.starts_with("transfer-encoding: chunked"));
            let complete = match length {
                Some(len) => body.len() >= len,
                None => chunked && body.ends_with("0\r\n\r\n"),
            };
            if complete || n == 0 {
                let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return (code, if chunked { dechunk(body) } else { body.to_owned() });
            }
        }
        assert!(n > 0, "the connection closed before the headers ended");
    }
}

/// The body of a chunked response.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
