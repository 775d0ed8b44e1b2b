//! The simulated venue's own delays stay out of what is measured against
//! it: every market move of a loop iteration leaves in its own ITCH packet,
//! stamped when it was applied, rather than all of them in one packet
//! stamped when the iteration began.

use genesis_sim::itch::ItchPorts;
use genesis_sim::{MarketFlow, MarketMove, SimConfig, Top, VenueSim, VenueSimSetup};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Four instruments' tops, all due in the same loop iteration, once.
struct FourAtOnce(bool);

impl MarketFlow for FourAtOnce {
    fn poll(&mut self, moves: &mut dyn FnMut(MarketMove)) {
        if std::mem::replace(&mut self.0, true) {
            return;
        }
        for instrument in 0..4 {
            let top = Top {
                bid_px: 10_000,
                bid_qty: 5,
                ask_px: 10_002,
                ask_qty: 5,
            };
            moves(MarketMove::Top { instrument, top });
        }
    }
}

fn config() -> SimConfig {
    SimConfig::cents(&["ALPHA", "BRAVO", "CHARLIE", "DELTA"], 64)
}

/// (message count, first message's ITCH timestamp) of a MoldUDP64 packet.
fn packet(bytes: &[u8]) -> (u16, u64) {
    let count = u16::from_be_bytes([bytes[18], bytes[19]]);
    if count == 0 || count == u16::MAX {
        return (0, 0);
    }
    // Length (2), then the message: type (1), locate (2), tracking (2), timestamp (6).
    let message = &bytes[22..];
    let mut timestamp = [0u8; 8];
    timestamp[2..].copy_from_slice(&message[5..11]);
    (count, u64::from_be_bytes(timestamp))
}

#[test]
fn each_move_leaves_in_its_own_packet() {
    let feed = UdpSocket::bind("127.0.0.1:0").unwrap();
    feed.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let ports = ItchPorts::bind(&config(), any, any).unwrap();
    let started = Instant::now();
    let mut venue = VenueSim::start(
        &config(),
        VenueSimSetup {
            fix_addr: any,
            sender_comp_id: "VENUE".into(),
            target_comp_id: "GENESIS".into(),
            itch: Some((ports, feed.local_addr().unwrap())),
            ws_addr: None,
            flow: Box::new(FourAtOnce(false)),
            now_ns: Box::new(move || started.elapsed().as_nanos() as u64 + 1),
            hold_market: false,
            cancel_on_disconnect: false,
        },
    )
    .unwrap();
    let mut packets = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 2_048];
    // The directory's packet, then one per move.
    while packets.len() < 5 && Instant::now() < deadline {
        if let Ok(count) = feed.recv(&mut buffer) {
            let (messages, timestamp) = packet(&buffer[..count]);
            if messages > 0 {
                packets.push((messages, timestamp));
            }
        }
    }
    venue.stop();
    assert_eq!(
        packets.len(),
        5,
        "the directory and four moves, each in its own packet: {packets:?}"
    );
    assert_eq!(packets[0].0, 4, "one directory message per instrument");
    for pair in packets[1..].windows(2) {
        assert!(
            pair[1].1 > pair[0].1,
            "each move stamped when applied: {packets:?}"
        );
    }
}
