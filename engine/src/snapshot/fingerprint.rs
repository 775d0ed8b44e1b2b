//! What makes saved state belong to a configuration: the instruments with
//! their grids (symbol, tick size, lot size, tick value, in order) and the
//! strategy's name. State saved under one fingerprint restores only under
//! the same one; the instruments part decides whether a restart may carry
//! state into a new config at all.
//!
//! The hash is FNV-1a (64 bit) over a canonical text, stable across builds.

use crate::config::Config;

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The instruments as the fingerprint sees them: `ALPHA tick 0.01 lot 1 value 1; ...`.
pub fn instruments_described(config: &Config) -> String {
    let instruments: Vec<String> = config
        .instruments
        .iter()
        .map(|i| {
            format!(
                "{} tick {} lot {} value {}",
                i.symbol, i.tick_size, i.lot_size, i.tick_value
            )
        })
        .collect();
    instruments.join("; ")
}

/// The fingerprint of the instruments alone.
pub fn instruments_fingerprint(config: &Config) -> u64 {
    fnv1a(format!("instruments v1: {}", instruments_described(config)).as_bytes())
}

/// The fingerprint a snapshot of this config and strategy carries.
pub fn fingerprint(config: &Config, strategy_name: &str) -> u64 {
    fnv1a(
        format!(
            "state v1: {}; strategy {strategy_name}",
            instruments_described(config)
        )
        .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // A grid or the strategy changes the fingerprint; a limit does not.
    #[test]
    fn what_changes_the_fingerprint() {
        let config = Config::builtin();
        let base = fingerprint(&config, "market-maker");
        let mut limits = config.clone();
        limits.instruments[0].limits.position_limit += 1;
        assert_eq!(fingerprint(&limits, "market-maker"), base);
        let mut grid = config.clone();
        grid.instruments[0].tick_size = "0.05".into();
        assert_ne!(fingerprint(&grid, "market-maker"), base);
        assert_ne!(fingerprint(&config, "none"), base);
        assert_eq!(
            instruments_fingerprint(&config),
            instruments_fingerprint(&limits)
        );
    }
}
