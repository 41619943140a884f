//! How late this process's tasks ran: a ticker on the suite's runtime records each tick that
//! woke more than a little after its time. Where the whole runtime stalled (two busy cores, a
//! scheduler that parked its threads), a request the operator sent before it could read a 429
//! reaches the simulator after the 429 by as long as the stall: the early-after-429 count takes
//! that into account instead of calling such a request early.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ticks this far apart.
const TICK: Duration = Duration::from_millis(10);
/// Lateness below this is not kept (ordinary timer granularity).
const NOTED: Duration = Duration::from_millis(20);

/// Stalls seen so far, as (when the tick was due, when it ran).
static STALLS: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());

/// Starts the ticker on the current runtime; it runs until the runtime stops.
pub fn watch() {
    tokio::spawn(async {
        let mut due = Instant::now() + TICK;
        loop {
            tokio::time::sleep_until(due.into()).await;
            let ran = Instant::now();
            if ran.duration_since(due) > NOTED {
                STALLS.lock().expect("lag lock").push((due, ran));
            }
            due = ran + TICK;
        }
    });
}

/// The longest stall that overlapped `from..to`.
pub fn longest_within(from: Instant, to: Instant) -> Duration {
    STALLS
        .lock()
        .expect("lag lock")
        .iter()
        .filter(|(due, ran)| *due < to && *ran > from)
        .map(|(due, ran)| ran.duration_since(*due))
        .max()
        .unwrap_or_default()
}
