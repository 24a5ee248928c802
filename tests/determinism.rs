//! Virtual time is deterministic by construction (`src/reactor/ledger.rs`): the trace
//! of a run over real sockets does not depend on how busy the machine is. Here the
//! post's scenario (client and directory in one runtime, over TCP) runs 20 times in a
//! row while other threads burn every core, and every trace must be the golden one,
//! byte for byte. A wall-clock grace (the old design) passed this only by luck.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use looplab::lookup::event_loop::{EventLoopOptions, Narrator, run_event_loop};
use looplab::lookup::narrative::Lang;
use looplab::{Recorder, TraceOutput};

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/event_loop_virtual.trace"
);

/// Threads that keep every core busy until dropped.
struct Burners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl Burners {
    fn on_every_core() -> Burners {
        let stop = Arc::new(AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..cores)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut spins = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                    spins
                })
            })
            .collect();
        Burners { stop, threads }
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn scenario_trace() -> Vec<String> {
    let recorder = Recorder::new();
    let options = EventLoopOptions {
        requests: vec![3, 2, 1],
        delay: Duration::from_secs(1),
        virtual_time: true,
        call_timeout: None,
        lang: Lang::En,
        trace: TraceOutput::Off,
        recorder: Some(recorder.clone()),
    };
    let quiet: Narrator = Arc::new(|_, _| {});
    let (report, _) = run_event_loop(None, &options, quiet, |b| b).expect("the scenario runs");
    assert_eq!(report.total, Duration::from_secs(3));
    recorder.lines()
}

#[test]
fn the_golden_trace_comes_out_the_same_20_times_while_every_core_is_busy() {
    let golden: Vec<String> = std::fs::read_to_string(GOLDEN)
        .expect("the golden trace")
        .lines()
        .map(String::from)
        .collect();
    let _burners = Burners::on_every_core();
    for run in 1..=20 {
        let trace = scenario_trace();
        if let Some(at) = trace.iter().zip(&golden).position(|(a, b)| a != b) {
            panic!(
                "run {run}: line {} differs from the golden trace:\n  got:      {}\n  expected: {}",
                at + 1,
                trace[at],
                golden[at]
            );
        }
        assert_eq!(
            trace.len(),
            golden.len(),
            "run {run}: another number of lines"
        );
    }
}
