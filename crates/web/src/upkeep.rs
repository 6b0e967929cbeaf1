//! The stores' periodic work, scheduled for the service's life: the
//! factory's [`Upkeep`] ticks every [`Upkeep::TICK`] and purges every
//! purge interval, each on a timer of its own, so that a long purge never
//! holds up the probes behind readiness.

use std::time::Duration;

use sesame_factory::Upkeep;

/// Runs `upkeep`'s work for as long as the future is polled.
pub async fn run(upkeep: Upkeep) {
    let ticking = every(Upkeep::TICK, || upkeep.tick());
    let purging = every(upkeep.purge_every(), || upkeep.purge());
    tokio::join!(ticking, purging);
}

/// Runs `work` at once, then every `period`, for as long as the future is
/// polled; a run that overruns its period delays the next one rather than
/// bunching them up.
async fn every<F: Future<Output = ()>>(period: Duration, mut work: impl FnMut() -> F) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        work().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn work_runs_at_once_then_every_period_and_an_overrun_delays_the_next() {
        let runs = Arc::new(AtomicU32::new(0));
        let counting = {
            let runs = Arc::clone(&runs);
            tokio::spawn(every(Duration::from_secs(1), move || {
                let runs = Arc::clone(&runs);
                async move {
                    // The third run takes 2.5 s.
                    if runs.fetch_add(1, Ordering::SeqCst) == 2 {
                        tokio::time::sleep(Duration::from_millis(2500)).await;
                    }
                }
            }))
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "at once");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "then every second (at 1 s and 2 s)");
        // The run at 2 s ends at 4.5 s; the next starts then, and the one
        // after a period later (5.5 s), not at once.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4, "one run right after the overrun");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4, "not a second one to catch up");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 5, "then every period again");
        counting.abort();
    }
}
