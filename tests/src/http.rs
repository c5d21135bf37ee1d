//! Plain HTTP/1.1 over loopback for what tests read from the server directly (`/metrics`,
//! headers), without a browser in between.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{HarnessError, Result};

/// A response: status, headers (lower-cased names), body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers with lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy).
    pub body: String,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` from `addr` (`127.0.0.1:port`).
pub async fn get(addr: &str, path: &str) -> Result<Response> {
    send(addr, "GET", path, &[], "").await
}

/// `POST path` with a JSON `body` and an optional session `cookie` (`sid=…`).
pub async fn post_json(
    addr: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> Result<Response> {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    send(addr, "POST", path, &headers, body).await
}

/// Sends `body` as JSON with the session `cookie` and returns the reply's JSON; an error
/// (with the status and body) unless the status is 2xx.
pub async fn json_as(
    addr: &str,
    cookie: &str,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let headers = [("Cookie", cookie), ("Content-Type", "application/json")];
    let reply = send(addr, method, path, &headers, &body.to_string()).await?;
    if !(200..300).contains(&reply.status) {
        return Err(HarnessError::Setup(format!(
            "{method} {path}: {} {}",
            reply.status, reply.body
        )));
    }
    serde_json::from_str(&reply.body)
        .map_err(|e| HarnessError::Setup(format!("{method} {path}: {e}")))
}

/// Signs `username` in with `password` and returns the session cookie (`sid=…`).
pub async fn login(addr: &str, username: &str, password: &str) -> Result<String> {
    let body = serde_json::json!({ "username": username, "password": password }).to_string();
    let reply = post_json(addr, "/api/auth/login", None, &body).await?;
    reply
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .filter(|_| reply.status == 200)
        .map(str::to_owned)
        .ok_or_else(|| {
            HarnessError::Setup(format!(
                "login of {username} failed: {} {}",
                reply.status, reply.body
            ))
        })
}

/// One HTTP/1.1 request with `Connection: close`.
pub async fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Response> {
    let io = |what: &str| {
        let what = format!("{what} {addr}{path}");
        move |source| HarnessError::Io { what, source }
    };
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(io("connecting to"))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io("writing to"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(io("reading from"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HarnessError::Setup(format!("no HTTP status line from {addr}{path}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The value of a Prometheus series line that starts with `series` (e.g.
/// `chat_messages_served_total{kind="range"}`), 0 when absent.
pub fn metric(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix(series))
        .filter_map(|rest| rest.trim().parse::<f64>().ok())
        .sum()
}
