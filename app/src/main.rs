//! The app's entry point: everything lives in the library (`app::start`), so browser tests
//! can mount the same components.

fn main() {
    app::start();
}
