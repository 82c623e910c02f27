//! Timing: warm up, size each run from the warm-up rate to take about `TARGET`, time only the
//! work being measured, and print figures as `name: value` lines. Figures are printed, never
//! asserted.

use anyhow::Result;
use std::fmt::Display;
use std::time::{Duration, Instant};

/// How long a measured run should take; its event count is fixed from the warm-up rate.
const TARGET: Duration = Duration::from_millis(1500);

/// How long to warm up (caches, allocator, branch predictors; DynamoDB Local's JIT) before a run.
const WARM_UP: Duration = Duration::from_millis(300);

/// Events done and the time spent on them alone (preparation between timed sections excluded).
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub events: u64,
    pub elapsed: Duration,
}

impl Tally {
    fn add(&mut self, events: u64, elapsed: Duration) {
        self.events += events;
        self.elapsed += elapsed;
    }

    pub fn per_sec(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    pub fn ns_per_event(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.events as f64
    }

    /// How many events make a run of about `TARGET` at this rate, rounded up to `multiple`.
    fn count_for_target(&self, multiple: u64) -> u64 {
        let count = (self.per_sec() * TARGET.as_secs_f64()).ceil() as u64;
        count.max(1).div_ceil(multiple) * multiple
    }
}

/// Times `op(i)` for i = 0, 1, …: first for `WARM_UP` (not reported), then for a fixed count of
/// further calls sized from the warm-up rate. For work whose inputs can be reused (a pool of
/// deliveries cycled by `i`, or inputs read once).
pub async fn run(mut op: impl AsyncFnMut(u64) -> Result<()>) -> Result<Tally> {
    let started = Instant::now();
    let mut warm = 0;
    while started.elapsed() < WARM_UP {
        op(warm).await?;
        warm += 1;
    }
    let warm_up = Tally {
        events: warm,
        elapsed: started.elapsed(),
    };
    let count = warm_up.count_for_target(1);
    let started = Instant::now();
    for i in warm..warm + count {
        op(i).await?;
    }
    Ok(Tally {
        events: count,
        elapsed: started.elapsed(),
    })
}

/// Like `run`, for work that consumes its inputs (every event must be new): `prepare(n)` makes
/// the next `n` inputs untimed (it may apply seed events), `apply` handles them timed. Batches of
/// `batch` events; the warm-up is at least one batch.
pub async fn run_batches<T>(
    batch: u64,
    mut prepare: impl AsyncFnMut(u64) -> Result<Vec<T>>,
    mut apply: impl AsyncFnMut(Vec<T>) -> Result<()>,
) -> Result<Tally> {
    let mut timed = async |tally: &mut Tally| -> Result<()> {
        let inputs = prepare(batch).await?;
        let started = Instant::now();
        apply(inputs).await?;
        tally.add(batch, started.elapsed());
        Ok(())
    };
    let mut warm_up = Tally::default();
    while warm_up.elapsed < WARM_UP {
        timed(&mut warm_up).await?;
    }
    let count = warm_up.count_for_target(batch);
    let mut tally = Tally::default();
    while tally.events < count {
        timed(&mut tally).await?;
    }
    Ok(tally)
}

/// Prints one figure.
pub fn figure(name: &str, value: impl Display) {
    println!("{name}: {value}");
}

/// Prints a rate, rounded to whole events per second.
pub fn rate(name: &str, tally: &Tally) {
    figure(name, format!("{:.0}", tally.per_sec()));
}

/// Prints a cost, rounded to whole nanoseconds per event.
pub fn nanos(name: &str, tally: &Tally) {
    figure(name, format!("{:.0}", tally.ns_per_event()));
}
