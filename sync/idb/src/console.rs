//! The browser builds' log: `log_error!`, `log_warn!`, `log_info!` and `log_debug!` write
//! one line to the browser console (window and workers), so the logs reach DevTools.
//!
//! The macros take `tracing`'s event syntax (`chat = %id, ?range, count = n, "what
//! happened"`), which is what the code used before, but expand to one `format_args!` per
//! value and one call of [`emit`], a single non-generic function. `tracing` registered a
//! call site, a field set and a value set at every log line, and its visitor pulled in the
//! formatting of every primitive type (floats included): 4 % of each wasm file for what is
//! only ever a console line here.
//!
//! As `tracing`'s `release_max_level_warn` did, release builds compile `log_info!` and
//! `log_debug!` out: an agent's console keeps the warnings and errors, and the shipped code
//! carries no text or formatting of the chatty lines.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// How severe a line is; a context logs the lines at or above the level [`init`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed and was not recovered.
    Error = 1,
    /// Something failed and was worked around, or input was refused.
    Warn = 2,
    /// A notable step (debug builds only).
    Info = 3,
    /// Detail for a developer (debug builds only).
    Debug = 4,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    /// Whether lines of this level exist in this build at all: release builds keep warnings
    /// and errors only. Constant for each call site, so the compiler drops the others.
    #[doc(hidden)]
    pub const fn compiled_in(self) -> bool {
        cfg!(debug_assertions) || (self as u8) <= (Level::Warn as u8)
    }
}

/// The most detailed level written; 0 until [`init`]: nothing is written before a context
/// asks for its log.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);

/// Writes lines up to `max_level` to the console from now on. Only the first call in a
/// context takes effect; later calls return `false` (as `tracing`'s global default did, so a
/// test harness and the code under test cannot fight over it).
pub fn init(max_level: Level) -> bool {
    MAX_LEVEL
        .compare_exchange(0, max_level as u8, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// Whether a line of `level` is written now.
#[doc(hidden)]
pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Writes one line: `LEVEL target: message key=value …`. A field named `message` stands in
/// for the message, as in `tracing`.
#[doc(hidden)]
pub fn emit(
    level: Level,
    target: &str,
    message: fmt::Arguments<'_>,
    fields: &[(&str, fmt::Arguments<'_>)],
) {
    let text = line(level, target, message, fields);
    let text = wasm_bindgen::JsValue::from_str(&text);
    match level {
        Level::Error => web_sys::console::error_1(&text),
        Level::Warn => web_sys::console::warn_1(&text),
        Level::Info => web_sys::console::info_1(&text),
        Level::Debug => web_sys::console::debug_1(&text),
    }
}

/// The text of a line, apart from writing it (the in-browser suites test it).
#[doc(hidden)]
pub fn line(
    level: Level,
    target: &str,
    message: fmt::Arguments<'_>,
    fields: &[(&str, fmt::Arguments<'_>)],
) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(96);
    let _ = write!(text, "{} {target}:", level.label());
    let message = message.to_string();
    if !message.is_empty() {
        text.push(' ');
        text.push_str(&message);
    }
    for (name, value) in fields {
        if *name == "message" {
            let _ = write!(text, " {value}");
        } else {
            let _ = write!(text, " {name}={value}");
        }
    }
    text
}

/// Logs a line at `$level`; the level macros below call it. Fields come first (`%x` and
/// `k = %v` shown with `Display`, `?x` and `k = ?v` with `Debug`, `x` and `k = v` with
/// `Display`), then the message and its arguments.
#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($level:expr; $($rest:tt)*) => {
        if $crate::console::Level::compiled_in($level) && $crate::console::enabled($level) {
            $crate::__log!(@fields $level; []; $($rest)*)
        }
    };
    (@fields $level:expr; [$($acc:tt)*]; % $k:ident , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{}", $k)),]; $($rest)*)
    };
    (@fields $level:expr; [$($acc:tt)*]; ? $k:ident , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{:?}", $k)),]; $($rest)*)
    };
    (@fields $level:expr; [$($acc:tt)*]; $k:ident = % $v:expr , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{}", $v)),]; $($rest)*)
    };
    (@fields $level:expr; [$($acc:tt)*]; $k:ident = ? $v:expr , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{:?}", $v)),]; $($rest)*)
    };
    (@fields $level:expr; [$($acc:tt)*]; $k:ident = $v:expr , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{}", $v)),]; $($rest)*)
    };
    (@fields $level:expr; [$($acc:tt)*]; $k:ident , $($rest:tt)*) => {
        $crate::__log!(@fields $level; [$($acc)* (stringify!($k), format_args!("{}", $k)),]; $($rest)*)
    };
    // The message, with or without arguments.
    (@fields $level:expr; [$($acc:tt)*]; $message:literal $(, $arg:expr)* $(,)?) => {
        $crate::console::emit($level, module_path!(), format_args!($message $(, $arg)*), &[$($acc)*])
    };
    // Fields only: the last one has no comma after it.
    (@fields $level:expr; [$($acc:tt)*]; $($last:tt)+) => {
        $crate::__log!(@fields $level; [$($acc)*]; $($last)+, "")
    };
}

/// Logs an error: something failed and was not recovered.
#[macro_export]
macro_rules! log_error {
    ($($rest:tt)*) => { $crate::__log!($crate::console::Level::Error; $($rest)*) };
}

/// Logs a warning: something failed and was worked around, or input was refused.
#[macro_export]
macro_rules! log_warn {
    ($($rest:tt)*) => { $crate::__log!($crate::console::Level::Warn; $($rest)*) };
}

/// Logs a notable step; compiled out of release builds.
#[macro_export]
macro_rules! log_info {
    ($($rest:tt)*) => { $crate::__log!($crate::console::Level::Info; $($rest)*) };
}

/// Logs detail for a developer; compiled out of release builds.
#[macro_export]
macro_rules! log_debug {
    ($($rest:tt)*) => { $crate::__log!($crate::console::Level::Debug; $($rest)*) };
}
