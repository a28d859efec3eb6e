//! A fixed team of helper threads for statically split loops, OpenMP's model: part `i` of a
//! job always goes to the same thread, and a helper spins for a short while after each job
//! before it parks. A reduction called in a loop then hands its second half over in well under
//! a microsecond, where waking a parked rayon worker (and being woken when it finishes) took
//! 10-15 µs on the 2-core machine — as much as the whole sum over dim 1 of 1024x64.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

/// How long an idle helper keeps polling before it parks. Long enough to span the Python
/// between two ops, short enough that an idle process is soon quiet.
const SPIN: Duration = Duration::from_micros(200);

type Job = dyn Fn(usize) + Sync;

/// Bumped by `park_helpers`: a polling helper that sees it change parks at once.
static PARK: AtomicU64 = AtomicU64::new(0);

/// Parks idle helpers now instead of after their polling time: called before work goes to
/// rayon's pool (gemm, faer, the kernels not on the team), whose threads share the cores with
/// them. A helper polling through a 256² matmul had slowed it by 60%.
pub fn park_helpers() {
    PARK.fetch_add(1, Relaxed);
}

struct Work {
    job: *const Job,
    /// One flag per part: whoever sets it runs the part.
    claims: *const AtomicBool,
    parts: usize,
    stride: usize,
}

// A helper's `state` is `epoch << 2 | phase`: the caller posts, the helper enters, and the
// helper's finish (or the caller's revoke of a job nobody entered) makes it idle again.
const IDLE: u64 = 0;
const POSTED: u64 = 1;
const RUNNING: u64 = 2;

struct Helper {
    state: AtomicU64,
    sleeping: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

struct Team {
    helpers: Vec<Helper>,
    /// One caller at a time; others (another Python thread, a nested split) fall back.
    busy: Mutex<()>,
    work: UnsafeCell<Work>,
    panicked: AtomicBool,
}

// SAFETY: `work` is written only by the caller holding `busy`, before it posts the job with a
// SeqCst store of `state`, and read by a helper only after it has entered that job with a
// compare-exchange; the caller returns only once each helper is idle again, having either
// revoked the job before the helper entered it or waited for the helper to finish it.
unsafe impl Sync for Team {}
unsafe impl Send for Team {}

fn team() -> Option<&'static Team> {
    static TEAM: OnceLock<Option<&'static Team>> = OnceLock::new();
    *TEAM.get_or_init(|| {
        let n = rayon::current_num_threads().saturating_sub(1);
        if n == 0 {
            return None;
        }
        let noop: &'static Job = &|_| {};
        let team: &'static Team = Box::leak(Box::new(Team {
            helpers: (0..n)
                .map(|_| Helper { state: AtomicU64::new(IDLE), sleeping: AtomicBool::new(false), lock: Mutex::new(()), wake: Condvar::new() })
                .collect(),
            busy: Mutex::new(()),
            work: UnsafeCell::new(Work { job: noop as *const Job, claims: std::ptr::null(), parts: 0, stride: 1 }),
            panicked: AtomicBool::new(false),
        }));
        for w in 0..n {
            let spawned = std::thread::Builder::new().name(format!("rgrad-team-{}", w + 1)).spawn(move || helper(team, w));
            if spawned.is_err() {
                return None;
            }
        }
        Some(team)
    })
}

/// Runs part `i` unless someone has already claimed it.
///
/// # Safety
/// `work` must be the job being run, with `i < parts`.
unsafe fn claim_and_run(work: &Work, i: usize) {
    if !(*work.claims.add(i)).swap(true, AcqRel) {
        (*work.job)(i);
    }
}

fn helper(team: &'static Team, w: usize) {
    let me = &team.helpers[w];
    loop {
        let start = Instant::now();
        let park = PARK.load(Relaxed);
        let mut s = me.state.load(Acquire);
        while s & 3 != POSTED {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            let idle = start.elapsed();
            if idle > SPIN / 4 {
                // Lets a rayon worker that shares this core run while we poll; not at first,
                // since a yield costs as much as the handoff it would delay.
                std::thread::yield_now();
            }
            if idle > SPIN || PARK.load(Relaxed) != park {
                let mut g = me.lock.lock().unwrap_or_else(|e| e.into_inner());
                me.sleeping.store(true, SeqCst);
                while me.state.load(SeqCst) & 3 != POSTED {
                    g = me.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                me.sleeping.store(false, SeqCst);
            }
            s = me.state.load(Acquire);
        }
        let epoch = s >> 2;
        if me.state.compare_exchange(s, epoch << 2 | RUNNING, AcqRel, Acquire).is_err() {
            continue; // revoked: the caller ran our parts itself
        }
        // SAFETY: see `unsafe impl Sync for Team`.
        let work = unsafe { &*team.work.get() };
        let ran = catch_unwind(AssertUnwindSafe(|| {
            let mut i = w + 1;
            while i < work.parts {
                unsafe { claim_and_run(work, i) };
                i += work.stride;
            }
        }));
        if ran.is_err() {
            team.panicked.store(true, SeqCst);
        }
        me.state.store(epoch << 2 | IDLE, Release);
    }
}

/// Takes back every helper's job: revoked if it was never entered, else waited for. Runs on
/// unwinding too, since a job borrows the caller's stack.
struct Join<'a>(&'a [Helper]);

impl Drop for Join<'_> {
    fn drop(&mut self) {
        for h in self.0 {
            let s = h.state.load(Acquire);
            let epoch = s >> 2;
            if s & 3 == POSTED && h.state.compare_exchange(s, epoch << 2 | IDLE, AcqRel, Acquire).is_ok() {
                continue;
            }
            let mut spins = 0u32;
            while h.state.load(Acquire) & 3 != IDLE {
                spins += 1;
                if spins < 1 << 12 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Runs `f(0), ..., f(parts - 1)`, each exactly once: part `i` on team member
/// `i % (helpers + 1)`, the caller being member 0, except that the caller, once done with its
/// own parts, takes over every part a helper has not started — so a helper that is parked, or
/// descheduled behind the caller on one core, costs a little time rather than a stall. Returns
/// false, running nothing, when there is no team or it is busy.
pub fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    let Some(team) = team() else { return false };
    let _busy = match team.busy.try_lock() {
        Ok(g) => g,
        // A part panicked last time; the panic has reached that caller already.
        Err(TryLockError::Poisoned(e)) => e.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    team.panicked.store(false, SeqCst);
    let helpers = &team.helpers[..team.helpers.len().min(parts.saturating_sub(1))];
    let claims: Vec<AtomicBool> = (0..parts).map(|_| AtomicBool::new(false)).collect();
    let stride = helpers.len() + 1;
    // SAFETY: `_busy` makes this the only writer; the lifetime is erased only until `Join`
    // has taken every job back.
    let work = unsafe {
        let job = std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Job>(f);
        *team.work.get() = Work { job, claims: claims.as_ptr(), parts, stride };
        &*team.work.get()
    };
    for h in helpers {
        let epoch = (h.state.load(Relaxed) >> 2) + 1;
        h.state.store(epoch << 2 | POSTED, SeqCst);
        if h.sleeping.load(SeqCst) {
            drop(h.lock.lock().unwrap_or_else(|e| e.into_inner()));
            h.wake.notify_one();
        }
    }
    let join = Join(helpers);
    // SAFETY: every index is below `parts`.
    unsafe {
        let mut i = 0;
        while i < parts {
            claim_and_run(work, i);
            i += stride;
        }
        for i in (0..parts).rev().filter(|i| i % stride != 0) {
            claim_and_run(work, i);
        }
    }
    drop(join);
    if team.panicked.swap(false, SeqCst) {
        panic!("a parallel part of a CPU kernel panicked");
    }
    true
}

/// `f(0), ..., f(parts - 1)` on the team, or on rayon's pool when the team is busy.
pub fn parallel_for(parts: usize, f: impl Fn(usize) + Sync + Send) {
    if !run(parts, &f) {
        use rayon::prelude::*;
        (0..parts).into_par_iter().for_each(f);
    }
}

/// `f(i)` for every i in 0..n, in parts of `chunk` consecutive indices (a part per index
/// would cost a claim per element).
pub fn parallel_for_each(n: usize, chunk: usize, f: impl Fn(usize) + Sync + Send) {
    let chunk = chunk.max(1);
    parallel_for(n.div_ceil(chunk), |p| (p * chunk..((p + 1) * chunk).min(n)).for_each(&f));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once_across_repeated_and_concurrent_calls() {
        let threads: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| {
                    for parts in [1usize, 2, 3, 7, 64] {
                        for round in 0..200 {
                            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                            let f = |i: usize| {
                                hits[i].fetch_add(1, SeqCst);
                            };
                            if !run(parts, &f) {
                                (0..parts).for_each(f);
                            }
                            assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "parts {parts} round {round}");
                            if round % 50 == 0 {
                                // Let the helper park, so the wake-up path is exercised too.
                                std::thread::sleep(SPIN * 3);
                            }
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_panicking_part_reaches_the_caller_and_the_team_survives() {
        if team().is_none() {
            return;
        }
        // The other test may hold the team; a busy team runs nothing and says so.
        loop {
            let r = catch_unwind(|| {
                run(4, &|i| {
                    if i == 1 {
                        panic!("part one");
                    }
                })
            });
            match r {
                Ok(false) => std::thread::yield_now(),
                Ok(true) => panic!("the helper's panic was lost"),
                Err(_) => break,
            }
        }
        let n = AtomicUsize::new(0);
        let ran = run(4, &|_| {
            n.fetch_add(1, SeqCst);
        });
        assert_eq!(n.load(SeqCst), if ran { 4 } else { 0 });
    }
}
