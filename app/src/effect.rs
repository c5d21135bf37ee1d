//! The app's effects, all of one closure type. Leptos compiles its effect machinery (the
//! effect's state, its subscriber and its scheduling) once per closure type passed to
//! `Effect::new`, so every effect of the app goes through one boxed closure instead: one
//! copy of that code, at the cost of a pointer call per run.

use leptos::prelude::*;

/// Runs `body` now and again whenever a signal it read changes, for as long as the
/// reactive owner it was created under lives (as `Effect::new` does).
pub fn effect(body: impl FnMut() + 'static) {
    effect_boxed(Box::new(body));
}

/// The one instance of `Effect::new`.
fn effect_boxed(mut body: Box<dyn FnMut()>) {
    Effect::new(move |_: Option<()>| body());
}
