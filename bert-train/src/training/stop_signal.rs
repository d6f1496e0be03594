//! Ctrl-C (SIGINT, SIGTERM, SIGHUP) during training: the first one asks the
//! running training to stop after its current optimiser step and save a
//! checkpoint; a second one quits at once.

use std::sync::{Mutex, Once};

use burn::train::Interrupter;
use tracing::warn;

/// The training that a signal stops.
static CURRENT: Mutex<Option<Interrupter>> = Mutex::new(None);

/// Makes a signal stop `interrupter`'s training (the latest one registered).
pub fn stop_on_signal(interrupter: &Interrupter) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = Some(interrupter.clone());
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if let Err(error) = ctrlc::set_handler(on_signal) {
            warn!("Ctrl-C will not save a checkpoint: {error}");
        }
    });
}

fn on_signal() {
    let current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    match current.as_ref() {
        Some(interrupter) if !interrupter.should_stop() => {
            warn!(
                "stopping after the current step to save a checkpoint (Ctrl-C again quits at once)"
            );
            interrupter.stop(Some("stopped by a signal"));
        }
        _ => std::process::exit(130),
    }
}
