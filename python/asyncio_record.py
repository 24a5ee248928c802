"""Record an asyncio program, turn by turn, in looplab's recording format.

    python3 python/asyncio_record.py [--virtual-time] --out FILE SCRIPT [ARGS...]

runs SCRIPT (with ARGS as its sys.argv[1:]) under an instrumented event loop and
writes what the loop did as JSON Lines: the format of docs/recording.md, the same
one looplab writes, so `looplab render FILE` draws either loop the same way.

What asyncio does, and the line each thing becomes:

- each iteration of the loop (``BaseEventLoop._run_once``) is a turn, ended by a
  ``turn`` line that holds the state the next turn starts from: ``_ready`` in order,
  the ``_scheduled`` heap with each timer's deadline and heap index, and the
  selector's file descriptors with their interest, readiness and callbacks;
- each handle the loop runs is a ``poll`` and a ``poll_end``: of a task (its step or
  wakeup) or of a plain callback (by its qualified name);
- ``call_soon`` from a running task or callback is a ``wake`` from it; when its only
  argument is a finished future, the future is calling its done-callbacks, and the
  wake says so (``via: future``): that is the line that ties a future to the task
  that awaited it;
- ``call_at`` and ``call_later`` arm a timer (``timer_armed``, with its deadline);
  its handle running is ``timer_fired``, and whatever it schedules is woken by it;
  ``TimerHandle.cancel`` is ``timer_cancelled``;
- the selector's ``select(timeout)`` is the ``park`` with its timeout, then the
  ``unpark`` and an ``io_ready`` line per file descriptor it returned, and a ``wake``
  for each reader or writer callback that readiness queues;
- ``print`` while the loop runs is a ``note`` from whoever runs.

Time starts at 0 when the loop is created. With ``--virtual-time`` the loop's clock
(``loop.time()``) is a counter that only moves when nothing is ready and a timer is
armed: it then jumps to the timer's deadline instead of waiting, as looplab's
virtual clock does, and the recording is the same bytes on every run. ``time.time()``
follows that clock too, so the program's own elapsed-time prints agree. Sockets still
wait for real (a park with no timer and no ready socket blocks), and a jump does not
wait for data that is on its way over a socket: fine for a local server that answers
at once, not for one that takes time to answer.

Hooks, public where asyncio has one:

- the loop is a subclass of ``asyncio.SelectorEventLoop``, made by an event loop
  policy (``asyncio.run`` and ``asyncio.new_event_loop`` ask the policy); it
  overrides the public ``time``, ``call_soon``, ``call_soon_threadsafe``,
  ``call_at`` and ``run_until_complete``;
- its selector is passed to the public constructor, wrapped (``selectors.BaseSelector``);
- private, because asyncio has no hook for them: ``BaseEventLoop._run_once`` (wrapped:
  one call is one turn), ``BaseEventLoop._timer_handle_cancelled`` (overridden: the
  loop's own notice that a timer was cancelled), ``events.Handle._run`` (wrapped for
  the recording's loop only: one call is one poll), and the loop's ``_ready`` deque
  and ``_scheduled`` heap, which are read (never changed) for the turn's state.
  Tasks are told from callbacks by their step and wakeup methods' names
  (``TaskStepMethWrapper``, ``task_wakeup``, ``__step``, ``__wakeup``).

Only the first ``run_until_complete`` is recorded (for ``asyncio.run``, the main
coroutine): the shutdown turns after it are not the program's.

Standard library only, Python 3.10 and later. Tested with CPython 3.10.13, 3.11.7,
3.12.1 and 3.13.0, which record the post's program as the same bytes. Not yet tested
with 3.14, which deprecates event loop policies (the warning is silenced here).
"""

import argparse
import asyncio
import json
import os
import re
import runpy
import selectors
import sys
import threading
import time
import warnings
import weakref
from asyncio import events, futures

FORMAT = "looplab-recording"
VERSION = 1

# The names a task's own callbacks have, in the C and the Python implementation.
TASK_STEP_NAMES = {"task_wakeup", "task_step", "__step", "__wakeup", "_Task__step", "_Task__wakeup"}

# asyncio's default task names; a task with one is named by its coroutine instead.
DEFAULT_TASK_NAME = re.compile(r"Task-\d+")


def _task_of(callback):
    """The task whose step or wakeup ``callback`` is, or None for a plain callback."""
    owner = getattr(callback, "__self__", None)
    if not isinstance(owner, asyncio.Task):
        return None
    if type(callback).__name__ == "TaskStepMethWrapper":
        return owner
    if getattr(callback, "__name__", None) in TASK_STEP_NAMES:
        return owner
    return None


def _callback_name(callback):
    """A plain callback's qualified name, without addresses (so runs compare)."""
    inner = getattr(callback, "func", callback)  # functools.partial
    name = getattr(inner, "__qualname__", None)
    if not isinstance(name, str):
        name = type(inner).__qualname__
    return name


def _short_repr(value):
    """An argument as a task's name shows it: numbers and short strings as written,
    anything else by its type (a repr may hold an address, which changes every run)."""
    if type(value) in (bool, int, float) or value is None:
        return repr(value)
    if type(value) in (str, bytes) and len(value) <= 20:
        return repr(value)
    return type(value).__name__


def _task_name(task):
    """The task's name if the program gave it one; else its coroutine and arguments,
    ``find_users_async(3)``, as looplab names its tasks."""
    name = task.get_name()
    if not DEFAULT_TASK_NAME.fullmatch(name):
        return name
    coro = task.get_coro()
    qualname = getattr(coro, "__qualname__", None)
    if qualname is None:
        return name
    frame = getattr(coro, "cr_frame", None)
    code = getattr(coro, "cr_code", None)
    args = []
    if frame is not None and code is not None:
        count = code.co_argcount + code.co_kwonlyargcount
        for arg in code.co_varnames[:count]:
            # A method's receiver says nothing a reader needs.
            if arg == "self" and "." in qualname:
                continue
            if arg in frame.f_locals:
                args.append(_short_repr(frame.f_locals[arg]))
    if len(args) > 3:
        args = args[:3] + ["..."]
    return f"{qualname}({', '.join(args)})"


def _interest(mask):
    read = bool(mask & selectors.EVENT_READ)
    write = bool(mask & selectors.EVENT_WRITE)
    return {(True, True): "read+write", (True, False): "read", (False, True): "write"}.get(
        (read, write), "none"
    )


def _what(data):
    """What a registered file descriptor is, from the callbacks asyncio gave it."""
    names = []
    for handle in data if isinstance(data, tuple) else ():
        if handle is not None:
            names.append(_callback_name(handle._callback))
    joined = " ".join(names)
    if "_read_from_self" in joined:
        return "self-pipe"
    if "_accept_connection" in joined:
        return "listener"
    if "Transport" in joined:
        return "stream"
    if "_sock_" in joined:
        return "socket"
    return "fd"


class Clock:
    """The loop's clock: nanoseconds since the loop was made, real or virtual."""

    def __init__(self, virtual):
        self.virtual = virtual
        self._virtual_ns = 0
        self._start_ns = time.monotonic_ns()
        self._start_s = time.monotonic()

    def now_ns(self):
        if self.virtual:
            return self._virtual_ns
        return time.monotonic_ns() - self._start_ns

    def seconds(self):
        """What ``loop.time()`` returns."""
        if self.virtual:
            return self._virtual_ns / 1e9
        return time.monotonic()

    def to_ns(self, loop_time):
        """A deadline in ``loop.time()`` seconds, as nanoseconds since the start."""
        if self.virtual:
            return max(0, round(loop_time * 1e9))
        return max(0, round((loop_time - self._start_s) * 1e9))

    def jump(self, seconds):
        self._virtual_ns += max(0, round(seconds * 1e9))


class Recorder:
    """Collects the lines of one recording and writes them, in the format's field
    order (the order of the Rust declarations in src/recording/line.rs)."""

    def __init__(self, out, clock, program):
        self.out = out
        self.clock = clock
        self.lock = threading.Lock()
        self.active = True
        self.current = None  # the runnable being run: {"task": n} or {"callback": name}
        self.current_by = "outside"  # who a wake now comes from
        # task -> number. Weak, so that recording keeps no finished task alive (asyncio
        # warns about a pending task that is collected, and that must still happen).
        self.tasks = weakref.WeakKeyDictionary()
        self.next_task = 0
        # A new task's spawn and first wake, held back until its name is known.
        self.held = None
        self.timers = {}  # id(TimerHandle) -> (handle, number, armed by)
        self.next_timer = 1
        self.turn = 0
        self.park = {"how": "skipped"}
        self.ready_fds = {}  # fd -> (readable, writable), from this turn's select
        self._write(
            {
                "format": FORMAT,
                "version": VERSION,
                "source": "asyncio",
                "clock": "virtual" if clock.virtual else "real",
                "timers": "heap",
                "io_keys": "fd",
                "program": program,
            }
        )

    def _write(self, obj):
        self.out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

    def emit(self, kind, **fields):
        if not self.active:
            return
        with self.lock:
            self._release()
            line = {"at_ns": self.clock.now_ns(), "kind": kind}
            line.update(fields)
            self._write(line)

    def hold_spawn(self, task, wake):
        """Writes a new task's ``spawn`` and the ``wake`` that queued it with the next
        line, not now: ``asyncio.create_task(coro, name=...)`` names the task only
        after its constructor has scheduled it, and the spawn line carries the name."""
        with self.lock:
            self._release()
            at_ns = self.clock.now_ns()
            spawn = {"at_ns": at_ns, "kind": "spawn", "task": self.tasks[task]}
            spawn["parent"] = self.current
            wake.update({"at_ns": at_ns, "kind": "wake"})
            self.held = (task, spawn, wake)

    def _release(self):
        if self.held is not None:
            task, spawn, wake = self.held
            self.held = None
            spawn["name"] = _task_name(task)
            self._write(spawn)
            self._write({"at_ns": wake.pop("at_ns"), "kind": wake.pop("kind"), **wake})

    def task_id(self, task):
        """The task's number; a task seen for the first time is announced by a spawn
        from whoever runs now (asyncio's ``Task()`` schedules its first step at once,
        so the first sight is its creation)."""
        number = self.tasks.get(task)
        if number is None:
            number = self.new_task(task)
            self.emit("spawn", task=number, parent=self.current, name=_task_name(task))
        return number

    def new_task(self, task):
        number = self.next_task
        self.next_task += 1
        self.tasks[task] = number
        return number

    def runnable(self, callback):
        task = _task_of(callback)
        if task is not None:
            return {"task": self.task_id(task)}
        return {"callback": _callback_name(callback)}

    def close(self):
        with self.lock:
            self._release()
        self.active = False
        self.out.flush()


class RecordingSelector(selectors.BaseSelector):
    """The loop's selector, with every registration and every ``select`` recorded.
    ``select`` is where asyncio parks, so under virtual time it is also where the
    clock jumps."""

    def __init__(self, inner):
        self.inner = inner
        self.recorder = None
        self.loop = None

    def register(self, fileobj, events, data=None):
        key = self.inner.register(fileobj, events, data)
        rec = self.recorder
        if rec is not None:
            rec.emit(
                "io_registered",
                key=key.fd,
                who=rec.current,
                what=_what(data),
                interest=_interest(events),
            )
        return key

    def unregister(self, fileobj):
        key = self.inner.unregister(fileobj)
        if self.recorder is not None:
            self.recorder.emit("io_deregistered", key=key.fd)
            self.recorder.ready_fds.pop(key.fd, None)
        return key

    def modify(self, fileobj, events, data=None):
        before = self.inner.get_key(fileobj).events
        key = self.inner.modify(fileobj, events, data)
        if self.recorder is not None and events != before:
            self.recorder.emit("io_modified", key=key.fd, interest=_interest(events))
        return key

    def select(self, timeout=None):
        rec = self.recorder
        if rec is None or not rec.active:
            return self.inner.select(timeout)
        loop = self.loop
        rec.emit(
            "park",
            timeout_ns=None if timeout is None else max(0, round(timeout * 1e9)),
            timers=sum(1 for h in loop._scheduled if not h._cancelled),
            sources=len(self.inner.get_map()),
        )
        start_ns = rec.clock.now_ns()
        wall = time.monotonic_ns()
        if timeout is not None and timeout <= 0:
            ready = self.inner.select(0)
            rec.park = {"how": "peeked", "events": len(ready)}
            reason = "io" if ready else "nothing"
        elif rec.clock.virtual:
            ready = self.inner.select(0)
            if ready:
                rec.park = {"how": "peeked", "events": len(ready)}
                reason = "io"
            elif timeout is not None:
                rec.clock.jump(timeout)
                rec.park = {"how": "jumped", "from_ns": start_ns, "to_ns": rec.clock.now_ns()}
                reason = "clock_jump"
            else:
                ready = self.inner.select(None)
                reason = "io" if ready else "nothing"
                rec.park = {
                    "how": "waited",
                    "waited_ns": time.monotonic_ns() - wall,
                    "ended_by": reason,
                    "events": len(ready),
                }
        else:
            ready = self.inner.select(timeout)
            reason = "io" if ready else "deadline"
            rec.park = {
                "how": "waited",
                "waited_ns": time.monotonic_ns() - wall,
                "ended_by": reason,
                "events": len(ready),
            }
        rec.emit("unpark", reason=reason, events=len(ready))
        rec.ready_fds = {}
        for key, mask in ready:
            readable = bool(mask & selectors.EVENT_READ)
            writable = bool(mask & selectors.EVENT_WRITE)
            rec.ready_fds[key.fd] = (readable, writable)
            rec.emit("io_ready", key=key.fd, readable=readable, writable=writable)
            # What asyncio's _process_events does next: queue the reader's and the
            # writer's handle, unless cancelled.
            reader, writer = key.data if isinstance(key.data, tuple) else (None, None)
            for handle, wanted in ((reader, readable), (writer, writable)):
                if wanted and handle is not None and not handle._cancelled:
                    rec.emit(
                        "wake",
                        who=rec.runnable(handle._callback),
                        by={"io": key.fd},
                        via="selector",
                    )
        return ready

    def get_key(self, fileobj):
        return self.inner.get_key(fileobj)

    def get_map(self):
        return self.inner.get_map()

    def close(self):
        self.inner.close()


_original_handle_run = events.Handle._run


def _recorded_handle_run(handle):
    """``Handle._run`` for the recording's loop: the handle's run is one poll."""
    loop = handle._loop
    rec = getattr(loop, "_looplab_recorder", None)
    if rec is None or not rec.active:
        return _original_handle_run(handle)
    callback = handle._callback
    who = rec.runnable(callback)
    timer = rec.timers.pop(id(handle), None)
    if timer is not None:
        rec.emit("timer_fired", timer=timer[1])
    rec.emit("poll", who=who)
    outer = (rec.current, rec.current_by)
    rec.current = who
    rec.current_by = {"timer": timer[1]} if timer is not None else dict(who)
    try:
        return _original_handle_run(handle)
    finally:
        rec.current, rec.current_by = outer
        task = _task_of(callback)
        message = None
        if task is None:
            result = "ran"
        elif not task.done():
            result = "pending"
        elif task.cancelled():
            result = "cancelled"
        elif task._exception is not None:
            # Read without task.exception(), which would mark it retrieved and
            # silence asyncio's own "exception was never retrieved".
            result = "panicked"
            message = repr(task._exception)
        else:
            result = "ready"
        rec.emit("poll_end", who=who, result=result, message=message)


class RecordingLoop(asyncio.SelectorEventLoop):
    """A selector event loop that records what it does."""

    def __init__(self, recorder, clock):
        selector = RecordingSelector(selectors.DefaultSelector())
        super().__init__(selector)
        self._looplab_clock = clock
        self._looplab_thread = threading.get_ident()
        # Set last: the loop's own setup (its self-pipe) is recorded too.
        self._looplab_recorder = recorder
        selector.loop = self
        selector.recorder = recorder
        self._looplab_started = False
        # The self-pipe was registered in super().__init__, before the recorder was
        # attached: say so now, at time 0.
        for key in selector.get_map().values():
            recorder.emit(
                "io_registered",
                key=key.fd,
                who=None,
                what=_what(key.data),
                interest=_interest(key.events),
            )

    # -- the clock --------------------------------------------------------------

    def time(self):
        return self._looplab_clock.seconds()

    # -- wakes ------------------------------------------------------------------

    def call_soon(self, callback, *args, context=None):
        handle = super().call_soon(callback, *args, context=context)
        rec = self._looplab_recorder
        if rec.active:
            task = _task_of(callback)
            if task is not None and task not in rec.tasks:
                # A Task's constructor scheduling its first step: the task is new.
                who = {"task": rec.new_task(task)}
                rec.hold_spawn(task, {"who": who, "by": rec.current_by, "via": "spawn"})
                return handle
            if len(args) == 1 and futures.isfuture(args[0]) and args[0].done():
                via = "future"
            else:
                via = "call_soon"
            rec.emit("wake", who=rec.runnable(callback), by=rec.current_by, via=via)
        return handle

    def call_soon_threadsafe(self, callback, *args, context=None):
        # The line goes first: once the handle is queued, the loop may run it and end
        # the recording before this thread gets the lock again.
        rec = self._looplab_recorder
        if rec.active:
            on_loop = threading.get_ident() == self._looplab_thread
            rec.emit(
                "wake",
                who=rec.runnable(callback),
                by=rec.current_by if on_loop else "thread",
                via="call_soon_threadsafe",
            )
        return super().call_soon_threadsafe(callback, *args, context=context)

    # -- timers -----------------------------------------------------------------

    def call_at(self, when, callback, *args, context=None):
        timer = super().call_at(when, callback, *args, context=context)
        rec = self._looplab_recorder
        if rec.active:
            number = rec.next_timer
            rec.next_timer += 1
            rec.timers[id(timer)] = (timer, number, rec.current)
            index = next(i for i, h in enumerate(self._scheduled) if h is timer)
            rec.emit(
                "timer_armed",
                timer=number,
                who=rec.current,
                deadline_ns=self._looplab_clock.to_ns(when),
                place={"heap": index},
                callback=_callback_name(callback),
            )
        return timer

    def _timer_handle_cancelled(self, handle):
        super()._timer_handle_cancelled(handle)
        rec = self._looplab_recorder
        timer = rec.timers.pop(id(handle), None)
        if timer is not None:
            rec.emit("timer_cancelled", timer=timer[1])

    # -- turns ------------------------------------------------------------------

    def _run_once(self):
        rec = self._looplab_recorder
        if not rec.active:
            return super()._run_once()
        rec.park = {"how": "skipped"}
        super()._run_once()
        rec.turn += 1
        rec.emit("turn", turn=rec.turn, state=self._turn_state())

    def _turn_state(self):
        rec = self._looplab_recorder
        queue = [rec.runnable(h._callback) for h in self._ready if not h._cancelled]
        timers = []
        for index, handle in enumerate(self._scheduled):
            known = rec.timers.get(id(handle))
            if handle._cancelled or known is None:
                continue
            timers.append(
                {
                    "timer": known[1],
                    "deadline_ns": self._looplab_clock.to_ns(handle.when()),
                    "place": {"heap": index},
                    "who": known[2],
                    "callback": _callback_name(handle._callback),
                }
            )
        io = []
        selector = self._selector
        for fd, key in sorted(selector.get_map().items()):
            reader, writer = key.data if isinstance(key.data, tuple) else (None, None)
            readable, writable = rec.ready_fds.get(fd, (False, False))
            io.append(
                {
                    "key": fd,
                    "what": _what(key.data),
                    "interest": _interest(key.events),
                    "readable": readable,
                    "writable": writable,
                    "readers": [rec.runnable(reader._callback)] if reader is not None else [],
                    "writers": [rec.runnable(writer._callback)] if writer is not None else [],
                }
            )
        return {
            "main_woken": {"task": 0} in queue,
            "run_queue": queue,
            "park": rec.park,
            "wheel_tick": None,
            "timers": timers,
            "io": io,
        }

    # -- the run ----------------------------------------------------------------

    def run_until_complete(self, future):
        rec = self._looplab_recorder
        if self._looplab_started or not rec.active:
            return super().run_until_complete(future)
        self._looplab_started = True
        future = asyncio.ensure_future(future, loop=self)
        if isinstance(future, asyncio.Task):
            main = rec.task_id(future)
            rec.emit("start", task=main, name=_task_name(future))
        start = self._looplab_clock.now_ns()
        try:
            return super().run_until_complete(future)
        finally:
            rec.emit("stop", elapsed_ns=self._looplab_clock.now_ns() - start)
            rec.close()


with warnings.catch_warnings():
    # Python 3.14 deprecates policies; until asyncio.run has another way to choose
    # the loop for a script that does not pass one, this is the hook.
    warnings.simplefilter("ignore", DeprecationWarning)
    _DefaultPolicy = asyncio.DefaultEventLoopPolicy


class RecordingPolicy(_DefaultPolicy):
    """Makes the recording loop the first time a loop is asked for; any later loop
    is a plain one (a recording holds one loop)."""

    def __init__(self, recorder, clock):
        super().__init__()
        self._recorder = recorder
        self._clock = clock
        self._made = False

    def new_event_loop(self):
        if self._made:
            return super().new_event_loop()
        self._made = True
        return RecordingLoop(self._recorder, self._clock)


class NoteWriter:
    """``sys.stdout`` while the script runs: every line still goes to the terminal,
    and while the loop is recorded it is also a note from whoever runs."""

    def __init__(self, inner, recorder):
        self._inner = inner
        self._recorder = recorder
        self._partial = ""

    def write(self, text):
        self._inner.write(text)
        rec = self._recorder
        if rec.active and rec.next_task > 0:
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                rec.emit("note", who=rec.current, text=line)
        return len(text)

    def flush(self):
        self._inner.flush()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="asyncio_record.py",
        description="Run an asyncio program under a recording event loop and write "
        "looplab's recording format (docs/recording.md).",
    )
    parser.add_argument(
        "--virtual-time",
        action="store_true",
        help="jump the loop's clock to the next deadline instead of waiting "
        "(the recording is then the same bytes on every run)",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the recording")
    parser.add_argument("script", metavar="SCRIPT", help="the program to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    options = parser.parse_args(argv)

    if not os.path.isfile(options.script):
        parser.error(f"no such script: {options.script}")
    try:
        out = open(options.out, "w", encoding="utf-8", newline="\n")
    except OSError as e:
        parser.error(f"cannot write {options.out}: {e.strerror}")

    clock = Clock(options.virtual_time)
    recorder = Recorder(out, clock, options.script)
    events.Handle._run = _recorded_handle_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(RecordingPolicy(recorder, clock))
    if clock.virtual:
        # The program's own wall clock follows the virtual one, from a whole second
        # (so that differences of whole seconds are exact).
        base = float(int(time.time()))
        time.time = lambda: base + clock.seconds()
    sys.argv = [options.script, *options.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(options.script)))
    stdout = sys.stdout
    sys.stdout = NoteWriter(stdout, recorder)
    try:
        runpy.run_path(options.script, run_name="__main__")
    finally:
        sys.stdout = stdout
        recorder.close()
        out.close()


if __name__ == "__main__":
    main()
