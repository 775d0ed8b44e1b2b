//! The floor tick-to-trade is compared with: a loopback TCP round trip
//! (8 bytes there and back, TCP_NODELAY, blocking sockets), measured in the
//! same run as the engine.

use genesis_engine::clock::EpochClock;
use genesis_engine::telemetry::metrics::new_histogram;
use hdrhistogram::Histogram;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// `samples` loopback TCP round trips, in ns.
pub fn loopback_tcp_rtt(samples: usize) -> std::io::Result<Histogram<u64>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let echo = std::thread::Builder::new().name("rtt-echo".into()).spawn(
        move || -> std::io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            let mut buffer = [0u8; 8];
            for _ in 0..samples {
                stream.read_exact(&mut buffer)?;
                stream.write_all(&buffer)?;
            }
            Ok(())
        },
    )?;
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let clock = EpochClock::new();
    let mut histogram = new_histogram();
    let mut buffer = [0u8; 8];
    for sample in 0..samples {
        let start = clock.raw();
        stream.write_all(&(sample as u64).to_le_bytes())?;
        stream.read_exact(&mut buffer)?;
        histogram.saturating_record(clock.delta_ns(start, clock.raw()).max(1));
    }
    echo.join()
        .map_err(|_| std::io::Error::other("echo thread panicked"))??;
    Ok(histogram)
}
