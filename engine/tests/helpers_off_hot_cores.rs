//! Helper threads started before the pipeline leave its pinned cores
//! (`sys::keep_process_threads_off`). In a test binary of its own: it
//! changes the affinity of every thread of the process.

use genesis_engine::sys;
use std::sync::mpsc;

// A thread that already runs (a helper spawned before the pipeline) is
// moved off the pinned core and the caller keeps its CPUs; with nothing
// left, no thread is moved.
#[test]
fn running_helpers_leave_the_pinned_cores() {
    let cpus = sys::thread_cpus().unwrap();
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let helper = std::thread::spawn(move || {
        tid_tx.send(sys::current_tid()).unwrap();
        let _ = done_rx.recv();
    });
    let tid = tid_rx.recv().unwrap();
    assert_eq!(sys::cpus_of_thread(tid).unwrap(), cpus);
    // Every CPU pinned: nothing would be left, so nothing moves.
    assert_eq!(sys::keep_process_threads_off(&cpus).unwrap(), 0);
    assert_eq!(sys::cpus_of_thread(tid).unwrap(), cpus);
    if cpus.len() >= 2 {
        let moved = sys::keep_process_threads_off(&cpus[..1]).unwrap();
        assert!(moved >= 1, "the helper moves ({moved} moved)");
        assert_eq!(sys::cpus_of_thread(tid).unwrap(), cpus[1..].to_vec());
        assert_eq!(
            sys::thread_cpus().unwrap(),
            cpus,
            "the caller keeps its CPUs"
        );
    }
    done_tx.send(()).unwrap();
    helper.join().unwrap();
}
