//! Times as an operator reads them: how long a client has waited (`4:07`, `1:02:09`) and when
//! something happened, in the operator's language.

use wasm_bindgen::JsValue;

use crate::i18n::Lang;

/// A waiting time from milliseconds; never negative (the browser's clock may be behind).
pub fn waited(ms: f64) -> String {
    let s = if ms.is_finite() && ms > 0.0 {
        (ms / 1000.0) as u64
    } else {
        0
    };
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// A server time (RFC 3339) as a local date and time; today's as time only.
pub fn when(rfc3339: &str, lang: Lang) -> String {
    let ms = js_sys::Date::parse(rfc3339);
    if !ms.is_finite() {
        return rfc3339.to_string();
    }
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let today = js_sys::Date::new_0();
    let same_day = date.get_full_year() == today.get_full_year()
        && date.get_month() == today.get_month()
        && date.get_date() == today.get_date();
    let opts = js_sys::Object::new();
    let set = |k: &str, v: &str| {
        let _ = js_sys::Reflect::set(&opts, &k.into(), &v.into());
    };
    set("hour", "2-digit");
    set("minute", "2-digit");
    if !same_day {
        set("day", "numeric");
        set("month", "numeric");
        set("year", "numeric");
    }
    String::from(date.to_locale_string(lang.code(), &opts))
}

/// Now as RFC 3339 (for a message this app just sent, until the server's copy replaces it).
pub fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn waiting_times() {
        assert_eq!(super::waited(0.0), "0:00");
        assert_eq!(super::waited(-5000.0), "0:00");
        assert_eq!(super::waited(247_000.0), "4:07");
        assert_eq!(super::waited(3_729_000.0), "1:02:09");
    }
}
