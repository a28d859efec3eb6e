//! Random generators: a seed plus a Philox counter offset. Each draw reserves a range of the
//! counter, so draws are reproducible for a seed and independent of threading.

use parking_lot::Mutex;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// torch's default seed for a fresh default generator.
pub const DEFAULT_SEED: u64 = 67280421310721;

#[derive(Debug)]
pub struct Generator {
    state: Mutex<(u64, u64)>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Generator { state: Mutex::new((seed, 0)) }
    }

    pub fn manual_seed(&self, seed: u64) {
        *self.state.lock() = (seed, 0);
    }

    /// Seeds from the clock, as torch.seed(); returns the new seed.
    pub fn seed(&self) -> u64 {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        let s = crate::cpu::random::block(t, 0, 0);
        let seed = ((s[0] as u64) << 32 | s[1] as u64) & ((1u64 << 63) - 1);
        self.manual_seed(seed);
        seed
    }

    pub fn initial_seed(&self) -> u64 {
        self.state.lock().0
    }

    /// Reserves `n` counters; returns (seed, first offset).
    pub fn reserve(&self, n: u64) -> (u64, u64) {
        let mut g = self.state.lock();
        let off = g.1;
        g.1 = g.1.wrapping_add(n);
        (g.0, off)
    }

    pub fn get_state(&self) -> (u64, u64) {
        *self.state.lock()
    }

    pub fn set_state(&self, seed: u64, offset: u64) {
        *self.state.lock() = (seed, offset);
    }
}

pub fn default_generator() -> &'static Generator {
    static G: OnceLock<Generator> = OnceLock::new();
    G.get_or_init(|| Generator::new(DEFAULT_SEED))
}
