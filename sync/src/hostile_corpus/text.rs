//! Hostile text: message bodies, sender names and attachment names.
//!
//! Every markup payload tries to execute: it sets `window.__pwned` (or `parent.__pwned`
//! from a frame) to its own name, or opens a dialog. A view that keeps text as text shows
//! each one literally and runs none of them.

use super::Hostile;
use crate::protocol::MAX_BODY_LEN;

/// Markup, script, URLs and template syntax that execute if a view ever parses a body as
/// HTML, builds an attribute or a link from it unescaped, or evaluates it as a template.
/// Every one is a valid body the server stores and the client keeps byte-exact.
pub fn markup() -> Vec<Hostile> {
    vec![
        Hostile::new(
            "script",
            "<script>window.__pwned='script';alert('script')</script>",
        ),
        Hostile::new("script-src", "<SCRIPT SRC=//evil.invalid/x.js></SCRIPT>"),
        Hostile::new(
            "img-onerror",
            r#"<img src=x onerror="window.__pwned='img';alert(1)">"#,
        ),
        Hostile::new("svg-onload", r#"<svg onload="window.__pwned='svg'">"#),
        Hostile::new(
            "svg-script",
            "<svg><script>window.__pwned='svg-script'</script></svg>",
        ),
        Hostile::new(
            "iframe-srcdoc",
            r#"<iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe>"#,
        ),
        Hostile::new("javascript-url", "javascript:window.__pwned='js-url'"),
        Hostile::new(
            "anchor-javascript",
            r#"<a href="javascript:window.__pwned='anchor'">click me</a>"#,
        ),
        Hostile::new(
            "attribute-breakout",
            r#""><img src=x onerror=window.__pwned='breakout'>"#,
        ),
        Hostile::new(
            "single-quote-breakout",
            "'><svg onload=window.__pwned='sq'>",
        ),
        Hostile::new(
            "template-literal",
            "${window.__pwned='template'} `${alert('template')}`",
        ),
        Hostile::new(
            "leptos-braces",
            "{move || { window.__pwned = \"leptos\" }} {{window.__pwned}} {__pwned}",
        ),
        Hostile::new(
            "comment-cdata",
            "<!--<script>window.__pwned='comment'</script>--><![CDATA[<script>x</script>]]>",
        ),
        Hostile::new(
            "style",
            "<style>body{background:url(\"javascript:window.__pwned='css'\")}</style>",
        ),
        Hostile::new(
            "details-ontoggle",
            r#"<details open ontoggle="window.__pwned='details'"><summary>x</summary></details>"#,
        ),
        Hostile::new(
            "autofocus-onfocus",
            r#"<input autofocus onfocus="window.__pwned='focus'">"#,
        ),
        Hostile::new(
            "meta-refresh",
            r#"<meta http-equiv="refresh" content="0;url=javascript:window.__pwned='meta'">"#,
        ),
        Hostile::new(
            "data-url",
            "data:text/html,<script>window.__pwned='data'</script>",
        ),
        Hostile::new(
            "link-quote-breakout",
            r#"see https://example.com/"onmouseover="window.__pwned='link' now"#,
        ),
        Hostile::new(
            "link-then-markup",
            "https://example.com/<script>window.__pwned='link2'</script>",
        ),
        Hostile::new(
            "link-userinfo-javascript",
            "https://javascript:window.__pwned=1@example.com/ok",
        ),
        Hostile::new(
            "entities",
            "&lt;script&gt;window.__pwned='entity'&lt;/script&gt; &amp;amp; &#60;b&#62;",
        ),
        Hostile::new(
            "closing-tags",
            "</div></main></body><script>window.__pwned='close'</script>",
        ),
        Hostile::new(
            "json-breakout",
            r#""}]}<script>window.__pwned='json'</script>"#,
        ),
        Hostile::new(
            "sse-framing",
            "line\n\ndata: {\"seq\":1}\nevent: message\nid: 999\n\n",
        ),
        Hostile::new(
            "prototype-keys",
            r#"{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}"#,
        ),
        Hostile::new("sql", "'; DROP TABLE messages; --"),
        Hostile::new("format-strings", "%s%s%n {0} {} %x"),
    ]
}

/// Unicode that is valid text but tricky to show, compare or measure: bidi overrides,
/// zero-width characters, ZWJ emoji, combining marks, JavaScript's line terminators,
/// noncharacters, a leading byte-order mark, long runs without a break.
pub fn unicode() -> Vec<Hostile> {
    vec![
        Hostile::new("rtl-override", "invoice\u{202E}fdp.exe\u{202C} attached"),
        Hostile::new(
            "zero-width",
            "a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}f",
        ),
        Hostile::new(
            "zwj-emoji",
            "👨\u{200D}👩\u{200D}👧\u{200D}👦 🏳\u{FE0F}\u{200D}🌈 👍🏽",
        ),
        Hostile::new(
            "combining-marks",
            "Z\u{0337}\u{0322}\u{031B}a\u{0335}l\u{0338}g\u{0336}o\u{0334}\u{0300}\u{0301}\u{0302}",
        ),
        Hostile::new("js-line-terminators", "a\u{2028}b\u{2029}c"),
        Hostile::new("byte-order-mark", "\u{FEFF}starts with a byte-order mark"),
        Hostile::new(
            "astral-and-noncharacters",
            "𝕳𝖊𝖑𝖑𝖔 𐍈 \u{FFFE}\u{FFFF}\u{10FFFF}",
        ),
        Hostile::new("replacement-char", "\u{FFFD}\u{FFFD} looks lossy, is not"),
        Hostile::new("bidi-mix", "مرحبا hello שלום 123"),
        Hostile::new("multi-line", "line 1\nline 2\r\n\tindented\rcarriage"),
        Hostile::new("padded", "   leading and trailing spaces   "),
        Hostile::new("long-word", "W".repeat(10_000)),
        Hostile::new(
            "many-lines",
            (0..1_000).map(|i| format!("{i}\n")).collect::<String>(),
        ),
        Hostile::new("surrogate-pair", "😀 is one char, two UTF-16 units"),
    ]
}

/// Bodies that are empty or only whitespace: no message on their own (the server refuses
/// them without an attachment), valid text beside one. A zero-width space is not
/// whitespace: it is a body.
pub fn blank() -> Vec<Hostile> {
    vec![
        Hostile::new("empty", ""),
        Hostile::new("space", " "),
        Hostile::new("mixed-whitespace", "\n\t \r\n"),
        Hostile::new("ideographic-space", "\u{3000}"),
        Hostile::new("no-break-space", "\u{00A0}"),
    ]
}

/// Bodies with control characters other than tab, line feed and carriage return: NUL (which
/// PostgreSQL's `text` cannot hold), bell, terminal escapes, DEL and a C1 control. The
/// server refuses them with `400 bad_request`; a client that receives one keeps it as data.
pub fn control() -> Vec<Hostile> {
    vec![
        Hostile::new("nul", "\0"),
        Hostile::new("nul-inside", "before\0after"),
        Hostile::new("nul-in-tag", "<scr\0ipt>window.__pwned='nul'</script>"),
        Hostile::new("bell", "\u{7}ding"),
        Hostile::new("ansi-escape", "\u{1b}[31mred\u{1b}[0m \u{1b}]0;title\u{7}"),
        Hostile::new("delete", "del\u{7f}"),
        Hostile::new("c1-next-line", "next\u{85}line"),
    ]
}

/// A body of exactly [`MAX_BODY_LEN`] bytes that ends in a four-byte character (so a limit
/// counted in UTF-16 units or characters would differ), starting with markup.
pub fn body_at_limit() -> String {
    let head = "<script>window.__pwned='big'</script>";
    let tail = "😀";
    let mut body = String::with_capacity(MAX_BODY_LEN);
    body.push_str(head);
    body.extend(std::iter::repeat_n(
        'x',
        MAX_BODY_LEN - head.len() - tail.len(),
    ));
    body.push_str(tail);
    body
}

/// A body one byte over [`MAX_BODY_LEN`].
pub fn body_over_limit() -> String {
    let mut body = body_at_limit();
    body.push('!');
    body
}

/// Attachment names the server accepts (no slash, backslash or control character, at most
/// 255 bytes): each one markup or a trick, kept as the file's name.
pub fn attachment_names() -> Vec<Hostile> {
    vec![
        Hostile::new(
            "img-onerror",
            "<img src=x onerror=window.__pwned='att'>.png",
        ),
        Hostile::new("breakout", r#""><svg onload=window.__pwned='att2'>.txt"#),
        Hostile::new("javascript", "javascript:window.__pwned='att3'.txt"),
        Hostile::new("rtl-override", "report\u{202E}fdp.exe"),
        Hostile::new("template", "${window.__pwned='att4'}{{x}}.txt"),
        Hostile::new("zwj-emoji", "👨\u{200D}👩\u{200D}👧.txt"),
        Hostile::new("quotes", r#"it's "quoted" & <b>bold<b>.txt"#),
        Hostile::new("longest", format!("{}.txt", "n".repeat(251))),
    ]
}

/// Attachment names the server refuses with `400 bad_request`: empty, too long, a path, a
/// closing tag (its slash), a control character.
pub fn refused_attachment_names() -> Vec<Hostile> {
    vec![
        Hostile::new("empty", ""),
        Hostile::new("blank", "   "),
        Hostile::new("too-long", format!("{}.txt", "n".repeat(252))),
        Hostile::new("path", "../../etc/passwd"),
        Hostile::new("backslash", "..\\windows\\win.ini"),
        Hostile::new("script", "<script>window.__pwned='att5'</script>"),
        Hostile::new("nul", "a\0b.txt"),
        Hostile::new("newline", "a\nb.txt"),
    ]
}

/// Every body the server stores and the client must keep byte-exact.
pub fn stored_bodies() -> Vec<Hostile> {
    let mut all = markup();
    all.extend(unicode());
    all.push(Hostile::new("at-limit", body_at_limit()));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_at_the_limit_is_exactly_the_limit_and_the_next_is_over() {
        assert_eq!(body_at_limit().len(), MAX_BODY_LEN);
        assert!(body_at_limit().ends_with('😀'));
        assert_eq!(body_over_limit().len(), MAX_BODY_LEN + 1);
    }

    #[test]
    fn the_categories_mean_what_they_say() {
        for body in stored_bodies() {
            assert!(!body.text.trim().is_empty(), "{}", body.name);
            assert!(
                !body
                    .text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')),
                "{} has a control character",
                body.name
            );
        }
        for body in blank() {
            assert!(body.text.trim().is_empty(), "{}", body.name);
        }
        for body in control() {
            assert!(body.text.chars().any(char::is_control), "{}", body.name);
        }
        for name in attachment_names() {
            assert!(name.text.len() <= 255, "{}", name.name);
            assert!(!name.text.contains(['/', '\\']), "{}", name.name);
        }
        assert_eq!(
            refused_attachment_names()
                .iter()
                .find(|n| n.name == "too-long")
                .map(|n| n.text.len()),
            Some(256)
        );
    }
}
