//! What the queue shows of a client's software: browser and operating system from the
//! User-Agent (through `woothee`, a maintained UA-parsing library with its own dataset), and
//! the preferred language from the entry or the `Accept-Language` header.

/// Browser and OS names for the queue, e.g. `("Chrome 120", "Windows 10")`. Unknown parts are
/// `None` rather than a made-up value.
pub fn browser_and_os(user_agent: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return (None, None);
    };
    let Some(r) = woothee::parser::Parser::new().parse(ua) else {
        return (None, None);
    };
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    let browser = known(r.name).then(|| {
        let major = r.version.split('.').next().unwrap_or("");
        if known(major) {
            format!("{} {}", r.name, major)
        } else {
            r.name.to_string()
        }
    });
    let os = known(r.os).then(|| {
        let v = r.os_version.as_ref();
        // woothee reports Windows versions inside the name ("Windows 10") and others apart.
        if known(v) && !r.os.contains(v) && !r.os.starts_with("Windows") {
            format!("{} {}", r.os, v)
        } else {
            r.os.to_string()
        }
    });
    (browser, os)
}

/// The client's language: what the entry says, else the first of `Accept-Language`, as a
/// lowercase primary tag with region (`cs`, `en-us`).
pub fn language(explicit: Option<&str>, accept_language: Option<&str>) -> Option<String> {
    if let Some(l) = explicit.map(str::trim).filter(|l| is_language_tag(l)) {
        return Some(l.to_ascii_lowercase());
    }
    let header = accept_language?;
    accept_language::parse(header)
        .into_iter()
        .find(|l| is_language_tag(l))
        .map(|l| l.to_ascii_lowercase())
}

fn is_language_tag(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 35
        && s != "*"
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    pub const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    pub const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

    #[test]
    fn real_browsers_are_recognised() {
        let (b, o) = browser_and_os(Some(CHROME_WIN));
        assert_eq!(b.as_deref(), Some("Chrome 120"));
        assert_eq!(o.as_deref(), Some("Windows 10"));
        let (b, o) = browser_and_os(Some(FIREFOX_LINUX));
        assert_eq!(b.as_deref(), Some("Firefox 121"));
        assert!(o.unwrap().contains("Linux"));
        let (b, o) = browser_and_os(Some(SAFARI_IOS));
        assert!(b.unwrap().starts_with("Safari"));
        assert!(o.unwrap().contains("iPhone"));
    }

    #[test]
    fn unknown_agents_give_nothing() {
        assert_eq!(browser_and_os(None), (None, None));
        assert_eq!(browser_and_os(Some("")), (None, None));
        assert_eq!(browser_and_os(Some("curl-ish/0")).0, None);
    }

    #[test]
    fn language_from_entry_then_header() {
        assert_eq!(language(Some("cs"), Some("en-US")).as_deref(), Some("cs"));
        assert_eq!(
            language(None, Some("en-US,en;q=0.9,cs;q=0.8")).as_deref(),
            Some("en-us")
        );
        assert_eq!(
            language(None, Some("cs;q=0.2, de;q=0.9")).as_deref(),
            Some("de")
        );
        assert_eq!(language(Some("<script>"), None), None);
        assert_eq!(language(None, None), None);
    }
}
