//! The deny-by-default WASI that components from other toolchains get: no
//! preopened directories, no environment, no arguments, no network, stdout
//! and stderr captured into the log, and clocks and random numbers that
//! depend only on the component, so a run is reproducible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// Bytes of stdout/stderr a guest may write per call. wasmtime's memory pipe
/// traps a write past its capacity, so this is generous; the log shows only
/// the first lines of it (see `sandbox`).
const CAPTURE_BYTES: usize = 4 << 20;

/// Bytes of the random stream before it repeats.
const RANDOM_BYTES: usize = 4096;

/// The wall clock a guest sees: 2025-01-01T00:00:00Z, a microsecond later at each reading.
const WALL_START_SECS: u64 = 1_735_689_600;

/// A clock that starts at a fixed instant and advances a fixed step per reading.
struct SteppingClock {
    start: Duration,
    readings: AtomicU64,
}

impl SteppingClock {
    fn new(start: Duration) -> Self {
        SteppingClock {
            start,
            readings: AtomicU64::new(0),
        }
    }

    fn next(&self) -> Duration {
        let n = self.readings.fetch_add(1, Ordering::Relaxed);
        self.start + Duration::from_micros(n)
    }
}

impl HostWallClock for SteppingClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }

    fn now(&self) -> Duration {
        self.next()
    }
}

impl HostMonotonicClock for SteppingClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.next().as_nanos() as u64
    }
}

/// Bytes derived from the component's hash, one stream per purpose.
fn stream(component_blake3: &str, purpose: &str, len: usize) -> Vec<u8> {
    let mut hasher = blake3::Hasher::new_derive_key("pgwasm host wasi random v1");
    hasher.update(component_blake3.as_bytes());
    hasher.update(purpose.as_bytes());
    let mut out = vec![0; len];
    hasher.finalize_xof().fill(&mut out);
    out
}

/// Captured output of a call.
#[derive(Clone)]
pub struct Captured {
    /// The guest's stdout.
    pub stdout: MemoryOutputPipe,
    /// The guest's stderr.
    pub stderr: MemoryOutputPipe,
}

/// A fresh context for one call of the component with this blake3.
pub fn context(component_blake3: &str) -> (WasiCtx, Captured) {
    let captured = Captured {
        stdout: MemoryOutputPipe::new(CAPTURE_BYTES),
        stderr: MemoryOutputPipe::new(CAPTURE_BYTES),
    };
    let seed = stream(component_blake3, "insecure-seed", 16);
    let ctx = WasiCtxBuilder::new()
        .stdout(captured.stdout.clone())
        .stderr(captured.stderr.clone())
        .wall_clock(SteppingClock::new(Duration::from_secs(WALL_START_SECS)))
        .monotonic_clock(SteppingClock::new(Duration::ZERO))
        .secure_random(Deterministic::new(stream(
            component_blake3,
            "random",
            RANDOM_BYTES,
        )))
        .insecure_random(Deterministic::new(stream(
            component_blake3,
            "insecure",
            RANDOM_BYTES,
        )))
        .insecure_random_seed(u128::from_le_bytes(seed.try_into().expect("16 bytes")))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    (ctx, captured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_step_deterministically() {
        let c = SteppingClock::new(Duration::from_secs(10));
        assert_eq!(HostWallClock::now(&c), Duration::from_secs(10));
        assert_eq!(
            HostWallClock::now(&c),
            Duration::from_secs(10) + Duration::from_micros(1)
        );
        let m = SteppingClock::new(Duration::ZERO);
        assert_eq!(HostMonotonicClock::now(&m), 0);
        assert_eq!(HostMonotonicClock::now(&m), 1_000);
    }

    #[test]
    fn random_depends_only_on_the_component() {
        assert_eq!(stream("aa", "random", 32), stream("aa", "random", 32));
        assert_ne!(stream("aa", "random", 32), stream("ab", "random", 32));
        assert_ne!(stream("aa", "random", 32), stream("aa", "insecure", 32));
    }
}
