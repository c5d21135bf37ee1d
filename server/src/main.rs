//! Reference backend for the chat cache (to be built in issue 4).
fn main() {
    eprintln!("server: not built yet");
    std::process::exit(2);
}
