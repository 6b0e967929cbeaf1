//! Browser tests of the account page (`/account`): the service on the
//! in-memory stores, Debian's headless Chromium driven through chromedriver
//! (WebDriver, with fantoccini), one browser per device, screenshots of
//! every page, and an axe-core accessibility scan.
//!
//! What it needs, each named when missing: `CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`), `CHROMIUM` (default `/usr/bin/chromium`) and
//! `AXE_CORE` (default `crates/browser/node_modules/axe-core/axe.min.js`,
//! from `npm ci --prefix crates/browser`). `cargo xtask test` provides them.
//! Screenshots go to `SESAME_SCREENSHOTS` (default: `screenshots` in the
//! build directory); with `UPDATE_SCREENSHOTS=1` the ones the docs show are
//! also written to `docs/screenshots/`.

use std::{
    collections::HashMap,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element, wd::Capabilities};
use serde_json::{Value, json};
use sesame_factory::{Environment, Settings};
use sesame_web::Application;
use tokio::process::{Child, Command};

/// How long any page or element may take to appear.
const PATIENCE: Duration = Duration::from_secs(15);

/// The password every test user starts with.
pub const PASSWORD: &str = "correct horse battery staple";

/// A device: the user agent its browser sends, and its window's width.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    /// `User-Agent`.
    pub user_agent: &'static str,
    /// CSS pixels.
    pub width: u32,
}

/// The devices the tests use.
pub mod devices {
    use super::Device;

    /// A Windows laptop.
    pub const LAPTOP: Device = Device {
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        width: 1280,
    };
    /// An iPhone: a narrow window.
    pub const PHONE: Device = Device {
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        width: 390,
    };
}

/// The service on the in-memory stores, on a free loopback port, with
/// `vars` on top of the defaults.
pub async fn start_service(vars: &[(&str, &str)]) -> String {
    let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    map.insert("SESAME__HTTP__ADDR".into(), "127.0.0.1:0".into());
    let settings = Settings::from_vars(Environment::Mock, map).expect("valid settings");
    let clock = Arc::new(sesame_core::ports::SystemClock);
    let adapters = sesame_factory::build(&settings, clock).await.expect("the in-memory stores");
    let app = Application::build(&settings, adapters).await.expect("bind");
    let base = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    base
}

/// chromedriver on a free loopback port; stopped when dropped.
pub struct Driver {
    url: String,
    _process: Child,
}

impl Driver {
    /// Starts chromedriver and waits until it answers.
    pub async fn start() -> Self {
        let binary = required("CHROMEDRIVER", "/usr/bin/chromedriver", "apt-get install chromium chromium-driver");
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let process = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {} (CHROMEDRIVER): {err}", binary.display()));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { url, _process: process }
    }

    /// A new headless Chromium with a profile of its own, as `device`.
    pub async fn browser(&self, device: Device) -> Browser {
        self.open(device, true).await
    }

    /// A browser with JavaScript turned off.
    pub async fn browser_without_script(&self, device: Device) -> Browser {
        self.open(device, false).await
    }

    async fn open(&self, device: Device, script: bool) -> Browser {
        let chromium = required("CHROMIUM", "/usr/bin/chromium", "apt-get install chromium");
        let mut options = json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={},900", device.width), "--lang=en-US", "--force-device-scale-factor=1",
                format!("--user-agent={}", device.user_agent),
            ],
        });
        if !script {
            options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
        }
        let capabilities: Capabilities =
            serde_json::from_value(json!({"browserName": "chrome", "goog:chromeOptions": options})).expect("a map");
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|err| panic!("chromedriver could not start Chromium (CHROMIUM): {err}"));
        Browser { client, width: device.width }
    }
}

/// A binary from `variable`, or `default`; a missing one fails the test, saying how to get it.
fn required(variable: &str, default: &str, install: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(path.exists(), "{} does not exist: set {variable} to its path (or `{install}`)", path.display());
    path
}

/// One browser: one device, with its own cookies.
pub struct Browser {
    client: Client,
    width: u32,
}

impl Browser {
    /// Opens `url` and waits for its `<main>`.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|err| panic!("open {url}: {err}"));
        self.find("main").await;
    }

    /// The element `css` selects, waiting for it.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(err) => panic!("no `{css}` on {}: {err}", self.url().await),
        }
    }

    /// Every element `css` selects now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.expect("find_all")
    }

    /// Types `text` into the input `css` selects, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    /// Clicks the button `css` selects, and waits for the page it leads to,
    /// whose message (`#message`) contains `expected`.
    pub async fn press(&self, css: &str, expected: &str) {
        let button = self.find(css).await;
        button.click().await.unwrap_or_else(|err| panic!("click `{css}`: {err}"));
        self.wait_for_message(expected).await;
    }

    /// Waits until the page's message contains `expected`.
    pub async fn wait_for_message(&self, expected: &str) {
        let started = Instant::now();
        loop {
            let text = self.text("#message").await;
            if text.as_deref().is_some_and(|text| text.contains(expected)) {
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the message on {} is {text:?}, not one with {expected:?}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element `css` selects now, if there is one.
    pub async fn text(&self, css: &str) -> Option<String> {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.ok(),
            Err(_) => None,
        }
    }

    /// The page's address.
    pub async fn url(&self) -> String {
        self.client.current_url().await.map(|url| url.to_string()).unwrap_or_default()
    }

    /// Presses keys (WebDriver's key codes: `\u{E004}` is Tab, `\u{E007}` Enter)
    /// on whatever has the focus.
    pub async fn keys(&self, keys: &str) {
        let focused = self.client.active_element().await.expect("the focused element");
        focused.send_keys(keys).await.expect("keys");
    }

    /// The `id` of the element that has the focus.
    pub async fn focused_id(&self) -> String {
        let focused = self.client.active_element().await.expect("the focused element");
        focused.attr("id").await.expect("id").unwrap_or_default()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.unwrap_or_else(|err| panic!("script failed: {err}"))
    }

    /// Saves a screenshot of the whole page as `name.png` among the
    /// screenshots; with `UPDATE_SCREENSHOTS=1`, one the docs show
    /// (`for_docs`) is also written to `docs/screenshots/`.
    pub async fn screenshot(&self, name: &str, for_docs: bool) {
        // The window is the page's height plus the browser's own frame.
        let height = self
            .script("return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight + 16")
            .await
            .as_u64()
            .unwrap_or(900);
        self.client.set_window_size(self.width, u32::try_from(height.clamp(600, 4000)).unwrap_or(900)).await.ok();
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("the screenshots directory");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("screenshot written");
        if for_docs && std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
            std::fs::create_dir_all(&docs).expect("docs/screenshots");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("docs screenshot written");
        }
        self.client.set_window_size(self.width, 900).await.ok();
    }

    /// axe-core's serious and critical violations on the page, one line each.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = std::env::var_os("AXE_CORE").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js"),
            PathBuf::from,
        );
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|err| {
            panic!(
                "cannot read axe-core at {} ({err}): set AXE_CORE, or `npm ci --prefix crates/browser`",
                axe.display()
            )
        });
        self.script(&source).await;
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ['violations'] }).then((results) => done(results.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map((n) => n.target.join(' ')).join(', '))));";
        let found = self.client.execute_async(run, Vec::new()).await.expect("axe.run");
        found.as_array().expect("a list").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    }

    /// Ends the browser.
    pub async fn close(self) {
        self.client.close().await.ok();
    }
}

/// Where screenshots are saved.
pub fn screenshots_dir() -> PathBuf {
    std::env::var_os("SESAME_SCREENSHOTS").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"), PathBuf::from);
            target.join("screenshots")
        },
        PathBuf::from,
    )
}
