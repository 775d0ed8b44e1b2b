//! Work a pipeline thread does beside its stages: a caller's job that
//! needs no event of the pipeline (a backtest reads and prepares its tape
//! ahead on the journal's core), run in steps between the thread's
//! batches so one thread, not two, is busy on that core.
//!
//! Owning thread: the pipeline thread that runs it (the last group's).
//! Invariant: a step is short (a bounded batch) and never blocks; the
//! thread waits only when neither its ring nor the step had work.

/// A job run in steps by a pipeline thread (see the module header).
pub trait SideWork: Send {
    /// What it does, for the plan's description ("tape").
    fn name(&self) -> &'static str;

    /// Does one bounded step of work; false when there was nothing to do.
    fn step(&mut self) -> bool;
}
