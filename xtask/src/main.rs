//! `cargo xtask`: one entry point for every routine task.
fn main() {}
