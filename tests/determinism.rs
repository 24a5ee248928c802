//! Virtual time is deterministic by construction (`src/sim_net/`, `src/park.rs`): the
//! trace of a run does not depend on how busy the machine is. Here the post's scenario
//! (client and directory in one runtime, over the runtime's simulated network) runs 20
//! times in a row while other threads burn every core, and every trace must be the
//! golden one, byte for byte. Anything in the trace measured on the wall clock (a slow
//! poll, a settle waiting for the kernel) would fail it.

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/event_loop_virtual.trace"
);

mod burners;
mod scenario;

use burners::Burners;

#[test]
fn the_golden_trace_comes_out_the_same_20_times_while_every_core_is_busy() {
    let golden: Vec<String> = std::fs::read_to_string(GOLDEN)
        .expect("the golden trace")
        .lines()
        .map(String::from)
        .collect();
    let _burners = Burners::on_every_core();
    for run in 1..=20 {
        let trace = scenario::recorded_default_scenario().lines();
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
