//! Configuration: the example files stay valid, and every kind of mistake is
//! refused with a message that names the key.

use genesis_engine::config::{Config, WaitKind};

fn error_of(toml: &str) -> String {
    Config::parse(toml, "test.toml").unwrap_err().to_string()
}

// The shipped dev, prod and synthetic examples parse (prod with pinning off: this host has other cores).
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
    let synthetic = Config::load(std::path::Path::new(&format!(
        "{root}/config/synthetic.toml"
    )));
    let synthetic = synthetic.unwrap();
    assert_eq!(
        synthetic.market_data.source,
        genesis_engine::config::MarketDataSource::Synthetic
    );
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

// An unknown market-data source lists every source this build has.
#[test]
fn unknown_source_lists_the_valid_ones() {
    let err = error_of("[market_data]\nsource = \"carrier-pigeon\"\n");
    assert!(err.contains("`market_data.source`"), "{err}");
    for source in ["synthetic", "itch-sim", "itch", "binance-sim", "binance-ws"] {
        assert!(err.contains(&format!("\"{source}\"")), "{source}: {err}");
    }
}

// The shipped examples carry the socket options: busy poll on in prod, off in dev.
#[test]
fn socket_options_from_config() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dev = Config::load(std::path::Path::new(&format!("{root}/config/dev.toml"))).unwrap();
    let options = dev.market_data.socket_options();
    assert_eq!(options.busy_poll_us, None);
    assert_eq!(options.recv_buffer_bytes, Some(4 << 20));
    assert!(options.tcp_nodelay);
    let text = std::fs::read_to_string(format!("{root}/config/prod.toml")).unwrap();
    let prod: Config = toml::from_str(&text).unwrap();
    assert_eq!(prod.market_data.socket_options().busy_poll_us, Some(50));
    let zero = Config::parse(
        "[market_data.socket]\nrecv_buffer_bytes = 0\ntcp_nodelay = false\n",
        "t",
    )
    .unwrap();
    let options = zero.market_data.socket_options();
    assert_eq!(
        (options.recv_buffer_bytes, options.tcp_nodelay),
        (None, false)
    );
    let err = error_of("[market_data.socket]\nbusy_poll = 50\n");
    assert!(
        err.contains("busy_poll") && err.contains("busy_poll_us"),
        "{err}"
    );
}

// An external ITCH feed needs both of its addresses, each named when it is bad.
#[test]
fn itch_addresses_are_checked() {
    let ok = "[market_data]\nsource = \"itch\"\n[market_data.itch]\nfeed_bind = \"0.0.0.0:26400\"\nrequest_server = \"10.0.0.5:26401\"\n";
    Config::parse(ok, "t").unwrap();
    let err = error_of(
        "[market_data]\nsource = \"itch\"\n[market_data.itch]\nfeed_bind = \"localhost\"\n",
    );
    assert!(
        err.contains("`market_data.itch.feed_bind`") && err.contains("localhost"),
        "{err}"
    );
    let err = error_of(
        "[market_data]\nsource = \"itch\"\n[market_data.itch]\nrequest_server = \"10.0.0.5\"\n",
    );
    assert!(err.contains("`market_data.itch.request_server`"), "{err}");
    // Not checked for the other sources, whose feeds have no such addresses.
    Config::parse("[market_data.itch]\nfeed_bind = \"nowhere\"\n", "t").unwrap();
}

// The snapshot server is an address or "" (retransmission alone); the
// recovery's thresholds are checked for every ITCH source, each by name.
#[test]
fn itch_recovery_settings_are_checked() {
    let external = "[market_data]\nsource = \"itch\"\n[market_data.itch]\n";
    Config::parse(&format!("{external}snapshot_server = \"\"\n"), "t").unwrap();
    let err = error_of(&format!("{external}snapshot_server = \"glimpse\"\n"));
    assert!(err.contains("`market_data.itch.snapshot_server`"), "{err}");
    for (line, key) in [
        (
            "snapshot_backoff_initial_ms = 100\nsnapshot_backoff_max_ms = 10",
            "snapshot_backoff_max_ms",
        ),
        ("buffer_datagrams_max = 0", "buffer_datagrams_max"),
        ("buffer_bytes_max = 100", "buffer_bytes_max"),
        ("snapshot_username = \"toolongname\"", "snapshot_username"),
        (
            "snapshot_password_file = \"p\"\nsnapshot_password_env = \"P\"",
            "snapshot_password_file",
        ),
    ] {
        let err = error_of(&format!("[market_data.itch]\n{line}\n"));
        assert!(
            err.contains(&format!("`market_data.itch.{key}`")),
            "{line}: {err}"
        );
    }
    let err = error_of("[market_data]\nsim_loss_ppm = 2000000\n");
    assert!(err.contains("`market_data.sim_loss_ppm`"), "{err}");
}

// binance-ws needs a stream URL: raw or combined, ws:// or wss://; a
// rest_url must be an http(s) base; the snapshot source and TLS roots are
// kinds named in errors.
#[test]
fn binance_url_is_checked() {
    let instrument =
        "[[instruments]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.01\"\nlot_size = \"0.001\"\n";
    let with_url = |url: &str| {
        format!("{instrument}[market_data]\nsource = \"binance-ws\"\n[market_data.binance]\nurl = \"{url}\"\n")
    };
    let err = error_of(&format!(
        "{instrument}[market_data]\nsource = \"binance-ws\"\n"
    ));
    assert!(
        err.contains("`market_data.binance.url`") && err.contains("needs"),
        "{err}"
    );
    for url in [
        "wss://stream.binance.com:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms",
        "wss://stream.binance.com:9443/ws/btcusdt@depth@100ms",
        "ws://127.0.0.1:9443/stream?streams=btcusdt@bookTicker",
    ] {
        Config::parse(&with_url(url), "t").unwrap();
    }
    let err = error_of(&with_url("http://127.0.0.1:9443/ws/btcusdt@bookTicker"));
    assert!(
        err.contains("`market_data.binance.url`") && err.contains("scheme"),
        "{err}"
    );
    let err = error_of(&with_url("ws://127.0.0.1:9443/api/v3/depth"));
    assert!(err.contains("neither raw"), "{err}");
    let url = "ws://127.0.0.1:9443/ws";
    let err = error_of(&format!(
        "{}rest_url = \"api.binance.com\"\n",
        with_url(url)
    ));
    assert!(err.contains("`market_data.binance.rest_url`"), "{err}");
    let err = error_of(&format!("{}snapshot_source = \"carrier\"\n", with_url(url)));
    assert!(
        err.contains("`market_data.binance.snapshot_source`") && err.contains("\"websocket-api\""),
        "{err}"
    );
    let err = error_of(&format!("{}tls_roots = \"mine\"\n", with_url(url)));
    assert!(err.contains("\"webpki\" and \"system\""), "{err}");
    let config = Config::parse(
        &with_url("ws://127.0.0.1:9443/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms"),
        "t",
    )
    .unwrap();
    let ws = config.market_data.ws_config();
    assert_eq!(ws.ping_interval_ns, 20_000_000_000);
    assert_eq!(ws.ping_timeout_ns, 10_000_000_000);
    assert_eq!(ws.close_timeout_ns, 5_000_000_000);
    assert_eq!(ws.message_bytes_max, 1 << 20);
    assert_eq!(ws.reconnect_initial_ns, 100_000_000);
    assert_eq!(ws.socket, config.market_data.socket_options());
    // binance-sim fills the URL in at run time.
    Config::parse(
        &format!("{instrument}[market_data]\nsource = \"binance-sim\"\n"),
        "t",
    )
    .unwrap();
    let err = error_of(&format!("{instrument}[market_data]\nsource = \"binance-sim\"\n[market_data.binance]\nreconnect_initial_ms = 500\nreconnect_max_ms = 100\n"));
    assert!(
        err.contains("`market_data.binance.reconnect_max_ms`"),
        "{err}"
    );
    let err = error_of(&format!("{instrument}[market_data]\nsource = \"binance-sim\"\n[market_data.binance]\nsnapshot_limit = 0\n"));
    assert!(
        err.contains("`market_data.binance.snapshot_limit`"),
        "{err}"
    );
}

// A tick size that no Binance grid can hold (finer than 18 decimals) is
// refused for the Binance sources, naming the instrument's key.
#[test]
fn binance_off_grid_tick_size_is_refused() {
    let instrument = |tick: &str| {
        format!("[[instruments]]\nsymbol = \"BTCUSDT\"\ntick_size = \"{tick}\"\nlot_size = \"0.001\"\n[market_data]\nsource = \"binance-sim\"\n")
    };
    let err = error_of(&instrument("0.0000000000000000001"));
    assert!(
        err.contains("`instruments[0].tick_size`") && err.contains("grid"),
        "{err}"
    );
    Config::parse(&instrument("0.05"), "t").unwrap();
    let err = error_of("[[instruments]]\nsymbol = \"BTC-USDT\"\ntick_size = \"0.01\"\nlot_size = \"1\"\n[market_data]\nsource = \"binance-sim\"\n");
    assert!(err.contains("`instruments[0].symbol`"), "{err}");
}

// The values an audit found panicking later are refused up front, naming the key and the range.
#[test]
fn capacities_beyond_the_range_are_named() {
    for (toml, key) in [
        (
            "[venue]\nresting_orders_max = 1099511627776\n",
            "`venue.resting_orders_max`",
        ),
        (
            "[venue]\nqueue_capacity = 4611686018427387904\n",
            "`venue.queue_capacity`",
        ),
        (
            "[topology]\nring_capacity = 1099511627776\n",
            "`topology.ring_capacity`",
        ),
    ] {
        let err = error_of(toml);
        assert!(
            err.contains(key) && err.contains("allowed range"),
            "{toml}: {err}"
        );
    }
}

// Two instruments with one symbol, and an empty journal folder, are refused by key.
#[test]
fn duplicate_symbols_and_empty_journal_dir_are_named() {
    let two = "[[instruments]]\nsymbol = \"X\"\ntick_size = \"0.01\"\nlot_size = \"1\"\n";
    let err = error_of(&format!("{two}{two}"));
    assert!(
        err.contains("`instruments[1].symbol`") && err.contains("instruments[0]"),
        "{err}"
    );
    let err = error_of("[journal]\ndir = \"\"\n");
    assert!(err.contains("`journal.dir`"), "{err}");
}

// A malformed database URL names the key and never repeats its password.
#[test]
fn bad_postgres_url_names_the_key_without_the_password() {
    let err = error_of("[postgres]\nurl = \"mysql://trader:hunter2@host/db\"\n");
    assert!(err.contains("`postgres.url`"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

// `genesis config` output and the recorded config carry no password; the file is 0600.
#[test]
fn recorded_config_is_redacted_and_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let config = Config::parse(
        "[postgres]\nurl = \"postgres://trader:hunter2@db:5432/genesis?password=hunter3\"\n",
        "test.toml",
    )
    .unwrap();
    let text = config.to_redacted_toml();
    assert!(!text.contains("hunter"), "{text}");
    assert!(text.contains("postgres://trader@db:5432/genesis"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config-1.toml");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    config.record_to(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(!written.contains("hunter"), "{written}");
    // The recorded file parses back into the same config, less the password.
    let back: Config = toml::from_str(&written).unwrap();
    assert_eq!(back.postgres.url, "postgres://trader@db:5432/genesis");
}
