//! A session's device as people name it ("Firefox on Windows"), read from the
//! `User-Agent` it opened with.
//!
//! A handful of substring rules rather than a user-agent database: the page
//! only needs to tell a person's devices apart, and the rules cover the
//! browsers and systems that make up nearly all traffic. Anything else is shown
//! by its first product token.

/// The browser and system `user_agent` names, e.g. "Safari on iPhone".
pub(super) fn describe(user_agent: Option<&str>) -> String {
    let Some(agent) = user_agent.map(str::trim).filter(|agent| !agent.is_empty()) else {
        return "Unknown device".to_owned();
    };
    let browser = browser(agent);
    match system(agent) {
        Some(system) => format!("{browser} on {system}"),
        None => browser,
    }
}

/// Ordered: Edge, Opera and Samsung Internet also say "Chrome", Chrome also says "Safari".
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("HeadlessChrome/", "Headless Chrome"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Ordered: iOS says "like Mac OS X", Android says "Linux".
const SYSTEMS: &[(&str, &str)] = &[
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// The longest product name shown for an agent no rule knows.
const MAX_PRODUCT_CHARS: usize = 40;

fn browser(agent: &str) -> String {
    if let Some((_, name)) = BROWSERS.iter().find(|(marker, _)| agent.contains(marker)) {
        return (*name).to_owned();
    }
    let product = agent.split(['/', ' ']).next().unwrap_or(agent);
    product.chars().filter(|c| !c.is_control()).take(MAX_PRODUCT_CHARS).collect()
}

fn system(agent: &str) -> Option<&'static str> {
    SYSTEMS.iter().find(|(marker, _)| agent.contains(marker)).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_agents_are_named_by_browser_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            ("curl/8.5.0", "curl"),
        ];
        for (agent, expected) in cases {
            assert_eq!(describe(Some(agent)), expected, "{agent}");
        }
    }

    #[test]
    fn a_missing_or_odd_agent_is_still_named_briefly() {
        assert_eq!(describe(None), "Unknown device");
        assert_eq!(describe(Some("  ")), "Unknown device");
        assert_eq!(describe(Some(&"x".repeat(300))).chars().count(), 40);
    }
}
