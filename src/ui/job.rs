//! The studio's running job, seen from the browser: start a generation, poll it until it finishes
//! and show where it is. Both the Generate and the Edit form (`studio.rs`, `edit.rs`) run jobs here.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::domain::stage::Stage;
use crate::server_fns::studio::{generation_status, start_generation};
use crate::ui::state::{studio_state, StudioState};
use crate::wire::studio::{GenerateForm, Started};

/// Waits in the browser without blocking it.
async fn sleep(duration: Duration) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = done.send(());
        },
        duration,
    );
    let _ = wait.await;
}

/// Milliseconds since some fixed point, for the elapsed-time display.
fn now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Where the running job is, in words, with the time it has taken.
#[component]
pub fn Progress() -> impl IntoView {
    let StudioState {
        job,
        running,
        elapsed,
        ..
    } = studio_state();
    view! {
        <p data-testid="progress" aria-live="polite" class="text-sm text-stone-600 dark:text-stone-400">
            {move || {
                let view = job.get();
                let stage = view.as_ref().map(|j| j.stage);
                let step = view.and_then(|j| j.step).filter(|_| stage == Some(Stage::Generating));
                match (running.get(), stage) {
                    (true, Some(stage)) => match step {
                        Some((step, steps)) => format!(
                            "{}: step {step} of {steps}… {}",
                            stage.describe(),
                            seconds(elapsed.get())
                        ),
                        None => format!("{}… {}", stage.describe(), seconds(elapsed.get())),
                    },
                    (true, None) => format!("Starting… {}", seconds(elapsed.get())),
                    (false, Some(Stage::Done)) => format!("Done in {}", seconds(elapsed.get())),
                    _ => String::new(),
                }
            }}
        </p>
    }
}

/// Starts a generation from `form` and follows it until it finishes. The state outlives the page, so
/// the loop may go on while the user is elsewhere.
pub fn generate(form: GenerateForm) {
    let state = studio_state();
    if state.running.get_untracked() {
        return;
    }
    state.running.set(true);
    state.problem.set(None);
    state.job.set(None);
    state.last_form.set(Some(form.clone()));
    state.started_ms.set(now_ms());
    state.elapsed.set(0.0);
    let tick = move || {
        state
            .elapsed
            .set((now_ms() - state.started_ms.get_untracked()) / 1000.0)
    };
    spawn_local(async move {
        match start_generation(form).await {
            Err(err) => state.problem.set(Some(plain(err))),
            Ok(Started::Refused(reason)) => state.problem.set(Some(reason)),
            Ok(Started::Job(id)) => loop {
                tick();
                match generation_status(id.clone()).await {
                    Err(err) => {
                        state.problem.set(Some(plain(err)));
                        break;
                    }
                    Ok(None) => {
                        state.problem.set(Some(
                            "The server no longer knows this generation; start it again.".into(),
                        ));
                        break;
                    }
                    Ok(Some(view)) => {
                        let stage = view.stage;
                        if let Some(error) = view.error.clone() {
                            state.problem.set(Some(error));
                        }
                        state.job.set(Some(view));
                        if stage.finished() {
                            if stage == Stage::Done {
                                state.generated.update(|n| *n += 1);
                            }
                            break;
                        }
                    }
                }
                sleep(Duration::from_millis(250)).await;
            },
        }
        tick();
        state.running.set(false);
    });
}

/// Seconds with one decimal, without pulling float formatting into the bundle.
pub(crate) fn seconds(value: f64) -> String {
    let tenths = (value * 10.0).round().max(0.0) as u64;
    format!("{}.{} s", tenths / 10, tenths % 10)
}

/// A server function error as a sentence.
pub(crate) fn plain(err: ServerFnError) -> String {
    match err {
        ServerFnError::ServerError(message) => message,
        other => format!("Something went wrong talking to the server: {other}"),
    }
}
