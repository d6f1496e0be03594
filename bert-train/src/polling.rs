//! rayon's threads kept awake through each step on the CPU backend (flex):
//! while a step runs, the pool's other threads poll for work instead of
//! sleeping, so every parallel pass of the step starts on all cores at
//! once, as OpenMP's spin-wait does for PyTorch. Without it, the second of
//! two cores went to sleep and was woken for the next pass about 500 times
//! a second in a training step, while the first ran its share of the pass
//! alone (BENCHMARKS.md).

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use rayon::Yield;

/// How long the threads go on polling once no step is under way and they
/// find no work: long enough to bridge the gap to the next step.
const LINGER: Duration = Duration::from_millis(2);

/// Steps under way: live [`Polling`] guards.
static STEPS: AtomicUsize = AtomicUsize::new(0);

/// Whether threads are polling (the last broadcast's loops are not all
/// done). One flag for the process: `bert-train` runs on one pool.
static POLLING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is in [`poll`]'s loop (which a new broadcast
    /// must not start again inside itself).
    static IN_POLL: Cell<bool> = const { Cell::new(false) };
}

/// A step under way: while any is alive, rayon's other threads poll for
/// work; after the last is dropped, they sleep again (after [`LINGER`]).
#[must_use = "the threads poll only while the guard is alive"]
pub struct Polling(());

impl Polling {
    /// Keeps the current rayon pool's other threads polling while the guard
    /// lives, where `device` computes on them (flex) and the caller is one of
    /// them (`bert-train` runs its commands so); `None` otherwise.
    pub fn start(device: &Device) -> Option<Self> {
        let caller = rayon::current_thread_index()?;
        if !computes_on_rayon(device) || rayon::current_num_threads() < 2 {
            return None;
        }
        STEPS.fetch_add(1, Ordering::SeqCst);
        if !POLLING.swap(true, Ordering::SeqCst) {
            let pollers = Arc::new(AtomicUsize::new(rayon::current_num_threads() - 1));
            rayon::spawn_broadcast(move |context| {
                if context.index() == caller {
                    return;
                }
                if !IN_POLL.replace(true) {
                    poll();
                    IN_POLL.set(false);
                }
                if pollers.fetch_sub(1, Ordering::SeqCst) == 1 {
                    POLLING.store(false, Ordering::SeqCst);
                }
            });
        }
        Some(Self(()))
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        STEPS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs the pool's pending jobs as they come, until no step is under way
/// and none has come for [`LINGER`]. Between jobs the thread yields its
/// core to any other thread ready to run (the data loader, metrics).
fn poll() {
    let mut last_job = Instant::now();
    loop {
        match rayon::yield_now() {
            Some(Yield::Executed) => last_job = Instant::now(),
            _ if STEPS.load(Ordering::SeqCst) == 0 && last_job.elapsed() > LINGER => return,
            _ => std::thread::yield_now(),
        }
    }
}

/// Whether `device`'s tensors are computed on rayon's threads.
fn computes_on_rayon(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    if device.clone().inner() == Device::flex() {
        return true;
    }
    let _ = device;
    false
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    /// Which thread ran a job that the caller's thread could not take
    /// (it spins until the job is done), and whether it ran from the poll loop.
    fn stolen_job() -> (Option<usize>, bool) {
        let done = AtomicBool::new(false);
        let (_, stolen) = rayon::join(
            || {
                while !done.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            },
            || {
                done.store(true, Ordering::SeqCst);
                (rayon::current_thread_index(), IN_POLL.get())
            },
        );
        stolen
    }

    /// On a pool of two threads: during a step, the other thread runs the
    /// pool's jobs from its poll loop; once the step is over the loop ends,
    /// and jobs are run by a woken thread again.
    #[test]
    fn the_other_thread_polls_during_a_step_only() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let caller = rayon::current_thread_index();
            let guard = Polling::start(&Device::flex()).expect("flex polls");
            let (thread, polled) = stolen_job();
            assert!(thread.is_some() && thread != caller);
            assert!(polled, "the job did not run from the poll loop");
            drop(guard);
            let deadline = Instant::now() + Duration::from_secs(5);
            while POLLING.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::yield_now();
            }
            assert!(!POLLING.load(Ordering::SeqCst), "the poll loop never ended");
            assert_eq!(STEPS.load(Ordering::SeqCst), 0);
            let (thread, polled) = stolen_job();
            assert!(thread.is_some() && thread != caller);
            assert!(!polled, "a job ran from a poll loop with no step under way");
        });
    }

    #[test]
    fn outside_a_pool_nothing_polls() {
        assert!(Polling::start(&Device::flex()).is_none());
    }
}
