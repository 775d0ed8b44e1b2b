//! `genesis fix reset-seq`: the remedy a "MsgSeqNum too low" error names.
//! It resets a session's sequence-number file (both numbers to 1 with
//! ResetSeqNumFlag on the next Logon, or exactly the numbers given) and
//! refuses while a running session holds the file.

mod common;

use common::process::genesis;
use genesis_io::fix::error::FixError;
use genesis_io::fix::seq_store::{SeqNumbers, SeqStore};

fn reset(args: &[&str]) -> std::process::Output {
    genesis()
        .args(["fix", "reset-seq"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn reset_seq_rewrites_the_sequence_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("GENESIS-VENUE.seq");
    let store = SeqStore::new(&path);
    store
        .save(SeqNumbers {
            next_out: 812,
            next_in: 97,
        })
        .unwrap();
    let path_text = path.to_str().unwrap();

    // Back to 1, the next Logon asking the venue to reset too.
    let output = reset(&["--seq-file", path_text]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("was next out 812, next in 97"), "{stdout}");
    assert!(stdout.contains("ResetSeqNumFlag(141)=Y"), "{stdout}");
    let state = store.load_state().unwrap().unwrap();
    assert_eq!(state.numbers, SeqNumbers::default());
    assert!(state.reset_on_next_logon);

    // Exactly the numbers the venue expects, no reset asked for.
    let output = reset(&[
        "--seq-file",
        path_text,
        "--next-out",
        "40",
        "--next-in",
        "41",
    ]);
    assert!(output.status.success());
    let state = store.load_state().unwrap().unwrap();
    assert_eq!(
        state.numbers,
        SeqNumbers {
            next_out: 40,
            next_in: 41
        }
    );
    assert!(!state.reset_on_next_logon);

    // One number alone is refused by the parser; so is a running session's file.
    assert!(!reset(&["--seq-file", path_text, "--next-out", "3"])
        .status
        .success());
    let _held = store.lock_shared().unwrap();
    let output = reset(&["--seq-file", path_text]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("in use by a running FIX session"),
        "{stderr}"
    );
    assert_eq!(store.load().unwrap().unwrap().next_out, 40, "untouched");
}

// The error a session stops on names this command and the file.
#[test]
fn seq_num_too_low_names_the_command() {
    let error = FixError::SeqNumTooLow {
        problem: genesis_io::fix::session::SeqNumTooLow::Received {
            expected: 90,
            received: 12,
        },
        seq_file: Some("genesis-data/fix/GENESIS-VENUE.seq".into()),
    };
    let text = error.to_string();
    assert!(
        text.contains("genesis fix reset-seq --seq-file genesis-data/fix/GENESIS-VENUE.seq"),
        "{text}"
    );
    assert!(text.contains("reset_on_logon"), "{text}");
}
