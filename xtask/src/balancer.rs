//! A round-robin TCP balancer for `cargo xtask serve --processes N`: every connection to the
//! public port goes to the next server process, skipping one that refuses. It only shows that
//! any process serves any request (sessions, messages and pushes live in the shared
//! database); a deployment uses a real load balancer (see README).

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

/// Accepts on `listen` forever, passing each connection to a backend in turn.
pub fn run(listen: &str, backends: Vec<String>) -> Result<(), String> {
    let listener =
        TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let mut next = 0usize;
    for incoming in listener.incoming() {
        let client = match incoming {
            Ok(client) => client,
            Err(error) => {
                eprintln!("balancer: accept failed: {error}");
                continue;
            }
        };
        let first = next;
        next = next.wrapping_add(1);
        let backends = backends.clone();
        thread::spawn(move || {
            if let Err(error) = forward(client, &backends, first) {
                eprintln!("balancer: {error}");
            }
        });
    }
    Ok(())
}

/// Connects to the first backend (from `start`, in turn) that accepts and copies bytes both
/// ways until either side closes.
fn forward(client: TcpStream, backends: &[String], start: usize) -> io::Result<()> {
    let mut last_error = None;
    let server = (0..backends.len())
        .map(|i| &backends[(start + i) % backends.len()])
        .find_map(|addr| match TcpStream::connect(addr) {
            Ok(stream) => Some(stream),
            Err(error) => {
                last_error = Some(io::Error::new(error.kind(), format!("{addr}: {error}")));
                None
            }
        })
        .ok_or_else(|| last_error.unwrap_or_else(|| io::Error::other("no backend")))?;
    // Server-Sent Events are many small writes: pass each on at once.
    server.set_nodelay(true)?;
    client.set_nodelay(true)?;
    let (mut client_read, mut server_write) = (client.try_clone()?, server.try_clone()?);
    let upstream = thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}
