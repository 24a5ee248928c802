//! The asyncio recorder (`python/asyncio_record.py`) writes looplab's recording format:
//! the post's own program and a sockets program, recorded and read back with
//! [`looplab::recording`]'s reader.
//!
//! Needs `python3` (3.10 or later). Without it each test says why it skipped; with
//! `LOOPLAB_REQUIRE_PYTHON=1` (CI) a missing Python fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use looplab::recording::{
    By, Clock, IoKeys, Kind, Line, Place, PollResult, Recording, Runnable, Source, TimerLayout, Via,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Whether a usable `python3` is here; prints why not, or panics if one is required.
fn python_present() -> bool {
    let required = std::env::var("LOOPLAB_REQUIRE_PYTHON").is_ok_and(|v| v == "1");
    let why_not = match Command::new("python3")
        .args(["-c", "import sys; sys.exit(sys.version_info < (3, 10))"])
        .status()
    {
        Ok(status) if status.success() => return true,
        Ok(_) => "python3 is older than 3.10".to_string(),
        Err(e) => format!("python3 cannot be run: {e}"),
    };
    assert!(!required, "LOOPLAB_REQUIRE_PYTHON=1 but {why_not}");
    eprintln!("skipped: {why_not} (set LOOPLAB_REQUIRE_PYTHON=1 to make this a failure)");
    false
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("looplab-asyncio-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the recorder on `script`; returns the recording's bytes and the script's stdout.
fn record(script: &Path, out: &Path, virtual_time: bool) -> (Vec<u8>, String) {
    let mut command = Command::new("python3");
    command.arg(Path::new(ROOT).join("python/asyncio_record.py"));
    if virtual_time {
        command.arg("--virtual-time");
    }
    let output = command
        .arg("--out")
        .arg(out)
        .arg(script)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the recorder failed on {}:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        std::fs::read(out).unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

/// Reads a recording, and checks that writing it again gives the same bytes: the
/// recorder writes every field, in the documented order.
fn read(bytes: &[u8]) -> Recording {
    let recording = Recording::from_bytes(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        String::from_utf8(recording.to_bytes()).unwrap(),
        String::from_utf8(bytes.to_vec()).unwrap(),
        "the recorder's bytes differ from the Rust writer's"
    );
    recording
}

/// The number of the task spawned with `name`.
fn task_named(recording: &Recording, name: &str) -> u64 {
    recording
        .lines
        .iter()
        .find_map(|l| match &l.kind {
            Kind::Spawn { task, name: n, .. } if n == name => Some(*task),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no task named {name}"))
}

/// When `task`'s poll that ended it ended.
fn ended_at(recording: &Recording, task: u64) -> u64 {
    recording
        .lines
        .iter()
        .find_map(|l| match &l.kind {
            Kind::PollEnd {
                who: Runnable::Task(t),
                result: PollResult::Ready,
                ..
            } if *t == task => Some(l.at_ns),
            _ => None,
        })
        .unwrap_or_else(|| panic!("task {task} never ended"))
}

fn notes(recording: &Recording) -> Vec<(Option<Runnable>, String)> {
    recording
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            Kind::Note { who, text } => Some((who.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_posts_program_records_its_three_tasks_ending_at_one_two_and_three_seconds() {
    if !python_present() {
        return;
    }
    let dir = scratch("seed");
    let seed = Path::new(ROOT).join("python/seed_async.py");
    let (bytes, stdout) = record(&seed, &dir.join("a.jsonl"), true);
    let (again, _) = record(&seed, &dir.join("b.jsonl"), true);
    assert!(bytes == again, "two virtual-time recordings differ");
    // The program still prints what the post shows, and its own clock agrees.
    assert!(
        stdout.ends_with(">>> 비동기 처리 총 소요 시간: 3.0\n"),
        "{stdout}"
    );

    let recording = read(&bytes);
    let header = &recording.header;
    assert_eq!(
        (header.source, header.clock, header.timers, header.io_keys),
        (
            Source::Asyncio,
            Clock::Virtual,
            TimerLayout::Heap,
            IoKeys::Fd
        )
    );
    assert_eq!(
        recording.lines.first().map(|l| &l.kind),
        Some(&Kind::IoRegistered {
            key: match recording.lines[0].kind {
                Kind::IoRegistered { key, .. } => key,
                _ => unreachable!(),
            },
            who: None,
            what: "self-pipe".into(),
            interest: "read".into(),
        })
    );

    let main = task_named(&recording, "process_async()");
    assert_eq!(main, 0);
    let ends: Vec<u64> = [
        "find_users_async(3)",
        "find_users_async(2)",
        "find_users_async(1)",
    ]
    .iter()
    .map(|name| ended_at(&recording, task_named(&recording, name)))
    .collect();
    assert_eq!(ends, [3_000_000_000, 2_000_000_000, 1_000_000_000]);
    // Creating each task queued it: the wake right after its spawn, from main.
    for name in [
        "find_users_async(3)",
        "find_users_async(2)",
        "find_users_async(1)",
    ] {
        let task = task_named(&recording, name);
        let spawn = recording
            .lines
            .iter()
            .position(|l| matches!(l.kind, Kind::Spawn { task: t, .. } if t == task))
            .unwrap();
        assert_eq!(
            recording.lines[spawn + 1].kind,
            Kind::Wake {
                who: Runnable::Task(task),
                by: By::Task(main),
                via: Via::Spawn,
            }
        );
    }
    assert_eq!(
        recording.lines.last().map(|l| &l.kind),
        Some(&Kind::Stop {
            elapsed_ns: 3_000_000_000
        })
    );

    // Six sleeps of one second: six timers armed, each fired once, at its deadline,
    // and each woke the task that armed it through the sleep's future.
    let armed: Vec<&Line> = recording
        .lines
        .iter()
        .filter(|l| matches!(l.kind, Kind::TimerArmed { .. }))
        .collect();
    assert_eq!(armed.len(), 6);
    for line in armed {
        let Kind::TimerArmed {
            timer,
            who: Some(Runnable::Task(task)),
            deadline_ns,
            ..
        } = &line.kind
        else {
            panic!("{line:?}");
        };
        assert_eq!(*deadline_ns, line.at_ns + 1_000_000_000);
        let fired = recording
            .lines
            .iter()
            .position(|l| l.kind == Kind::TimerFired { timer: *timer })
            .unwrap();
        assert_eq!(recording.lines[fired].at_ns, *deadline_ns);
        assert!(recording.lines[fired..].iter().any(|l| l.kind
            == Kind::Wake {
                who: Runnable::Task(*task),
                by: By::Timer(*timer),
                via: Via::Future,
            }));
    }

    // Every turn carries its state. After the turn that polls the three tasks, their
    // three timers wait in the heap, due at 1 s, and nothing is ready.
    let states: Vec<_> = recording
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            Kind::Turn { state, .. } => Some(state.as_ref().expect("a turn without state")),
            _ => None,
        })
        .collect();
    let three = states
        .iter()
        .find(|s| s.timers.len() == 3)
        .expect("a turn with three timers");
    assert!(three.run_queue.is_empty());
    assert_eq!(
        three
            .timers
            .iter()
            .map(|t| (t.place.clone(), t.deadline_ns))
            .collect::<Vec<_>>(),
        (0..3)
            .map(|i| (Place::Heap(i), 1_000_000_000))
            .collect::<Vec<_>>()
    );

    // The post's prints are notes from the task that printed them.
    let notes = notes(&recording);
    let three_users = task_named(&recording, "find_users_async(3)");
    assert_eq!(
        notes[0],
        (
            Some(Runnable::Task(three_users)),
            "3명 중 1번 째 사용자 조회 중 ...".to_string()
        )
    );
    assert_eq!(
        notes.last().unwrap(),
        &(
            Some(Runnable::Task(main)),
            ">>> 비동기 처리 총 소요 시간: 3.0".to_string()
        )
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_streams_program_records_its_sockets_readiness_and_who_waits() {
    if !python_present() {
        return;
    }
    let dir = scratch("sockets");
    let script = Path::new(ROOT).join("python/socket_demo.py");
    let (bytes, stdout) = record(&script, &dir.join("s.jsonl"), false);
    assert_eq!(
        stdout, "server answered HELLO\nserver answered LOOP\n",
        "the program's own output"
    );
    let recording = read(&bytes);
    assert_eq!(recording.header.clock, Clock::Real);

    let listener = recording
        .lines
        .iter()
        .find_map(|l| match &l.kind {
            Kind::IoRegistered { key, what, .. } if what == "listener" => Some(*key),
            _ => None,
        })
        .expect("the server's listening socket is registered");
    // The listener became readable (two clients connecting), and the selector queued
    // asyncio's accept callback for it.
    let ready = recording
        .lines
        .iter()
        .position(
            |l| matches!(l.kind, Kind::IoReady { key, readable: true, .. } if key == listener),
        )
        .expect("the listener became readable");
    assert_eq!(
        recording.lines[ready + 1].kind,
        Kind::Wake {
            who: Runnable::Callback("BaseSelectorEventLoop._accept_connection".into()),
            by: By::Io(listener),
            via: Via::Selector,
        }
    );
    // Two server tasks answered, spawned by the protocol's callback, and both ended.
    let answers: Vec<u64> = recording
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            Kind::Spawn {
                task,
                parent: Some(Runnable::Callback(parent)),
                name,
            } if name == "answer(StreamReader, StreamWriter)"
                && parent == "StreamReaderProtocol.connection_made" =>
            {
                Some(*task)
            }
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 2);
    for task in answers {
        ended_at(&recording, task);
    }
    // Some turn's state shows a stream with a reader callback waiting on it.
    assert!(recording.lines.iter().any(|l| {
        match &l.kind {
            Kind::Turn {
                state: Some(state), ..
            } => state
                .io
                .iter()
                .any(|io| io.what == "stream" && !io.readers.is_empty()),
            _ => false,
        }
    }));
    let texts: Vec<String> = notes(&recording).into_iter().map(|(_, t)| t).collect();
    assert_eq!(texts, ["server answered HELLO", "server answered LOOP"]);
    assert!(matches!(
        recording.lines.last().map(|l| &l.kind),
        Some(Kind::Stop { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

/// The rarer lines: a task named by the program, a cancelled timer, a task that raises, a task cancelled, a wake
/// from another thread.
const EDGES: &str = r#"
import asyncio, threading

async def fails():
    raise ValueError("no such user")

async def sleeps_forever():
    await asyncio.sleep(60)

async def main():
    loop = asyncio.get_running_loop()
    await asyncio.create_task(asyncio.sleep(0), name="lookup-1")
    try:
        await asyncio.wait_for(asyncio.sleep(10), timeout=0.5)
    except asyncio.TimeoutError:
        pass
    failing = asyncio.create_task(fails())
    cancelled = asyncio.create_task(sleeps_forever())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(failing, cancelled, return_exceptions=True)
    done = loop.create_future()
    threading.Thread(target=lambda: loop.call_soon_threadsafe(done.set_result, 1)).start()
    await done

asyncio.run(main())
"#;

#[test]
fn named_tasks_cancelled_timers_failed_and_cancelled_tasks_and_thread_wakes_are_recorded() {
    if !python_present() {
        return;
    }
    let dir = scratch("edges");
    let script = dir.join("edges.py");
    std::fs::write(&script, EDGES).unwrap();
    let (bytes, _) = record(&script, &dir.join("e.jsonl"), true);
    let recording = read(&bytes);
    let kinds: Vec<&Kind> = recording.lines.iter().map(|l| &l.kind).collect();

    // asyncio names a task after its constructor queued it; the spawn has the name.
    let named = task_named(&recording, "lookup-1");
    assert_eq!(named, 1);

    // wait_for's timeout fires at 0.5 s; the inner sleep's 10 s timer is cancelled.
    let ten_s = kinds
        .iter()
        .find_map(|k| match k {
            Kind::TimerArmed {
                timer, deadline_ns, ..
            } if *deadline_ns == 10_000_000_000 => Some(*timer),
            _ => None,
        })
        .expect("the 10 s sleep's timer");
    assert!(kinds.contains(&&Kind::TimerCancelled { timer: ten_s }));
    assert!(!kinds.contains(&&Kind::TimerFired { timer: ten_s }));

    let failing = task_named(&recording, "fails()");
    assert!(kinds.iter().any(|k| matches!(k,
        Kind::PollEnd { who: Runnable::Task(t), result: PollResult::Panicked, message: Some(m) }
            if *t == failing && m == "ValueError('no such user')")));
    let cancelled = task_named(&recording, "sleeps_forever()");
    assert!(kinds.iter().any(|k| matches!(k,
        Kind::PollEnd { who: Runnable::Task(t), result: PollResult::Cancelled, .. }
            if *t == cancelled)));
    assert!(kinds.iter().any(|k| matches!(
        k,
        Kind::Wake {
            by: By::Thread,
            via: Via::CallSoonThreadsafe,
            ..
        }
    )));
    // Virtual time: the run took exactly the 0.5 s of wait_for's timeout.
    assert_eq!(
        kinds.last(),
        Some(&&Kind::Stop {
            elapsed_ns: 500_000_000
        })
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_recorder_refuses_a_missing_script_with_a_message() {
    if !python_present() {
        return;
    }
    let dir = scratch("missing");
    let output = Command::new("python3")
        .arg(Path::new(ROOT).join("python/asyncio_record.py"))
        .arg("--out")
        .arg(dir.join("x.jsonl"))
        .arg(dir.join("no_such_script.py"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no such script"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
