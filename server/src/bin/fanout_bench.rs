//! Fan-out load benchmark: 1, 2 and 4 real server processes on one PostgreSQL, N open event
//! streams spread over them, requesters posting M messages/s through them in turn; measures
//! post → event at the stream (from the start of the POST to the event's arrival at the
//! client), and then sends/s with every sender posting as fast as it can.
//!
//! `cargo build --release -p server --bins && target/release/fanout_bench --out FILE`
//!
//! Every stream belongs to an agent with one chat; each agent holds two streams (two tabs),
//! on different processes when there are several, so every message is delivered to two
//! streams. Sessions are written straight into the database (signing in 500 agents over HTTP
//! would trip the sign-in throttle). The server processes, PostgreSQL and this load generator
//! share the machine's cores: the figures are what this machine does with all of them.

#[path = "../../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_sync::protocol::SendMessage;
use chat_sync::types::{Message, RequestId};
use clap::Parser;
use serde::Serialize;
use server::db::users::UserRow;
use server::db::Db;
use server::DatabaseTarget;

#[derive(Debug, Parser)]
#[command(about = "Several server processes on one PostgreSQL under live-stream load")]
struct Args {
    /// Where to write the JSON results.
    #[arg(long, default_value = "fanout-bench.json")]
    out: PathBuf,
    /// Process counts to measure, comma-separated.
    #[arg(long, default_value = "1,2,4")]
    processes: String,
    /// Open event streams (two per agent).
    #[arg(long, default_value_t = 1_000)]
    streams: usize,
    /// Messages posted per second in the latency phase.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Length of the latency phase, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Senders posting as fast as they can in the throughput phase.
    #[arg(long, default_value_t = 32)]
    senders: usize,
    /// Length of the throughput phase, in seconds.
    #[arg(long, default_value_t = 8)]
    throughput_seconds: u64,
    /// The server binary (default: `server` beside this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// PostgreSQL connections shared by all the processes of a run: each process's pool
    /// (`--database-pool`) is this divided by their number, as a deployment sizes its pools
    /// to what its PostgreSQL can run at once.
    #[arg(long, default_value_t = server::cli::DEFAULT_DATABASE_POOL)]
    database_connections: u32,
}

#[derive(Debug, Serialize)]
struct Run {
    processes: usize,
    /// Each process's PostgreSQL pool (`--database-pool`).
    database_pool: u32,
    streams: usize,
    rate_per_s: u64,
    posted: usize,
    expected_events: usize,
    delivered_events: usize,
    duplicate_or_unknown_events: usize,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    senders: usize,
    sends: usize,
    send_errors: usize,
    sends_per_s: f64,
    send_p50_ms: f64,
    send_p95_ms: f64,
    events_during_throughput: u64,
    /// How busy the machine's cores were during the throughput phase (every process on it),
    /// from `/proc/stat`; `None` where there is none.
    cpu_busy_percent: Option<f64>,
    /// Of the machine's capacity in that phase: the server processes' share, PostgreSQL's
    /// (every process named `postgres`), this load generator's, and everything else on the
    /// machine (other people's builds and tests included).
    cpu_servers_percent: Option<f64>,
    cpu_postgres_percent: Option<f64>,
    cpu_load_generator_percent: Option<f64>,
    cpu_other_percent: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    generated_at_ms: i64,
    cores: usize,
    notes: Vec<String>,
    results: Vec<Run>,
}

/// Everything the stream readers share.
struct Sink {
    base: Instant,
    /// Latencies (µs) of the latency phase.
    latencies: Mutex<Vec<u64>>,
    /// Per message key: how many streams delivered it.
    seen: Mutex<HashMap<String, u32>>,
    /// Events received during the throughput phase.
    throughput_events: AtomicU64,
    measuring: std::sync::atomic::AtomicBool,
    open: AtomicUsize,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let counts: Vec<usize> = args
        .processes
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| *n >= 1)
        .collect();
    let server_bin = args.server_bin.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("server")))
            .unwrap_or_else(|| PathBuf::from("server"))
    });
    if !server_bin.exists() {
        eprintln!(
            "no server binary at {} (cargo build --release -p server --bins)",
            server_bin.display()
        );
        std::process::exit(1);
    }
    let from_env = std::env::var("TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    let mut report = Report {
        generated_at_ms: server::clock::now_ms(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        notes: vec![
            format!(
                "{} streams (two per agent, each agent's on different processes), {} msg/s for \
                 {} s, then {} senders for {} s; server processes, PostgreSQL and the load \
                 generator share the machine",
                args.streams, args.rate, args.seconds, args.senders, args.throughput_seconds
            ),
            if from_env {
                "PostgreSQL from TEST_POSTGRES_URL".to_owned()
            } else {
                "PostgreSQL: throwaway local cluster with fsync=off, synchronous_commit=off"
                    .to_owned()
            },
        ],
        results: Vec::new(),
    };
    for processes in counts {
        let run = run(processes, &args, &server_bin).await;
        println!(
            "{processes} process(es): post → event p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms \
             ({} of {} events); {:.0} sends/s (cores {:.0} % busy: servers {:.0} %, \
             PostgreSQL {:.0} %, load generator {:.0} %, other {:.0} %)",
            run.p50_ms,
            run.p95_ms,
            run.p99_ms,
            run.delivered_events,
            run.expected_events,
            run.sends_per_s,
            run.cpu_busy_percent.unwrap_or(f64::NAN),
            run.cpu_servers_percent.unwrap_or(f64::NAN),
            run.cpu_postgres_percent.unwrap_or(f64::NAN),
            run.cpu_load_generator_percent.unwrap_or(f64::NAN),
            run.cpu_other_percent.unwrap_or(f64::NAN)
        );
        report.results.push(run);
    }
    match serde_json::to_string_pretty(&report) {
        Ok(json) => {
            if let Err(error) = std::fs::write(&args.out, json) {
                eprintln!("cannot write {}: {error}", args.out.display());
                std::process::exit(1);
            }
            println!("wrote {}", args.out.display());
        }
        Err(error) => {
            eprintln!("cannot encode the report: {error}");
            std::process::exit(1);
        }
    }
}

/// A server process, killed when dropped.
struct Process(Child);

impl Process {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

async fn spawn(bin: &PathBuf, url: &str, name: &str, pool: u32) -> (Process, String) {
    let port = free_port();
    let child = Command::new(bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .args(["--database-pool", &pool.to_string()])
        .args(["--instance", name])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "{name} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (Process(child), base)
}

/// Agents `fa{i}` with chat `FAN-{i}`, one requester; returns (agent cookies, requester cookie).
async fn seed(db: &Db, agents: usize) -> (Vec<String>, String) {
    let hash = server::auth::hash_password("bench", 8).unwrap_or_else(|e| panic!("{e}"));
    let now = server::clock::now_ms();
    let day = 24 * 3600 * 1000;
    let session = |user: &str| {
        let token = server::auth::new_token();
        (server::auth::token_hash(&token), user.to_owned(), token)
    };
    let user = |id: &str, role: &str| UserRow {
        id: id.to_owned(),
        username: id.to_owned(),
        name: id.to_owned(),
        role: role.to_owned(),
        password_hash: hash.clone(),
    };
    db.create_user(&user("freq", "requester"), now)
        .await
        .unwrap_or_else(|e| panic!("user: {e}"));
    let mut sessions = Vec::new();
    for i in 0..agents {
        let id = format!("fa{i}");
        db.create_user(&user(&id, "agent"), now)
            .await
            .unwrap_or_else(|e| panic!("user: {e}"));
        db.create_request(&format!("FAN-{i}"), "Fan-out", "freq", &id, now)
            .await
            .unwrap_or_else(|e| panic!("request: {e}"));
        sessions.push(session(&id));
    }
    let requester = session("freq");
    for (hash, user, _) in sessions.iter().chain(std::iter::once(&requester)) {
        db.create_session(hash, user, now, now + day)
            .await
            .unwrap_or_else(|e| panic!("session: {e}"));
    }
    let cookie = |token: &str| format!("{}={token}", server::auth::SESSION_COOKIE);
    (
        sessions.iter().map(|(_, _, t)| cookie(t)).collect(),
        cookie(&requester.2),
    )
}

/// Reads one stream until the run ends, recording each message's latency.
async fn read_stream(client: reqwest::Client, url: String, cookie: String, sink: Arc<Sink>) {
    let response = match client.get(&url).header("cookie", cookie).send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => panic!("stream refused: {}", response.status()),
        Err(error) => panic!("stream: {error}"),
    };
    sink.open.fetch_add(1, Ordering::Relaxed);
    let mut response = response;
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let arrived = sink.base.elapsed().as_micros() as u64;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<Message>(data.trim_start()) else {
                continue;
            };
            let key = message.client_temp_id.unwrap_or_default();
            if let Some(sent) = key.strip_prefix("lat-").and_then(|k| k.split('-').next()) {
                let sent: u64 = sent.parse().unwrap_or(arrived);
                if sink.measuring.load(Ordering::Relaxed) {
                    sink.latencies
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(arrived.saturating_sub(sent));
                }
                *sink
                    .seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(key)
                    .or_insert(0) += 1;
            } else {
                sink.throughput_events.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn post(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    chat: usize,
    key: String,
) -> bool {
    let body = SendMessage {
        request_id: RequestId::new(format!("FAN-{chat}")),
        client_temp_id: key,
        body: "fan-out benchmark message".to_owned(),
        attachments: Vec::new(),
    };
    client
        .post(format!("{base}/api/chat/messages"))
        .header("cookie", cookie)
        .json(&body)
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 201)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)] as f64 / 1000.0
}

async fn run(processes: usize, args: &Args, bin: &PathBuf) -> Run {
    let url = postgres::fresh_database().await;
    let db = Db::connect(&DatabaseTarget::Postgres(url.clone()))
        .await
        .unwrap_or_else(|e| panic!("database: {e}"));
    let agents = args.streams.div_ceil(2);
    let (agent_cookies, requester) = seed(&db, agents).await;
    let mut servers = Vec::new();
    let mut bases = Vec::new();
    let pool = (args.database_connections / processes as u32).max(1);
    for i in 0..processes {
        let (process, base) = spawn(bin, &url, &format!("bench{processes}-{i}"), pool).await;
        servers.push(process);
        bases.push(base);
    }
    let sink = Arc::new(Sink {
        base: Instant::now(),
        latencies: Mutex::new(Vec::new()),
        seen: Mutex::new(HashMap::new()),
        throughput_events: AtomicU64::new(0),
        measuring: std::sync::atomic::AtomicBool::new(false),
        open: AtomicUsize::new(0),
    });
    let streams_client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    let mut readers = Vec::new();
    for stream in 0..args.streams {
        let agent = stream / 2;
        // An agent's two tabs sit on different processes when there are several.
        let base = &bases[(agent + stream % 2) % processes];
        readers.push(tokio::spawn(read_stream(
            streams_client.clone(),
            format!("{base}/api/chat/events"),
            agent_cookies[agent].clone(),
            Arc::clone(&sink),
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.open.load(Ordering::Relaxed) < args.streams {
        assert!(Instant::now() < deadline, "the streams did not all open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the servers settle after a thousand stream starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let post_client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_else(|e| panic!("client: {e}"));
    sink.measuring.store(true, Ordering::Relaxed);
    let total = (args.rate * args.seconds) as usize;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    let mut posts = Vec::with_capacity(total);
    for i in 0..total {
        ticker.tick().await;
        let client = post_client.clone();
        let base = bases[i % processes].clone();
        let cookie = requester.clone();
        let chat = (i * 7919) % agents;
        let key = format!("lat-{}-{i}", sink.base.elapsed().as_micros());
        posts.push(tokio::spawn(async move {
            post(&client, &base, &cookie, chat, key).await
        }));
    }
    let mut posted = 0;
    for task in posts {
        if task.await.unwrap_or(false) {
            posted += 1;
        }
    }
    // Stragglers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.measuring.store(false, Ordering::Relaxed);
    let mut latencies =
        std::mem::take(&mut *sink.latencies.lock().unwrap_or_else(|e| e.into_inner()));
    latencies.sort_unstable();
    let seen = std::mem::take(&mut *sink.seen.lock().unwrap_or_else(|e| e.into_inner()));
    let delivered: usize = seen.values().map(|n| (*n).min(2) as usize).sum();
    let extra: usize = seen.values().map(|n| n.saturating_sub(2) as usize).sum();

    // Throughput: every sender posts as fast as it can, through the processes in turn.
    let sends = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let pids: Vec<String> = servers.iter().map(|p| p.id().to_string()).collect();
    let cpu_before = cpu_times();
    let servers_before = process_ticks(&pids);
    let own_before = process_ticks(&["self".to_owned()]);
    let postgres_before = postgres_ticks();
    let started = Instant::now();
    let until = started + Duration::from_secs(args.throughput_seconds);
    let mut workers = Vec::new();
    for w in 0..args.senders {
        let client = post_client.clone();
        let bases = bases.clone();
        let cookie = requester.clone();
        let sends = Arc::clone(&sends);
        let errors = Arc::clone(&errors);
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut i = 0usize;
            while Instant::now() < until {
                let t = Instant::now();
                let chat = (w * 104_729 + i * 7919) % agents;
                let base = &bases[(w + i) % bases.len()];
                if post(&client, base, &cookie, chat, format!("tp-{w}-{i}")).await {
                    mine.push(t.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            sends.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = cpu_times();
    let servers_used = servers_before
        .zip(process_ticks(&pids))
        .map(|(a, b)| b.saturating_sub(a));
    let own_used = own_before
        .zip(process_ticks(&["self".to_owned()]))
        .map(|(a, b)| b.saturating_sub(a));
    let postgres_used = postgres_before
        .zip(postgres_ticks())
        .map(|(a, b)| b.saturating_sub(a));
    let total = cpu_before
        .zip(cpu_after)
        .and_then(|((_, t0), (_, t1))| t1.checked_sub(t0).filter(|t| *t > 0));
    let cpu_busy_percent =
        cpu_before
            .zip(cpu_after)
            .zip(total)
            .map(|(((i0, _), (i1, _)), total)| {
                100.0 * (1.0 - i1.saturating_sub(i0) as f64 / total as f64)
            });
    let share = |used: Option<u64>| used.zip(total).map(|(u, t)| 100.0 * u as f64 / t as f64);
    let cpu_servers_percent = share(servers_used);
    let cpu_load_generator_percent = share(own_used);
    let cpu_postgres_percent = share(postgres_used);
    let cpu_other_percent = cpu_busy_percent
        .zip(cpu_servers_percent)
        .zip(cpu_load_generator_percent)
        .zip(cpu_postgres_percent)
        .map(|(((busy, servers), own), postgres)| (busy - servers - own - postgres).max(0.0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut send_times = std::mem::take(&mut *sends.lock().unwrap_or_else(|e| e.into_inner()));
    send_times.sort_unstable();
    for reader in readers {
        reader.abort();
    }
    drop(servers);
    db.close().await;
    Run {
        processes,
        database_pool: pool,
        streams: args.streams,
        rate_per_s: args.rate,
        posted,
        expected_events: posted * 2,
        delivered_events: delivered,
        duplicate_or_unknown_events: extra,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(f64::NAN, |v| *v as f64 / 1000.0),
        senders: args.senders,
        sends: send_times.len(),
        send_errors: errors.load(Ordering::Relaxed),
        sends_per_s: send_times.len() as f64 / elapsed,
        send_p50_ms: percentile(&send_times, 0.50),
        send_p95_ms: percentile(&send_times, 0.95),
        events_during_throughput: sink.throughput_events.load(Ordering::Relaxed),
        cpu_busy_percent,
        cpu_servers_percent,
        cpu_postgres_percent,
        cpu_load_generator_percent,
        cpu_other_percent,
    }
}

/// Clock ticks used so far by every process named `postgres` (the cluster's backends).
fn postgres_ticks() -> Option<u64> {
    let mut sum = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if stat
            .split_once(" (")
            .is_some_and(|(_, rest)| rest.starts_with("postgres)"))
        {
            if let Some(name) = entry.file_name().to_str() {
                sum += process_ticks(&[name.to_owned()]).unwrap_or(0);
            }
        }
    }
    Some(sum)
}

/// User and system clock ticks used so far by these processes (`/proc/PID/stat`), all of
/// them or `None`.
fn process_ticks(pids: &[String]) -> Option<u64> {
    let mut sum = 0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The fields after the command name (which may hold spaces) in parentheses: state is
        // the first, utime the 12th and stime the 13th.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        sum += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(sum)
}

/// (idle, total) jiffies of all cores so far, from the first line of `/proc/stat`.
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …: idle and iowait are idle time.
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((idle, fields.iter().take(8).sum()))
}
