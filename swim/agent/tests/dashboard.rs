//! The dashboard in a real browser: three agents, the page in headless
//! Chromium (driven through ChromeDriver's WebDriver API), the members
//! alive on the page, one killed, and the page showing it faulty.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them and sets `SWIM_REQUIRE_BROWSER=1`, so that CI never skips it).
//! `SWIM_WRITE_SCREENSHOT=1` also writes the page to `docs/dashboard.png`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{eventually, http_json, start_agent, temp_dir};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// ChromeDriver, stopped when dropped.
struct Driver {
    child: std::process::Child,
    addr: String,
    session: Option<String>,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        // A free port, then ChromeDriver on it (it cannot report one it chose).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut driver = Driver { child, addr: format!("127.0.0.1:{port}"), session: None };
        eventually(Duration::from_secs(20), "ChromeDriver listening", || {
            std::net::TcpStream::connect(&driver.addr).is_ok()
        });
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,900", format!("--user-data-dir={}", profile.display()),
            ],
        }}}});
        let (code, body) = http_json(&driver.addr, "POST", "/session", Some(&capabilities));
        assert_eq!(code, 200, "{body}");
        let value: Value = serde_json::from_str(&body).unwrap();
        driver.session = Some(value["value"]["sessionId"].as_str().unwrap().to_owned());
        driver
    }

    fn call(&self, method: &str, what: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}/{what}", self.session.as_ref().unwrap());
        let (code, text) = http_json(&self.addr, method, &path, body);
        assert_eq!(code, 200, "{what}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["value"].take()
    }

    fn open(&self, url: &str) {
        self.call("POST", "url", Some(&json!({ "url": url })));
    }

    /// What the page shows: each member row's name and state.
    fn rows(&self) -> Vec<(String, String)> {
        let script = "return Array.from(document.querySelectorAll('tr[data-member]'))\
                      .map(r => [r.dataset.member, r.dataset.state]);";
        let value = self.call("POST", "execute/sync", Some(&json!({ "script": script, "args": [] })));
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_str().unwrap().to_owned()))
            .collect()
    }

    fn text(&self, selector: &str) -> String {
        let script = format!("return document.querySelector('{selector}').textContent;");
        self.call("POST", "execute/sync", Some(&json!({ "script": script, "args": [] }))).as_str().unwrap().to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = &self.session {
            let _ = std::net::TcpStream::connect(&self.addr)
                .map(|_| http_json(&self.addr, "DELETE", &format!("/session/{id}"), None));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_dashboard_shows_members_alive_and_a_killed_one_faulty() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("SWIM_REQUIRE_BROWSER").is_none(),
            "SWIM_REQUIRE_BROWSER is set, but {CHROMIUM} or {CHROMEDRIVER} is missing"
        );
        eprintln!(
            "SKIPPED: the dashboard test needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = temp_dir("dashboard");
    let token = dir.join("api.token");
    let secret = "dashboard-test-token-0123456789";
    std::fs::write(&token, format!("{secret}\n")).unwrap();
    let env: [(&str, &Path); 1] = [("SWIM_API_TOKEN_FILE", &token)];
    let n1 = start_agent("n1", &["--tag", "role=web"], &env);
    let n2 = start_agent("n2", &["--tag", "role=cache", "--join", &n1.addr], &env);
    let n3 = start_agent("n3", &["--tag", "role=cache", "--tag", "shard=7", "--join", &n1.addr], &env);

    let driver = Driver::start(&dir.join("profile"));
    driver.open(&format!("http://{}/#token={secret}", n1.api));
    let alive = |rows: &[(String, String)]| rows.iter().filter(|(_, s)| s == "alive").count();
    eventually(Duration::from_secs(30), "three members alive on the page", || alive(&driver.rows()) == 3);
    assert!(driver.text("#name").starts_with("n1"), "{}", driver.text("#name"));

    drop(n3);
    let started = Instant::now();
    eventually(Duration::from_secs(30), "n3 faulty on the page", || {
        driver.rows().contains(&("n3".to_owned(), "faulty".to_owned()))
    });
    let events = driver.text("#events");
    assert!(events.contains("n3 suspected") && events.contains("n3 faulty"), "{events}");
    eprintln!("dashboard: n3 shown faulty {:.1} s after the kill", started.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_secs(2)); // a few more chart samples for the picture

    let shot = driver.call("GET", "screenshot", None);
    let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join("dashboard.png"), &png).unwrap();
    if std::env::var_os("SWIM_WRITE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/dashboard.png");
        std::fs::write(docs, &png).unwrap();
    }
    drop(driver);
    drop((n1, n2));
    let _ = std::fs::remove_dir_all(&dir);
}
