//! Times and sizes as an agent reads them, in the browser's locale and time zone.

use chat_sync::Millis;

/// The offset of local time from UTC at `at`, in minutes east (JavaScript's
/// `getTimezoneOffset` is minutes west).
pub fn utc_offset_minutes(at: Millis) -> i32 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    -(date.get_timezone_offset() as i32)
}

/// "14:05" in the local time zone.
pub fn clock(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// "Today", "Yesterday" or "Mon 3 Nov 2026", for day dividers.
pub fn day(at: Millis, now: Millis) -> String {
    let offset = utc_offset_minutes(at);
    let that = chat_sync::timeline::local_day(at, offset);
    let today = chat_sync::timeline::local_day(now, offset);
    match today - that {
        0 => "Today".to_owned(),
        1 => "Yesterday".to_owned(),
        _ => {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
            String::from(date.to_date_string())
        }
    }
}

/// The time shown in the chat list: the clock today, else the date.
pub fn list_time(at: Millis, now: Millis) -> String {
    if at <= 0 {
        return String::new();
    }
    let offset = utc_offset_minutes(at);
    if chat_sync::timeline::local_day(at, offset) == chat_sync::timeline::local_day(now, offset) {
        clock(at)
    } else {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
        format!("{}/{}", date.get_date(), date.get_month() + 1)
    }
}

/// "12 KB", "3.4 MB" (shared with the settings panel's build).
pub use chat_sync::labels::bytes;

/// A CSS length in pixels for a layout offset: "120px", "-3.5px", "0.25px", to a hundredth
/// of a pixel (finer than a browser lays out), without formatting a float (see [`chat_sync::labels`]).
pub fn css_px(value: f64) -> String {
    let hundredths = (value * 100.0).round();
    // Offsets are far inside i64; a NaN or an infinity (never computed) lays out as 0.
    let hundredths = if hundredths.is_finite() {
        hundredths as i64
    } else {
        0
    };
    let sign = if hundredths < 0 { "-" } else { "" };
    let (whole, part) = (
        hundredths.unsigned_abs() / 100,
        hundredths.unsigned_abs() % 100,
    );
    match part {
        0 => format!("{sign}{whole}px"),
        part if part % 10 == 0 => format!("{sign}{whole}.{}px", part / 10),
        part => format!("{sign}{whole}.{part:02}px"),
    }
}

/// The full local date and time, for a timestamp's tooltip and `datetime`-like labels.
pub fn full(at: Millis) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}
