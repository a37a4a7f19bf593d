//! A small persistent worker pool for splitting one GEMM across threads without allocating.
//!
//! Workers are spawned on first need (the pool grows to the largest thread count asked for, up
//! to [`MAX_WORKERS`]) and then wait for jobs: spinning for [`SPIN`], then asleep on a
//! `Condvar`. A job is a descriptor on the caller's stack
//! — a function pointer, a pointer to the caller's closure and the number of parts — handed over
//! through a `Mutex`: no heap allocation per job. Assignment is static: the caller runs part 0 and
//! worker `w` runs part `w + 1`, so a given shape always puts the same part on the same thread
//! and each thread's packing buffers (thread-locals) stop growing after the first call. When
//! another caller already holds the pool, the caller waits for it (running the other parts itself
//! would grow its own buffers to their sizes, an allocation in a steady state); a call from
//! inside a part (a nested job), or when a worker could not be spawned, runs the missing parts on
//! the calling thread: the result does not depend on which thread ran a part.
//!
//! PyTorch equivalent: the intra-op thread pool (`torch.set_num_threads`).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Upper bound on the number of worker threads (so a huge `DL_NUM_THREADS` cannot spawn
/// thousands of threads).
pub(super) const MAX_WORKERS: usize = 63;

/// One job: `call(ctx, part)` for `part` in `1..parts` on the workers.
#[derive(Clone, Copy)]
struct Job {
    call: unsafe fn(*const (), usize),
    ctx: *const (),
    parts: usize,
}

thread_local! {
    /// Whether this thread is running a part of a job (a worker, always; a caller, until its
    /// job finished): a job posted from there runs inline instead of waiting for the pool.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is running a part of a job, where a job it posts would run inline.
pub(super) fn in_job() -> bool {
    IN_JOB.get()
}

/// The state shared by the caller and the workers, behind [`Pool::state`].
struct State {
    /// Bumped for every job posted; a worker runs a job once, when it sees a new generation.
    generation: u64,
    /// The current job (`None` between jobs).
    job: Option<Job>,
    /// Parts of the current job not yet finished by the workers.
    pending: usize,
    /// Whether a worker part of the current job panicked.
    panicked: bool,
    /// Whether a caller is using the pool.
    busy: bool,
    /// Workers spawned so far.
    workers: usize,
}

// SAFETY: `Job::ctx` points to a `Sync` closure (`Pool::run` requires `F: Sync`) that outlives
// the job: the caller does not return (nor unwind past `Pool::run`) before every worker part
// has finished, and workers only read `ctx` while their part is pending.
unsafe impl Send for State {}

/// The pool: the shared state and two condition variables (new job; job finished).
pub(super) struct Pool {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    /// Copies of `State::generation` and `State::pending`, written under the lock and read
    /// without it by waiters while they spin ([`spin_until`]): only a hint when to take the
    /// lock, where the state itself is checked.
    posted: AtomicU64,
    unfinished: AtomicUsize,
}

/// The process-wide pool used by [`super::gemm`].
pub(super) static POOL: Pool = Pool {
    state: Mutex::new(State {
        generation: 0,
        job: None,
        pending: 0,
        panicked: false,
        busy: false,
        workers: 0,
    }),
    work: Condvar::new(),
    done: Condvar::new(),
    posted: AtomicU64::new(0),
    unfinished: AtomicUsize::new(0),
};

/// How long a waiter (a worker for the next job, a caller for the workers' parts) spins before
/// it sleeps on its condition variable. A thread that sleeps lets its virtual CPU halt, and on
/// the 2-core virtual machine of the benchmarks waking it took 20–60 µs at the median and up to
/// 2 ms (`bench/NOTES.md`, section 38), while a job of a LeNet-5 step lasts 20–200 µs and the
/// serial code between two jobs about as long. GNU OpenMP, under PyTorch, spins too
/// (`GOMP_SPINCOUNT`).
const SPIN: Duration = Duration::from_micros(300);

/// Returns when `ready()` holds or after [`SPIN`], yielding the CPU between checks (a
/// `sched_yield`: any other thread that is ready runs instead).
fn spin_until(ready: impl Fn() -> bool) {
    let deadline = Instant::now() + SPIN;
    while !ready() && Instant::now() < deadline {
        std::thread::yield_now();
    }
}

/// Calls the closure of type `F` behind `ctx` on `part`.
///
/// # Safety
/// `ctx` must point to a live `F`.
unsafe fn call<F: Fn(usize)>(ctx: *const (), part: usize) {
    // SAFETY: caller contract: `ctx` is a live `F`.
    let f = unsafe { &*ctx.cast::<F>() };
    f(part);
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock, so poisoning cannot carry a broken invariant.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f(0)`, …, `f(parts − 1)`, each exactly once, `f(0)` on the calling thread and the
    /// others on workers (after waiting for the pool if another caller holds it; inline when
    /// called from inside a part); returns when all have finished. Allocates only
    /// when it spawns workers (the first time a thread count is asked for).
    ///
    /// # Panics
    /// If `f` panics (on the caller's part, or on a worker's: then after all parts finished).
    pub(super) fn run<F: Fn(usize) + Sync>(&'static self, parts: usize, f: &F) {
        if parts <= 1 || IN_JOB.get() {
            (0..parts).for_each(f);
            return;
        }
        let mut st = self.lock();
        while st.busy {
            st = self.done.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        while st.workers < (parts - 1).min(MAX_WORKERS) {
            let (index, seen) = (st.workers, st.generation);
            let spawned = std::thread::Builder::new()
                .name(format!("dl-gemm-{}", index + 1))
                .spawn(move || self.work_loop(index, seen));
            if spawned.is_err() {
                break;
            }
            st.workers += 1;
        }
        let helped = (parts - 1).min(st.workers);
        st.busy = true;
        st.generation = st.generation.wrapping_add(1);
        st.job = Some(Job {
            call: call::<F>,
            ctx: (f as *const F).cast(),
            parts: helped + 1,
        });
        st.pending = helped;
        st.panicked = false;
        self.unfinished.store(helped, Ordering::Release);
        self.posted.store(st.generation, Ordering::Release);
        drop(st);
        IN_JOB.set(true);
        self.work.notify_all();
        // Waits for the workers even if the caller's part panics, so `f` outlives their use.
        let finish = Finish(self);
        f(0);
        (helped + 1..parts).for_each(f);
        drop(finish);
    }

    /// Worker `index`: waits for each job after generation `seen` and runs its part, if the job
    /// has one for it.
    fn work_loop(&self, index: usize, mut seen: u64) {
        IN_JOB.set(true);
        loop {
            spin_until(|| self.posted.load(Ordering::Acquire) != seen);
            let mut st = self.lock();
            while st.generation == seen {
                st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
            seen = st.generation;
            let Some(job) = st.job else { continue };
            let part = index + 1;
            if part >= job.parts {
                continue;
            }
            drop(st);
            // SAFETY: `job.ctx` is the caller's `F`, matching `job.call`, and stays alive until
            // `pending` reaches 0, which happens only after this part reports below.
            let ok =
                catch_unwind(AssertUnwindSafe(|| unsafe { (job.call)(job.ctx, part) })).is_ok();
            let mut st = self.lock();
            st.panicked |= !ok;
            st.pending -= 1;
            self.unfinished.store(st.pending, Ordering::Release);
            if st.pending == 0 {
                self.done.notify_all();
            }
        }
    }
}

/// Waits for the workers' parts of the current job, then frees the pool and wakes callers waiting
/// for it (on drop, so also while the caller unwinds).
struct Finish(&'static Pool);

impl Drop for Finish {
    fn drop(&mut self) {
        let pool = self.0;
        spin_until(|| pool.unfinished.load(Ordering::Acquire) == 0);
        let mut st = pool.lock();
        while st.pending > 0 {
            st = pool.done.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.job = None;
        st.busy = false;
        let panicked = std::mem::take(&mut st.panicked);
        drop(st);
        IN_JOB.set(false);
        // Wakes the callers waiting for the pool (they share the condition variable).
        pool.done.notify_all();
        if panicked && !std::thread::panicking() {
            panic!("gemm: a worker thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_once_and_on_its_own_thread() {
        let hits: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
        let names: Vec<Mutex<String>> = (0..4).map(|_| Mutex::new(String::new())).collect();
        for _ in 0..50 {
            POOL.run(4, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
                let name = std::thread::current().name().unwrap_or("").to_string();
                *names[i].lock().unwrap() = name;
            });
        }
        for h in &hits {
            assert_eq!(h.load(Ordering::Relaxed), 50);
        }
        // Parts 1.. ran on workers unless another test held the pool at that moment; the last
        // run is checked only for distinct threads when it was not run inline.
        let names: Vec<String> = names.iter().map(|n| n.lock().unwrap().clone()).collect();
        if names[1].starts_with("dl-gemm-") {
            assert_eq!(names[1..], ["dl-gemm-1", "dl-gemm-2", "dl-gemm-3"]);
        }
    }

    #[test]
    fn a_panicking_worker_part_is_reported_to_the_caller() {
        let result = catch_unwind(|| {
            POOL.run(2, &|i| {
                if i == 1 {
                    panic!("part 1 failed");
                }
            })
        });
        assert!(result.is_err());
        // The pool is usable afterwards.
        let hits = AtomicUsize::new(0);
        POOL.run(2, &|_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 2);
    }
}
