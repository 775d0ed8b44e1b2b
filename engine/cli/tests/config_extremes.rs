//! No config value makes the engine panic: every numeric key, found by
//! walking the default config as TOML (so a key added later is covered
//! without touching this test), set to extremes — 0, -1, i64::MIN,
//! i64::MAX, powers of two and their neighbours; for floats also ±inf and
//! NaN — must be refused with an error naming the key, or run. A config
//! that validates runs for a few tens of milliseconds in this process
//! through the same assembly as `genesis run`, with a panic hook that
//! catches a panic on any thread (the stages', the simulator's, the drain's).

#![allow(clippy::disallowed_methods)] // a run's wall-clock duration

use genesis_engine::config::Config;
use proptest::prelude::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use toml::Value;

/// Where a number sits in the config: its dotted key (`instruments[0].limits.max_order_qty`)
/// and the path of table keys and array indices to it.
#[derive(Clone, Debug)]
struct NumericKey {
    dotted: String,
    path: Vec<Step>,
    is_float: bool,
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The base every case changes one or more keys of: the built-in config,
/// pipelined over two threads (so rings are allocated), unpinned with
/// sleeping waits, the journal in `dir` with small segments, no endpoint
/// and no latency log, and every optional key present (so it is walked too).
/// With `simulated`, orders go to the simulated venue over FIX and market
/// data comes as ITCH from it (the default); else to the paper venue with
/// the synthetic feed, which start and stop in a fraction of the time.
fn base_config(dir: &Path, simulated: bool) -> Config {
    let mut config = Config::builtin();
    if !simulated {
        config.venue.kind = genesis_engine::config::VenueKind::Paper;
        config.market_data.source = genesis_engine::config::MarketDataSource::Synthetic;
    }
    config.topology.pin_threads = false;
    config.topology.wait = genesis_engine::config::WaitKind::Sleep;
    config.topology.cores.strategy = 1;
    config.topology.cores.execution = 1;
    config.topology.cores.journal = 1;
    config.journal.dir = dir.join("journal");
    config.journal.segment_size_mib = 1;
    config.journal.sync_on_exit = false;
    config.metrics.listen = String::new();
    config.metrics.latency_log_dir = Default::default();
    config.market_data.rate_per_sec = 20_000;
    config.host.mlockall = Some(false);
    config.host.cpu_dma_latency_us = Some(0);
    config
}

/// Every integer and float in `value`, depth first.
fn numeric_keys(value: &Value, path: &mut Vec<Step>, dotted: &str, found: &mut Vec<NumericKey>) {
    match value {
        Value::Integer(_) | Value::Float(_) => found.push(NumericKey {
            dotted: dotted.to_string(),
            path: path.clone(),
            is_float: value.is_float(),
        }),
        Value::Table(table) => {
            for (key, inner) in table {
                path.push(Step::Key(key.clone()));
                let dotted = if dotted.is_empty() {
                    key.clone()
                } else {
                    format!("{dotted}.{key}")
                };
                numeric_keys(inner, path, &dotted, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                path.push(Step::Index(index));
                numeric_keys(inner, path, &format!("{dotted}[{index}]"), found);
                path.pop();
            }
        }
        _ => {}
    }
}

fn slot<'v>(value: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()).expect("walked key"),
        Step::Index(index) => value.get_mut(*index).expect("walked index"),
    })
}

/// The extremes for one key: `pick` chooses among them (and the power).
fn extreme(key: &NumericKey, pick: u8, power: u32) -> Value {
    if key.is_float {
        let floats = [
            0.0,
            -1.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let power_of_two = 2f64.powi(power as i32);
        let choices: Vec<f64> = floats.into_iter().chain([power_of_two]).collect();
        return Value::Float(choices[pick as usize % choices.len()]);
    }
    let power_of_two = 1i64 << power.min(62);
    let integers = [
        0,
        -1,
        i64::MIN,
        i64::MAX,
        power_of_two,
        power_of_two - 1,
        power_of_two + 1,
        -power_of_two,
    ];
    Value::Integer(integers[pick as usize % integers.len()])
}

/// Panics seen on any thread since the hook was installed.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.to_string());
            default(info);
        }));
    });
}

/// What one config did: refused (with the message), or ran.
enum Outcome {
    Refused(String),
    Ran,
}

/// Validates `text` as `genesis run` does, and runs it for 30 ms if it validates.
fn try_config(text: &str) -> Outcome {
    let config = match Config::parse(text, "case.toml") {
        Ok(config) => config,
        Err(err) => return Outcome::Refused(err.to_string()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let assembly = genesis_cli::assemble(&config).map_err(|e| e.to_string())?;
        genesis_cli::run(&config, assembly, stop, Some(Duration::from_millis(30)))
            .map_err(|e| e.to_string())
    }));
    match result {
        Ok(Ok(_)) => Outcome::Ran,
        Ok(Err(message)) => Outcome::Refused(message),
        Err(_) => Outcome::Refused("panicked (see the panic hook)".into()),
    }
}

/// Sets `changes` on the base config in `dir` and tries it; an error
/// describing the case and its panics if anything panicked.
fn check_case(
    dir: &Path,
    keys: &[NumericKey],
    changes: &[(usize, Value)],
) -> Result<Outcome, String> {
    // Keys of the venue and the market data run against the simulator.
    let simulated = changes.iter().any(|(index, _)| {
        let key = &keys[*index].dotted;
        key.starts_with("venue") || key.starts_with("market_data")
    });
    let mut value = Value::try_from(base_config(dir, simulated)).unwrap();
    let mut described = Vec::new();
    for (index, new) in changes {
        let key = &keys[*index];
        *slot(&mut value, &key.path) = new.clone();
        described.push(format!("{} = {new}", key.dotted));
    }
    let text = toml::to_string(&value).unwrap();
    // Printed first: an abort (a failed allocation) takes the process down.
    eprintln!("case: {}", described.join(", "));
    PANICS.lock().unwrap().clear();
    let outcome = try_config(&text);
    let panics = PANICS.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(dir.join("journal"));
    if !panics.is_empty() {
        return Err(format!("{} panicked: {panics:?}", described.join(", ")));
    }
    if let Outcome::Refused(message) = &outcome {
        // A refusal says what failed; it is never empty.
        if message.trim().is_empty() {
            return Err(format!(
                "{}: refused without a message",
                described.join(", ")
            ));
        }
    }
    Ok(outcome)
}

fn all_keys(dir: &Path) -> Vec<NumericKey> {
    let value = Value::try_from(base_config(dir, true)).unwrap();
    let mut keys = Vec::new();
    numeric_keys(&value, &mut Vec::new(), "", &mut keys);
    keys
}

// Every numeric key, one at a time, at every fixed extreme: refused or run, never a panic.
#[test]
fn every_numeric_key_at_every_extreme() {
    install_panic_hook();
    let dir = tempfile::tempdir().unwrap();
    let keys = all_keys(dir.path());
    assert!(keys.len() > 40, "the walk finds the numeric keys: {keys:?}");
    let (mut refused, mut ran, mut failures) = (0, 0, Vec::new());
    for index in 0..keys.len() {
        // Integers: 0, -1, i64::MAX and 2^40 (the rest of the extremes are
        // the property test's); floats: all eight, NaN and infinities included.
        let picks: &[u8] = if keys[index].is_float {
            &[0, 1, 2, 3, 4, 5, 6, 7]
        } else {
            &[0, 1, 3, 4]
        };
        for &pick in picks {
            let change = (index, extreme(&keys[index], pick, 40));
            match check_case(dir.path(), &keys, &[change]) {
                Ok(Outcome::Refused(_)) => refused += 1,
                Ok(Outcome::Ran) => ran += 1,
                Err(failure) => failures.push(failure),
            }
        }
    }
    eprintln!("{} keys: {refused} cases refused, {ran} ran", keys.len());
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(ran > 0 && refused > 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    // Up to three keys at once at random extremes (random powers of two): refused or run.
    #[test]
    fn random_extremes_on_several_keys(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u32..63), 1..4)
    ) {
        install_panic_hook();
        let dir = tempfile::tempdir().unwrap();
        let keys = all_keys(dir.path());
        let changes: Vec<(usize, Value)> = picks
            .iter()
            .map(|(index, pick, power)| {
                let index = index.index(keys.len());
                (index, extreme(&keys[index], *pick, *power))
            })
            .collect();
        if let Err(failure) = check_case(dir.path(), &keys, &changes) {
            panic!("{failure}");
        }
    }
}
