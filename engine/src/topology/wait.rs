//! What a thread does when its input is empty.

use crate::config::WaitKind;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Wait {
    kind: WaitKind,
    sleep: Duration,
}

impl Wait {
    pub fn new(kind: WaitKind, sleep_us: u64) -> Wait {
        Wait {
            kind,
            sleep: Duration::from_micros(sleep_us.max(1)),
        }
    }

    pub fn kind(&self) -> WaitKind {
        self.kind
    }

    /// Waits once, by the thread's strategy.
    #[inline]
    pub fn idle(&self) {
        match self.kind {
            WaitKind::BusySpin => {}
            WaitKind::SpinHint => std::hint::spin_loop(),
            WaitKind::Yield => std::thread::yield_now(),
            WaitKind::Sleep => std::thread::sleep(self.sleep),
        }
    }

    /// Waits for room in a full ring: never sleeps longer than the strategy says.
    #[inline]
    pub fn backoff(&self) {
        match self.kind {
            WaitKind::BusySpin | WaitKind::SpinHint => std::hint::spin_loop(),
            WaitKind::Yield | WaitKind::Sleep => std::thread::yield_now(),
        }
    }
}
