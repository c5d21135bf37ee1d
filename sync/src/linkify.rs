//! Splits a message body into plain text and web links, so the view can make links
//! clickable while every other character stays text (message bodies are never HTML).
//!
//! Only `http://` and `https://` URLs become links: a `javascript:` or `data:` "link" in a
//! body stays inert text.
//!
//! A link must not look like somewhere it does not go, since a requester writes it and an
//! agent clicks it:
//! - it ends at any character that reorders or hides text ([`is_invisible_or_reordering`]:
//!   bidi overrides and isolates, zero-width characters, controls), so
//!   `https://example.com/\u{202E}fdp.exe`, shown as `…/exe.pdf`, links only
//!   `https://example.com/`;
//! - a URL with user info (`https://bank.example@evil.example/`, which goes to
//!   `evil.example`) stays text.
//!
//! The view shows each link as the browser's own parse of it (`URL.href`: the host in
//! punycode, so a look-alike Cyrillic host reads `xn--…`).

/// A piece of a message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text shown as it is.
    Text(&'a str),
    /// An `http(s)` URL shown as a link.
    Link(&'a str),
}

/// The body split into text and links, in order; concatenated they are the body again.
pub fn pieces(body: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = find_scheme(rest) {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| {
                c.is_whitespace()
                    || matches!(c, '<' | '>' | '"' | '`')
                    || is_invisible_or_reordering(c)
            })
            .unwrap_or(candidate.len());
        // Sentence punctuation right after a URL belongs to the sentence.
        let url = candidate[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'']);
        let scheme_len = if url.starts_with("https://") { 8 } else { 7 };
        if url.len() <= scheme_len || has_user_info(&url[scheme_len..]) {
            out.push(Piece::Text(&rest[..start + scheme_len]));
            rest = &rest[start + scheme_len..];
            continue;
        }
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        out.push(Piece::Link(url));
        rest = &rest[start + url.len()..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Whether `c` changes how the text around it reads without being seen: the bidi controls
/// (marks, embeddings, overrides, isolates), zero-width characters and the byte-order mark,
/// and every other control character.
pub fn is_invisible_or_reordering(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Whether the URL after its scheme names user info (`user@host`, `user:pass@host`): the
/// authority, up to the first `/`, `?` or `#`, holds an `@`.
fn has_user_info(after_scheme: &str) -> bool {
    let authority_end = after_scheme
        .find(['/', '?', '#', '\\'])
        .unwrap_or(after_scheme.len());
    after_scheme[..authority_end].contains('@')
}

fn find_scheme(text: &str) -> Option<usize> {
    let http = text.find("http://");
    let https = text.find("https://");
    match (http, https) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(pieces: &[Piece<'_>]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) | Piece::Link(t) => *t,
            })
            .collect()
    }

    #[test]
    fn links_are_found_and_trailing_punctuation_left_as_text() {
        let body = "See https://example.com/a?b=1, then http://x.org.";
        let split = pieces(body);
        assert_eq!(
            split,
            vec![
                Piece::Text("See "),
                Piece::Link("https://example.com/a?b=1"),
                Piece::Text(", then "),
                Piece::Link("http://x.org"),
                Piece::Text("."),
            ]
        );
        assert_eq!(joined(&split), body);
    }

    #[test]
    fn other_schemes_and_markup_stay_text() {
        for body in [
            "javascript:alert(1)",
            "<img src=x onerror=alert(1)>",
            "data:text/html,<script>alert(1)</script>",
            "https://",
            "",
        ] {
            let split = pieces(body);
            assert!(
                split.iter().all(|p| matches!(p, Piece::Text(_))),
                "{body:?} gave {split:?}"
            );
            assert_eq!(joined(&split), body);
        }
    }

    #[test]
    fn a_link_stops_at_markup_characters() {
        let split = pieces("go https://a.b/<script>x");
        assert_eq!(split[1], Piece::Link("https://a.b/"));
        assert_eq!(joined(&split), "go https://a.b/<script>x");
    }

    #[test]
    fn a_link_ends_where_text_would_be_reordered_or_hidden() {
        let body = "invoice https://example.com/\u{202E}fdp.exe now";
        let split = pieces(body);
        assert_eq!(split[1], Piece::Link("https://example.com/"));
        assert_eq!(joined(&split), body);
        for hidden in [
            '\u{200B}', '\u{200F}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{7}',
        ] {
            let body = format!("https://a.example/x{hidden}y");
            let split = pieces(&body);
            assert_eq!(split[0], Piece::Link("https://a.example/x"), "{hidden:?}");
            assert_eq!(joined(&split), body);
        }
        // Letters of any script are not hidden characters.
        assert!(!is_invisible_or_reordering('é') && !is_invisible_or_reordering('а'));
    }

    #[test]
    fn a_url_with_user_info_stays_text() {
        for body in [
            "https://bank.example@evil.example/login",
            "see http://user:pass@evil.example now",
            "https://a@b",
        ] {
            let split = pieces(body);
            assert!(
                split.iter().all(|p| matches!(p, Piece::Text(_))),
                "{body:?} gave {split:?}"
            );
            assert_eq!(joined(&split), body);
        }
        // An @ after the authority is part of an ordinary link.
        assert_eq!(
            pieces("https://example.com/@team?to=a@b.c"),
            vec![Piece::Link("https://example.com/@team?to=a@b.c")]
        );
    }

    #[test]
    fn multibyte_text_around_links_is_kept() {
        let body = "é→ https://ü.example/ñ ✓";
        assert_eq!(joined(&pieces(body)), body);
        assert_eq!(pieces(body)[1], Piece::Link("https://ü.example/ñ"));
    }
}
