//! The agent's front end (built out in issue 6).
fn main() {}
