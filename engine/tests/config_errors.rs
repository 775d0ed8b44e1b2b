//! Configuration: the example files stay valid, and every kind of mistake is
//! refused with a message that names the key.

use genesis_engine::config::{Config, WaitKind};

fn error_of(toml: &str) -> String {
    Config::parse(toml, "test.toml").unwrap_err().to_string()
}

// The shipped dev and prod examples parse (prod with pinning off: this host has other cores).
#[test]
fn example_configs_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dev = Config::load(std::path::Path::new(&format!("{root}/config/dev.toml"))).unwrap();
    assert_eq!(dev.instruments.len(), 2);
    assert_eq!(dev.topology.wait, WaitKind::Sleep);
    let text = std::fs::read_to_string(format!("{root}/config/prod.toml")).unwrap();
    let mut prod: Config = toml::from_str(&text).unwrap();
    assert_eq!(prod.topology.wait, WaitKind::BusySpin);
    prod.topology.pin_threads = false;
    prod.validate("prod.toml").unwrap();
}

// An empty file is the built-in default.
#[test]
fn empty_config_is_the_default() {
    assert_eq!(Config::parse("", "empty.toml").unwrap(), Config::builtin());
}

// A misspelt key is refused by name, with the keys that would have been right.
#[test]
fn unknown_key_is_named() {
    let err = error_of("[risk]\nmax_open_order = 5\n");
    assert!(
        err.contains("max_open_order") && err.contains("max_open_orders"),
        "{err}"
    );
    assert!(err.contains("test.toml"), "{err}");
}

// A value of the wrong type names the key and the line.
#[test]
fn bad_value_is_named() {
    let err = error_of("[topology]\nring_capacity = \"big\"\n");
    assert!(err.contains("ring_capacity"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    let err = error_of("[topology]\nwait = \"nap\"\n");
    assert!(err.contains("nap") && err.contains("busy-spin"), "{err}");
}

// A value of the right type but out of range names the key.
#[test]
fn out_of_range_value_is_named() {
    let err = error_of("[topology]\nring_capacity = 1000\n");
    assert!(
        err.contains("`topology.ring_capacity`") && err.contains("power of two"),
        "{err}"
    );
    let err = error_of("[[instruments]]\nsymbol = \"X\"\ntick_size = \"0.0\"\nlot_size = \"1\"\n");
    assert!(err.contains("`instruments[0].tick_size`"), "{err}");
    let err = error_of("[risk]\nmax_open_orders = 0\n");
    assert!(err.contains("`risk.max_open_orders`"), "{err}");
}

// An impossible core plan: a core that comes back after another stage's core.
#[test]
fn impossible_core_plan_is_named() {
    let err = error_of("[topology]\npin_threads = false\ncores = { ingest = 0, risk = 1, strategy = 0, execution = 0, journal = 0 }\n");
    assert!(
        err.contains("`topology.cores`") && err.contains("strategy"),
        "{err}"
    );
}

// A core the machine does not have, with pinning on.
#[test]
fn missing_core_is_named() {
    let err = error_of("[topology]\ncores = { ingest = 0, risk = 0, strategy = 0, execution = 0, journal = 4096 }\n");
    assert!(
        err.contains("`topology.cores.journal`") && err.contains("4096"),
        "{err}"
    );
}

// A per-thread wait for a core no stage runs on.
#[test]
fn wait_override_for_unused_core_is_named() {
    let err = error_of("[topology.waits]\n\"3\" = \"busy-spin\"\n");
    assert!(err.contains("`topology.waits.3`"), "{err}");
}

// An unknown strategy name lists the bundled ones.
#[test]
fn unknown_strategy_is_named() {
    let err = error_of("[strategy]\nname = \"moonshot\"\n");
    assert!(
        err.contains("`strategy.name`") && err.contains("market-maker"),
        "{err}"
    );
}
