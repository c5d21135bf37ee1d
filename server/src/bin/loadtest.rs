//! Load test: starts the server on loopback against SQLite (and PostgreSQL when one can be
//! started or `TEST_POSTGRES_URL` is set), runs a bounded number of range fetches and sends
//! with some concurrency, prints requests/s and latency percentiles, and writes them as JSON.
//!
//! `cargo run --release -p server --bin loadtest -- --out bench/server-load.json`
//!
//! The load generator and the server share this process and the machine's cores, so the
//! figures are a floor for what the server does alone.

#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_sync::protocol::{MessagesPage, SendMessage};
use chat_sync::types::{Message, RequestId, Sender, SenderRole};
use clap::Parser;
use rand::Rng;
use serde::Serialize;
use server::db::chats::NewMessage;
use server::db::users::UserRow;
use server::{Config, DatabaseTarget};
use tokio::sync::Mutex;

#[derive(Debug, Parser)]
#[command(about = "Bounded loopback load test of the reference server")]
struct Args {
    /// Where to write the JSON results.
    #[arg(long, default_value = "server-load.json")]
    out: std::path::PathBuf,
    /// Range fetches per backend.
    #[arg(long, default_value_t = 5_000)]
    fetches: usize,
    /// Sends per backend.
    #[arg(long, default_value_t = 2_000)]
    sends: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Messages per range fetch.
    #[arg(long, default_value_t = 100)]
    span: u64,
    /// Upper bound on each scenario's duration, in seconds.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// Skip PostgreSQL.
    #[arg(long)]
    sqlite_only: bool,
}

#[derive(Debug, Serialize)]
struct Scenario {
    backend: &'static str,
    scenario: &'static str,
    requests: usize,
    errors: usize,
    concurrency: usize,
    elapsed_s: f64,
    requests_per_s: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    messages_per_request: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    generated_at_ms: i64,
    cores: usize,
    history_len: u64,
    results: Vec<Scenario>,
    notes: Vec<String>,
}

const HISTORY: u64 = 10_000;
const CHATS: usize = 8;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut report = Report {
        generated_at_ms: server::clock::now_ms(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        history_len: HISTORY,
        results: Vec::new(),
        notes: vec![
            "server and load generator share one process on loopback".to_owned(),
            format!(
                "range fetch: random {}-message window of a {HISTORY}-message chat; \
                 send: random one of {CHATS} chats",
                args.span
            ),
        ],
    };
    let dir = tempfile_dir();
    let sqlite = DatabaseTarget::Sqlite(dir.join("load.sqlite"));
    run_backend("sqlite", sqlite, &args, &mut report).await;
    if args.sqlite_only || postgres::skip_postgres() {
        report.notes.push("PostgreSQL skipped".to_owned());
    } else {
        let from_env = std::env::var("TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
        report.notes.push(if from_env {
            "PostgreSQL from TEST_POSTGRES_URL".to_owned()
        } else {
            "PostgreSQL: throwaway local cluster with fsync=off, synchronous_commit=off, \
             full_page_writes=off (durability off; SQLite runs WAL with synchronous=NORMAL)"
                .to_owned()
        });
        let url = postgres::fresh_database().await;
        run_backend(
            "postgres",
            DatabaseTarget::Postgres(url),
            &args,
            &mut report,
        )
        .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\n{:<9} {:<12} {:>7} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "backend", "scenario", "reqs", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for r in &report.results {
        println!(
            "{:<9} {:<12} {:>7} {:>6} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            r.backend,
            r.scenario,
            r.requests,
            r.errors,
            r.requests_per_s,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms
        );
    }
    match serde_json::to_string_pretty(&report) {
        Ok(json) => match std::fs::write(&args.out, json) {
            Ok(()) => println!("\nwrote {}", args.out.display()),
            Err(error) => {
                eprintln!("cannot write {}: {error}", args.out.display());
                std::process::exit(1);
            }
        },
        Err(error) => {
            eprintln!("cannot encode the report: {error}");
            std::process::exit(1);
        }
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chat-loadtest-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {error}", dir.display());
        std::process::exit(1);
    }
    dir
}

async fn run_backend(name: &'static str, target: DatabaseTarget, args: &Args, report: &mut Report) {
    let mut config = Config::new(target);
    // Only one sign-in happens; the cost is irrelevant to the figures.
    config.password_hash_memory_kib = 1024;
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("bind: {error}");
            std::process::exit(1);
        }
    };
    let running = match server::start(config, listener).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("{name}: server does not start: {error}");
            std::process::exit(1);
        }
    };
    let base = format!("http://{}", running.addr);
    let seeded = Instant::now();
    seed(&running.state.db).await;
    println!(
        "{name}: seeded {CHATS} chats x {HISTORY} messages in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"));
    let cookie = login(&client, &base).await;
    let deadline = Duration::from_secs(args.max_seconds);

    let span = args.span;
    let fetch = {
        let client = client.clone();
        let base = base.clone();
        let cookie = cookie.clone();
        move |_: usize| {
            let client = client.clone();
            let url = {
                let chat = rand::thread_rng().gen_range(0..CHATS);
                let from = rand::thread_rng().gen_range(1..=HISTORY - span + 1);
                format!(
                    "{base}/api/chat/messages?request_id=LOAD-{chat}&from_seq={from}&to_seq={}",
                    from + span - 1
                )
            };
            let cookie = cookie.clone();
            async move {
                let response = client.get(url).header("cookie", cookie).send().await.ok()?;
                if !response.status().is_success() {
                    return None;
                }
                let page: MessagesPage = response.json().await.ok()?;
                (page.messages.len() as u64 == span).then_some(())
            }
        }
    };
    report.results.push(
        drive(
            name,
            "range_fetch",
            args.fetches,
            args.concurrency,
            deadline,
            span,
            fetch,
        )
        .await,
    );

    let send = {
        let client = client.clone();
        let base = base.clone();
        let cookie = cookie.clone();
        move |i: usize| {
            let client = client.clone();
            let url = format!("{base}/api/chat/messages");
            let cookie = cookie.clone();
            let chat = rand::thread_rng().gen_range(0..CHATS);
            let body = SendMessage {
                request_id: RequestId::new(format!("LOAD-{chat}")),
                client_temp_id: format!("load-{name}-{i}"),
                body: format!("load test message {i}"),
                attachments: Vec::new(),
            };
            async move {
                let response = client
                    .post(url)
                    .header("cookie", cookie)
                    .json(&body)
                    .send()
                    .await
                    .ok()?;
                if response.status().as_u16() != 201 {
                    return None;
                }
                let _: Message = response.json().await.ok()?;
                Some(())
            }
        }
    };
    report.results.push(
        drive(
            name,
            "send",
            args.sends,
            args.concurrency,
            deadline,
            1,
            send,
        )
        .await,
    );
    running.shutdown().await;
}

/// Runs `total` requests, `concurrency` at a time, stopping early at `deadline`.
async fn drive<F, Fut>(
    backend: &'static str,
    scenario: &'static str,
    total: usize,
    concurrency: usize,
    deadline: Duration,
    messages_per_request: u64,
    make: F,
) -> Scenario
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<()>> + Send,
{
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let latencies = latencies.clone();
        let errors = errors.clone();
        let make = make.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total || started.elapsed() > deadline {
                    break;
                }
                let t = Instant::now();
                let ok = make(i).await.is_some();
                let elapsed = t.elapsed();
                if ok {
                    mine.push(elapsed);
                } else {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            latencies.lock().await.extend(mine);
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = latencies.lock().await.clone();
    all.sort_unstable();
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    let done = all.len() + errors;
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let index = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[index.min(all.len() - 1)].as_secs_f64() * 1000.0
    };
    Scenario {
        backend,
        scenario,
        requests: done,
        errors,
        concurrency,
        elapsed_s: elapsed,
        requests_per_s: if elapsed > 0.0 {
            all.len() as f64 / elapsed
        } else {
            0.0
        },
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        max_ms: all.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        messages_per_request,
    }
}

async fn seed(db: &server::db::Db) {
    let hash = server::auth::hash_password("load", 1024).unwrap_or_else(|e| panic!("{e}"));
    for (id, username, role) in [
        ("u_load_agent", "agent", "agent"),
        ("u_load_req", "req", "requester"),
    ] {
        let row = UserRow {
            id: id.to_owned(),
            username: username.to_owned(),
            name: username.to_owned(),
            role: role.to_owned(),
            password_hash: hash.clone(),
        };
        db.create_user(&row, 1)
            .await
            .unwrap_or_else(|e| panic!("user: {e}"));
    }
    for chat in 0..CHATS {
        let id = format!("LOAD-{chat}");
        db.create_request(&id, "Load", "u_load_req", "u_load_agent", 1)
            .await
            .unwrap_or_else(|e| panic!("request: {e}"));
        let messages: Vec<NewMessage> = (0..HISTORY)
            .map(|i| NewMessage {
                request_id: id.clone(),
                client_temp_id: None,
                sender: Sender {
                    id: "u_load_req".to_owned(),
                    name: "req".to_owned(),
                    role: SenderRole::Requester,
                },
                body: format!("history message {i} with a realistic amount of text in it"),
                attachments: Vec::new(),
                created_at: 1_000 + i as i64,
            })
            .collect();
        db.seed_messages(&messages)
            .await
            .unwrap_or_else(|e| panic!("seed: {e}"));
    }
}

async fn login(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": "agent", "password": "load"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("login: {e}"));
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("login failed: {}", response.status()))
}
