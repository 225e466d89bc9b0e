//! A real headless Chromium, driven over the DevTools protocol, for the HTML report's tests.
//!
//! Debian's `chromium` (installed by `scripts/ensure-chromium.sh`, which `make test` runs; or the binary
//! named by `TCHINFO_CHROMIUM`) starts with a fresh profile and the flags that keep it off the network,
//! then one websocket carries commands and events: open a page, evaluate script in it, move and click
//! the mouse, take a screenshot, and collect every console message, exception and request it made.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TIMEOUT: Duration = Duration::from_secs(120);

/// The Chromium to run: `TCHINFO_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("TCHINFO_CHROMIUM") {
        return PathBuf::from(path);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromium"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "no chromium on the PATH: the HTML report is tested in a real browser. `make test` \
                 installs it (scripts/ensure-chromium.sh); or set TCHINFO_CHROMIUM to a Chromium binary"
            )
        })
}

pub struct Browser {
    child: Child,
    profile: PathBuf,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events not yet looked at, in arrival order.
    events: Vec<Value>,
}

impl Browser {
    pub fn launch() -> Browser {
        static LAUNCHED: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "tchinfo-chromium-{}-{}",
            std::process::id(),
            LAUNCHED.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a profile folder");
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // Without these Chromium keeps calling home, which a closed network answers with floods
                // of refused connections.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
                "--mute-audio",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        // Chromium prints the browser's websocket address on stderr; keep draining stderr afterwards so
        // a chatty browser never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("chromium printed no DevTools address within {TIMEOUT:?}");
            }
        };
        let (ws, _) = tungstenite::connect(url.as_str()).expect("the DevTools websocket opens");
        if let MaybeTlsStream::Plain(stream) = ws.get_ref() {
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        }
        Browser {
            child,
            profile,
            ws,
            next_id: 0,
            events: Vec::new(),
        }
    }

    fn read(&mut self) -> Value {
        loop {
            match self
                .ws
                .read()
                .expect("a DevTools message (or chromium went away)")
            {
                Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
                Message::Close(_) => panic!("chromium closed the DevTools connection"),
                _ => continue,
            }
        }
    }

    /// Sends a command (to a page when `session` is given) and returns its result; events that arrive
    /// meanwhile are kept.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .expect("a DevTools command is sent");
        loop {
            let reply = self.read();
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}");
                }
                return reply["result"].clone();
            }
            if reply.get("method").is_some() {
                self.events.push(reply);
            }
        }
    }

    /// Waits for an event of `session`, keeping the others.
    pub fn wait_event(&mut self, session: &str, method: &str) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(at) = self
                .events
                .iter()
                .position(|e| e["method"] == method && e["sessionId"] == session)
            {
                return self.events.remove(at);
            }
            assert!(Instant::now() < deadline, "no {method} within {TIMEOUT:?}");
            let event = self.read();
            if event.get("method").is_some() {
                self.events.push(event);
            }
        }
    }

    /// A new tab, `width`×`height` CSS pixels, watching its console, exceptions and requests.
    pub fn page(&mut self, width: u32, height: u32) -> Page<'_> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        let session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Page", "Runtime", "Log", "Network"] {
            self.call(Some(&session), &format!("{domain}.enable"), json!({}));
        }
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        Page {
            browser: self,
            session,
        }
    }
}

impl Drop for Browser {
    /// Asks Chromium to close (it then ends its own helper processes), kills it if it does not within
    /// seconds, and removes its profile, retrying while the last helpers finish writing to it.
    fn drop(&mut self) {
        let close = json!({"id": 0, "method": "Browser.close"}).to_string();
        let _ = self.ws.send(Message::text(close));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..50 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub struct Page<'a> {
    browser: &'a mut Browser,
    session: String,
}

/// The `file://` address of a local file.
pub fn file_url(path: &Path) -> String {
    let path = path.canonicalize().expect("the report file exists");
    let mut url = String::from("file://");
    for byte in path.to_str().expect("a UTF-8 path").bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                url.push(byte as char)
            }
            _ => url.push_str(&format!("%{byte:02X}")),
        }
    }
    url
}

impl Page<'_> {
    fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.browser.call(Some(&session), method, params)
    }

    /// Opens a report and waits until it says it is drawn (`data-ready` on the root element).
    pub fn open(&mut self, path: &Path) {
        self.call("Page.navigate", json!({"url": file_url(path)}));
        let session = self.session.clone();
        self.browser.wait_event(&session, "Page.loadEventFired");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let ready = self.eval("document.documentElement.getAttribute('data-ready')");
            match ready.as_str() {
                Some("1") => return,
                Some(other) => panic!(
                    "the report failed to draw ({other}): {:?}",
                    self.console_problems()
                ),
                None => {
                    assert!(Instant::now() < deadline, "the report never became ready");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value (JSON-serializable values only).
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("{expression} threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// The centre of the first element matching `selector`, scrolled into view, in viewport pixels.
    pub fn centre_of(&mut self, selector: &str) -> (f64, f64) {
        let sel = serde_json::to_string(selector).unwrap();
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        (at[0].as_f64().unwrap(), at[1].as_f64().unwrap())
    }

    pub fn mouse_move(&mut self, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        );
    }

    /// A real left click (press and release) at viewport pixels.
    pub fn click(&mut self, x: f64, y: f64) {
        self.mouse_move(x, y);
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    pub fn key(&mut self, key: &str) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key}),
            );
        }
    }

    /// A PNG of the page from its top, `height` CSS pixels tall, written to `path`.
    pub fn screenshot(&mut self, path: &Path, height: u32) {
        self.eval("window.scrollTo(0, 0)");
        let width = self.eval("document.documentElement.clientWidth");
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
        );
        let png = data_encoding::BASE64
            .decode(shot["data"].as_str().unwrap().as_bytes())
            .expect("base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// Every console message, uncaught exception and browser log entry (CSP violations among them) of
    /// this page so far. The report logs nothing, so any of them is a problem.
    pub fn console_problems(&mut self) -> Vec<String> {
        self.messages(|e| match e["method"].as_str() {
            Some("Runtime.consoleAPICalled") => Some(format!(
                "console.{}: {}",
                e["params"]["type"].as_str().unwrap_or("?"),
                e["params"]["args"]
            )),
            Some("Runtime.exceptionThrown") => {
                Some(format!("exception: {}", e["params"]["exceptionDetails"]))
            }
            Some("Log.entryAdded") => Some(format!(
                "{} {}: {}",
                e["params"]["entry"]["level"].as_str().unwrap_or("?"),
                e["params"]["entry"]["source"].as_str().unwrap_or("?"),
                e["params"]["entry"]["text"].as_str().unwrap_or("?")
            )),
            _ => None,
        })
    }

    /// The address of every request this page made so far.
    pub fn requests(&mut self) -> Vec<String> {
        self.messages(|e| {
            (e["method"] == "Network.requestWillBeSent").then(|| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string()
            })
        })
    }

    fn messages(&mut self, pick: impl Fn(&Value) -> Option<String>) -> Vec<String> {
        // A round trip first, so that events already sent have arrived.
        self.eval("0");
        let session = self.session.clone();
        self.browser
            .events
            .iter()
            .filter(|e| e["sessionId"] == session.as_str())
            .filter_map(pick)
            .collect()
    }
}
