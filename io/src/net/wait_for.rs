//! What a venue-side server's descriptor waits for, so the thread that
//! serves it can block on all of them at once (`poll`/`ppoll`, level
//! triggered) instead of polling on a timer: the server lists each
//! descriptor with its [`WaitFor`] before every wait, as its state stands.
//!
//! Owning thread: the server's; the list is rebuilt before each wait, so a
//! descriptor is never listed after its connection is gone.

/// Which readiness of a descriptor ends its owner's wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// Input to read: a connection to accept, bytes, a datagram.
    Readable,
    /// Room for queued output; input is not read in this state (listed as
    /// readable, unread input would end every wait at once).
    Writable,
    /// Input, and room for output that waits in the server's buffer.
    ReadableOrWritable,
}

impl WaitFor {
    /// Readable, or readable or writable while `output_waits`.
    pub fn input_or_output(output_waits: bool) -> WaitFor {
        if output_waits {
            WaitFor::ReadableOrWritable
        } else {
            WaitFor::Readable
        }
    }
}
