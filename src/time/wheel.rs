//! The timer wheel: where every `sleep` and `timeout` waits for its moment.
//!
//! This file is a pure data structure. It knows nothing of futures, wakers or clocks:
//! time is a `u64` count of 1 ms *ticks* since the wheel was made, and a timer carries
//! any value `T` (the runtime stores a waker there). The runtime turns its clock into
//! ticks, rounding deadlines *up* so nothing fires early, and hands the wheel the time.
//!
//! # The problem
//!
//! An event loop parks its one thread until something happens: a socket becomes ready or
//! a timer expires. Before parking it must know the earliest deadline; after waking it
//! must find every timer that has come due. Timers are also made and dropped all the
//! time: most `timeout`s are cancelled because the work they guarded finished first. So
//! the structure that holds them must make three things cheap: insert, cancel, and
//! "which timers are due, and when is the next one?".
//!
//! The obvious structures each fail one of the three. A sorted list makes insert O(n). A
//! binary heap makes insert O(log n) and cancel awkward (first find the entry, or leave a
//! tombstone that costs memory until it reaches the top). An array with one slot per
//! millisecond (a *timing wheel*: deadline `d` goes into slot `d % size`) makes insert
//! and cancel O(1), but reaching a day ahead would take 86 million slots.
//!
//! # Hierarchical timing wheels (Varghese & Lauck, 1987)
//!
//! George Varghese and Tony Lauck ("Hashed and Hierarchical Timing Wheels", SOSP 1987)
//! keep the O(1) wheel and extend its reach the way a clock face does: a second hand, a
//! minute hand, an hour hand. Here each hand is a *level* of 64 slots, and each level is
//! 64 times coarser than the one below it:
//!
//! ```text
//! level   one slot covers    one turn covers
//!   0     1 ms               64 ms
//!   1     64 ms              4.096 s
//!   2     4.096 s            4 min 22 s
//!   3     4 min 22 s         4 h 40 min
//!   4     4 h 40 min         12.4 days
//!   5     12.4 days          2.18 years
//! ```
//!
//! Write a tick count in base 64. Each 6-bit digit is the position of one hand: digit 0
//! is the level-0 hand, digit 1 the level-1 hand, and so on. A timer goes to the level of
//! the **highest digit in which its deadline differs from now**, into the slot named by
//! that digit of its deadline. The lower digits do not matter yet: a timer due in three
//! hours does not care which millisecond of the current second it is.
//!
//! Example: a 1000 ms sleep armed at tick 0. 1000 is `0b1111_101000`, base-64 digits
//! (15, 40). It first differs from 0 in digit 1 (its highest set bit, bit 9, belongs to
//! bits 6..12), so it goes to level 1, slot 15, which covers ticks 960..1024.
//!
//! # Cascading
//!
//! A coarse slot only says "somewhere in these 64^L ticks", yet the timer must fire on
//! its exact tick. So when time reaches the first tick of an occupied slot at level
//! L > 0, the wheel *cascades* that slot: every timer in it is placed again, measured
//! from the new now. Now agrees with the deadline in digit L as well, so the timer lands
//! on a lower level (or fires, if this very tick is its deadline). The 1000 ms timer
//! moves at tick 960 to level 0 slot 40, and fires when time reaches tick 1000. A timer
//! cascades at most `LEVELS - 1` times in its life, so the work per timer stays constant
//! however far ahead its deadline is.
//!
//! # Bitmaps: finding the next timer without looking at empty slots
//!
//! Each level keeps a `u64` with bit `s` set while slot `s` holds a timer. "The first
//! occupied slot at or after the hand" is then a rotate and a `trailing_zeros`, a couple
//! of machine instructions. (That is why a level has 64 slots: one bitmap fits one
//! machine word.) The two questions the loop asks need nothing more:
//!
//! - **When is the next deadline?** Every timer on level L is due before every timer on
//!   level L + 1: one on level L agrees with now in all digits above L, one on level L + 1
//!   does not, so it lies beyond the end of the current level-L turn. The earliest
//!   timer is therefore in the first occupied slot of the lowest level that has one.
//!   Looking at that one slot gives the exact deadline, not the start of a coarse slot,
//!   so under virtual time a 1 s sleep ends at exactly tick 1000. The loop asks every
//!   turn, and one slot can hold thousands of timers (ten thousand 1 s sleeps armed
//!   together), so a slot remembers its earliest deadline once known. Inserting keeps
//!   the answer exact; only cancelling that very timer makes the next ask scan the slot.
//! - **What fires when time jumps ahead?** [`TimerWheel::advance`] hops from the first
//!   tick of one occupied slot to the next and never visits the empty ticks in between.
//!   Jumping a year ahead with a few timers takes a few dozen hops, not 31 billion.
//!
//! # Timers that are already due
//!
//! A deadline at or before now is *due*. It goes into level 0 at the slot under the hand
//! (`now % 64`), which never holds anything else: a timer there that was not yet due
//! would have to be due *now*. Every [`TimerWheel::advance`] empties that slot first,
//! so a due timer fires at the next advance, even `advance(now())`: never lost, never
//! early.
//!
//! # How far ahead: `MAX_DELAY`
//!
//! The top level has nothing above it to count its turns, so it is used as a ring: slot
//! `s` on level 5 means "the next time the top hand points at `s`", which may be in the
//! next turn. The slot under the top hand would be ambiguous (the rest of this turn, or
//! the next turn?), so a deadline must land in one of the other 63 slots. Hence
//! [`MAX_DELAY`] = 63 × 64^5 ms, about 2.1 years. A later deadline is clamped to
//! `now + MAX_DELAY`; [`TimerWheel::deadline`] and the `Fired` event report the clamped
//! tick, so the runtime can see it happened (and re-arm, if it ever cares).
//!
//! # Storage: a slab of entries, slots of indices
//!
//! Timers live in a slab (a `Vec` of entries with a free list of vacant indices), and a
//! slot is a `Vec` of slab indices. Each entry remembers where it sits, including its
//! position inside its slot's `Vec`, so cancel is a `swap_remove`: O(1). The [`TimerKey`]
//! a caller holds is the slab index plus the timer's id, a number no other timer in this
//! wheel's life shares. The id doubles as the *generation* of the slab entry: once a
//! timer fires or is cancelled its index is reused, the new occupant has a different id,
//! and a stale key is refused instead of cancelling someone else's timer. Every `Vec`
//! keeps its capacity, so once the wheel has warmed up an insert allocates nothing.
//!
//! # Invariants
//!
//! 1. **The placement rule.** Every pending timer sits where [`TimerWheel::insert`] would
//!    put it *now*: its level and slot are computed from its deadline and the current
//!    time, not the time it was inserted. `advance` keeps this true by cascading exactly
//!    the slots whose first tick it reaches: a timer's level only changes when time enters
//!    its slot. All the rest follows from this rule:
//!    - on level 0 the slot under the hand holds only due timers;
//!    - on levels 1 and up the slot under the hand is empty;
//!    - on levels 0 to 4 only slots after the hand are occupied (only the top ring wraps);
//!    - everything on level L is due before everything on level L + 1.
//! 2. Bit `s` of a level's bitmap is set exactly when slot `s` of that level is non-empty.
//! 3. A pending entry's `placement` and `position` say where its index is:
//!    `levels[placement.level].slots[placement.slot].timers[position] == its index`.
//! 4. A slot's remembered earliest deadline, when it has one, is the earliest deadline
//!    of the timers in it.
//!
//! The unit tests at the bottom check all four after random operations.
//!
//! # What a production wheel does differently
//!
//! tokio's timer has the same shape (six levels of 64 slots, 1 ms ticks). Its slots are
//! intrusive linked lists threaded through the timer objects themselves, which saves the
//! slab and the index `Vec`s at the price of `unsafe` pointer code. Here plain `Vec`s
//! keep everything safe and visible.

use std::cell::Cell;
use std::fmt;

/// Slots in one level: one per 6-bit digit of a tick count, and one bit of a `u64`.
pub const SLOTS_PER_LEVEL: usize = 64;

/// Number of levels. 64^6 ms is about 2.2 years, so six levels reach past a year.
pub const LEVELS: usize = 6;

/// Bits of a tick count that index one level (64 = 2^6).
const BITS_PER_LEVEL: u32 = 6;

/// The slot-number bits of one digit.
const SLOT_MASK: u64 = SLOTS_PER_LEVEL as u64 - 1;

/// The top level: the only one used as a ring (see the module docs).
const TOP_LEVEL: usize = LEVELS - 1;

// The bitmap of a level is one u64, and digits are 6 bits; keep the constants honest.
const _: () = assert!(SLOTS_PER_LEVEL == 1 << BITS_PER_LEVEL);
const _: () = assert!(SLOTS_PER_LEVEL <= u64::BITS as usize);

/// The longest delay the wheel can hold, in ticks: 63 × 64^5 = 67,645,734,912 ms,
/// about 783 days (2.1 years).
///
/// [`TimerWheel::insert`] clamps a deadline later than `now() + MAX_DELAY` to
/// `now() + MAX_DELAY`; the clamped value is what [`TimerWheel::deadline`] and
/// [`WheelEvent::Fired`] report. It is 63 top-level slots rather than 64 because the top
/// level is a ring and the slot under its hand must stay free (see "How far ahead" in the
/// module docs).
pub const MAX_DELAY: u64 = SLOT_MASK << (BITS_PER_LEVEL * TOP_LEVEL as u32);

/// A handle to one timer, returned by [`TimerWheel::insert`].
///
/// It names a slab entry *and* the timer that was in it when the key was made, so a key
/// that outlives its timer (fired or cancelled, and the entry since reused) is stale:
/// every method taking a key then answers `None` and touches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    /// Where the entry lives in the slab.
    index: usize,
    /// The timer's id; the slab entry must still hold this id for the key to be live.
    id: u64,
}

impl TimerKey {
    /// A number for trace output ("timer #12"): the timer's place in the order of
    /// inserts, starting at 1. Unique over the life of the wheel, unlike the slab index,
    /// which is reused.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Where a timer sits in the wheel right now: level and slot ("wheel level 1 slot 15").
///
/// The placement of a pending timer changes when it cascades to a finer level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// 0 (1 ms slots) up to `LEVELS - 1` (the coarsest).
    pub level: usize,
    /// `0..SLOTS_PER_LEVEL`: digit `level` of the deadline written in base 64 (for a
    /// timer already due, the slot under the level-0 hand).
    pub slot: usize,
}

/// What [`TimerWheel::advance`] reports as time moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WheelEvent<T> {
    /// The timer is due: `deadline <= now`. The value is handed back (the runtime wakes
    /// the waker in it) and the key is stale from now on.
    Fired {
        /// The timer that fired.
        key: TimerKey,
        /// Its deadline (after clamping to [`MAX_DELAY`]).
        deadline: u64,
        /// The value given to [`TimerWheel::insert`], or the last one put in with
        /// [`TimerWheel::get_mut`].
        value: T,
    },
    /// The timer moved to a finer level as its time neared. Its key stays valid.
    Cascaded {
        /// The timer that moved.
        key: TimerKey,
        /// Its deadline, unchanged by the move.
        deadline: u64,
        /// The coarse slot whose first tick has come.
        from: Placement,
        /// The finer slot it sits in now.
        to: Placement,
    },
}

/// A pending timer, stored in the slab.
#[derive(Debug)]
struct Timer<T> {
    /// Unique per insert; also the generation check for keys (see [`TimerKey`]).
    id: u64,
    deadline: u64,
    value: T,
    /// Where in its slot's `timers` the index is, so cancel can `swap_remove` it
    /// without searching. (`u32` and `u8`s rather than `usize`s: a runtime holds one
    /// of these per waiting sleep, and 100,000 sleeps are a common shape.)
    position: u32,
    /// The slot that holds this timer's index (invariant 3): its level and slot.
    level: u8,
    slot: u8,
}

impl<T> Timer<T> {
    fn placement(&self) -> Placement {
        Placement {
            level: usize::from(self.level),
            slot: usize::from(self.slot),
        }
    }

    fn position(&self) -> usize {
        self.position as usize
    }
}

/// One slab entry. A vacant entry's index is on the free list.
#[derive(Debug)]
enum SlabEntry<T> {
    Pending(Timer<T>),
    Vacant,
}

/// One hand of the clock: 64 slots and the bitmap saying which are occupied.
#[derive(Debug)]
struct Level {
    /// Bit `s` is set exactly when `slots[s]` is non-empty.
    occupied: u64,
    slots: [Slot; SLOTS_PER_LEVEL],
}

impl Level {
    fn new() -> Self {
        Level {
            occupied: 0,
            slots: std::array::from_fn(|_| Slot::default()),
        }
    }
}

/// The timers of one slot.
#[derive(Debug, Default)]
struct Slot {
    /// Slab indices, in no particular order.
    timers: Vec<u32>,
    /// The earliest deadline in `timers`, or `None` while not known. Only looked at
    /// while the slot is non-empty. `next_deadline` works it out when it is missing (a
    /// `Cell`, since that method only reads the wheel); adding a timer keeps it exact;
    /// removing the earliest one forgets it rather than scanning for the next.
    earliest: Cell<Option<u64>>,
}

impl Slot {
    /// Adds a timer and returns its position in `timers`.
    fn push(&mut self, index: usize, deadline: u64) -> usize {
        let index = u32::try_from(index).expect("more than 4 billion timers");
        let earliest = if self.timers.is_empty() {
            Some(deadline) // whatever was remembered belonged to timers now gone
        } else {
            // Unknown stays unknown: the others' minimum would take a scan.
            self.earliest.get().map(|earliest| earliest.min(deadline))
        };
        self.earliest.set(earliest);
        self.timers.push(index);
        self.timers.len() - 1
    }

    /// Removes the timer at `position` in O(1). `swap_remove` fills the hole with the
    /// last index; that index is returned, since its timer must learn its new position.
    fn remove(&mut self, position: usize, deadline: u64) -> Option<usize> {
        self.timers.swap_remove(position);
        if self.earliest.get() == Some(deadline) {
            self.earliest.set(None);
        }
        self.timers.get(position).map(|&index| index as usize)
    }

    /// Empties the slot into `into` (which must be empty), swapping the `Vec`s so each
    /// side keeps a buffer and nothing is allocated. (`earliest` may keep a stale value:
    /// it is not read while the slot is empty, and the next `push` overwrites it.)
    fn take_all(&mut self, into: &mut Vec<u32>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut self.timers, into);
    }
}

/// A hierarchical timing wheel holding timers that carry a value `T`.
///
/// Insert and cancel are O(1); [`next_deadline`](TimerWheel::next_deadline) looks at
/// one slot; [`advance`](TimerWheel::advance) does work for occupied slots only. See the
/// module docs for how and why.
pub struct TimerWheel<T> {
    /// The tick the wheel has advanced to. Every placement is relative to it.
    now: u64,
    /// `LEVELS` levels, finest first. Boxed so moving the wheel moves a pointer, not
    /// all 384 slots.
    levels: Box<[Level; LEVELS]>,
    /// Every timer, pending or vacant; slots hold indices into it.
    entries: Vec<SlabEntry<T>>,
    /// Indices of the vacant entries, reused before the slab grows.
    free: Vec<usize>,
    /// The id the next insert gets.
    next_id: u64,
    /// Where `advance` puts a slot's indices while it empties that slot. Kept between
    /// calls so its capacity is reused instead of allocated on every advance.
    scratch: Vec<u32>,
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    /// A summary, not every slot: the time, the count, and which slots are occupied.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("now", &self.now)
            .field("len", &self.len())
            .field("occupied_slots", &self.occupied_slots())
            .finish()
    }
}

impl<T> TimerWheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        TimerWheel {
            now: 0,
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            entries: Vec::new(),
            free: Vec::new(),
            next_id: 1,
            scratch: Vec::new(),
        }
    }

    /// The tick the wheel has advanced to.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// True when no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Arms a timer for tick `deadline` carrying `value`, in O(1). Returns its key and
    /// where it was placed.
    ///
    /// A deadline at or before [`now`](TimerWheel::now) is due: it fires at the next
    /// [`advance`](TimerWheel::advance), even `advance(now())`. A deadline later than
    /// `now() + MAX_DELAY` is clamped to that (see [`MAX_DELAY`]).
    pub fn insert(&mut self, deadline: u64, value: T) -> (TimerKey, Placement) {
        let deadline = deadline.min(self.now.saturating_add(MAX_DELAY));
        let id = self.next_id;
        self.next_id += 1;

        let placement = self.placement_for(deadline);
        let timer = Timer {
            id,
            deadline,
            value,
            // Set by `link` below.
            position: 0,
            level: 0,
            slot: 0,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.entries[index] = SlabEntry::Pending(timer);
                index
            }
            None => {
                self.entries.push(SlabEntry::Pending(timer));
                self.entries.len() - 1
            }
        };
        self.link(index, placement);
        (TimerKey { index, id }, placement)
    }

    /// Cancels a timer in O(1): it will never fire. Returns its value if it was still
    /// pending, `None` if the key is stale (the timer already fired or was cancelled).
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let placement = self.timer(key)?.placement();
        self.unlink(key.index, placement);
        let SlabEntry::Pending(timer) =
            std::mem::replace(&mut self.entries[key.index], SlabEntry::Vacant)
        else {
            unreachable!("`timer(key)` just found this entry pending");
        };
        self.free.push(key.index);
        Some(timer.value)
    }

    /// The value of a pending timer, to change it in place (the runtime swaps in a newer
    /// waker). `None` for a stale key.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        match self.entries.get_mut(key.index) {
            Some(SlabEntry::Pending(timer)) if timer.id == key.id => Some(&mut timer.value),
            _ => None,
        }
    }

    /// The deadline of a pending timer (after clamping). `None` for a stale key.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.timer(key).map(|timer| timer.deadline)
    }

    /// Where a pending timer sits now; it changes as the timer cascades. `None` for a
    /// stale key.
    pub fn placement(&self, key: TimerKey) -> Option<Placement> {
        self.timer(key).map(|timer| timer.placement())
    }

    /// The exact earliest deadline of any pending timer, or `None` if there is none.
    ///
    /// It can be at or before [`now`](TimerWheel::now) when a due timer waits for the
    /// next advance (the runtime should then not park at all).
    ///
    /// Everything on a lower level is due before everything on a higher one, so the
    /// first occupied slot of the lowest non-empty level holds the earliest timer, and
    /// the minimum over that one slot is exact. Cost: one bitmap test per empty level,
    /// then the slot's remembered earliest deadline, or one scan of that slot if it was
    /// forgotten (its earliest timer was cancelled since the last call).
    pub fn next_deadline(&self) -> Option<u64> {
        let placement = self.first_occupied_slot()?;
        let slot = &self.levels[placement.level].slots[placement.slot];
        if let Some(earliest) = slot.earliest.get() {
            return Some(earliest);
        }
        let earliest = (slot.timers.iter())
            .map(|&index| self.pending(index as usize).deadline)
            .min();
        slot.earliest.set(earliest);
        earliest
    }

    /// Moves time forward to `now`, firing every timer whose deadline is `<= now`
    /// exactly once, and cascading timers to finer levels as their coarse slots come up.
    /// An earlier `now` than [`now()`](TimerWheel::now) does nothing.
    ///
    /// `on_event` sees each [`WheelEvent`]. Fired timers come in deadline order, ties in
    /// insertion order.
    ///
    /// Time hops from the first tick of one occupied slot to the next, so the cost
    /// depends on the timers passed, not on how far time moves.
    ///
    /// `on_event` runs in the middle of the update; if it panics, the wheel is left
    /// half-updated and must not be used again.
    pub fn advance(&mut self, now: u64, mut on_event: impl FnMut(WheelEvent<T>)) {
        if now < self.now {
            return;
        }
        loop {
            // Due timers first: the slot under the level-0 hand must be empty before the
            // hand moves on, or what is in it would belong to the wrong tick.
            self.fire_due(&mut on_event);

            // The next thing that happens is the first tick of the first occupied slot of
            // the lowest occupied level (lower levels are always earlier). If that is
            // beyond `now`, nothing happens before `now` and the hands can jump straight
            // there: by the placement rule no timer's level or slot changes on the way.
            let Some(next) = self.first_occupied_slot() else {
                break;
            };
            let start = self.slot_start(next);
            if start > now {
                break;
            }
            // Time only moves forward. (If the placement rule were broken, a slot could
            // seem to start in the past and this loop would never end.)
            debug_assert!(start > self.now, "slot start {start} is not ahead of now");
            self.now = start;
            if next.level > 0 {
                self.cascade(next, &mut on_event);
            }
            // On level 0 the slot just reached is now the one under the hand, so the
            // next turn of the loop fires it.
        }
        self.now = now;
    }

    /// Every pending timer with its key, deadline, placement and value, in no
    /// particular order (for the `--step` view: timers by wheel level and slot).
    pub fn iter(&self) -> impl Iterator<Item = (TimerKey, u64, Placement, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match entry {
                SlabEntry::Pending(timer) => Some((
                    TimerKey {
                        index,
                        id: timer.id,
                    },
                    timer.deadline,
                    timer.placement(),
                    &timer.value,
                )),
                SlabEntry::Vacant => None,
            })
    }

    /// Each occupied slot with the number of timers in it, finest level first and slots
    /// in ascending order (for the `--step` view).
    pub fn occupied_slots(&self) -> Vec<(Placement, usize)> {
        let mut occupied = Vec::new();
        for (level, hand) in self.levels.iter().enumerate() {
            let mut bits = hand.occupied;
            while bits != 0 {
                let slot = bits.trailing_zeros() as usize;
                bits &= bits - 1; // clear the lowest set bit
                let count = hand.slots[slot].timers.len();
                occupied.push((Placement { level, slot }, count));
            }
        }
        occupied
    }

    // ----- helpers -----

    /// The pending timer a key names, if the key is not stale.
    fn timer(&self, key: TimerKey) -> Option<&Timer<T>> {
        match self.entries.get(key.index) {
            Some(SlabEntry::Pending(timer)) if timer.id == key.id => Some(timer),
            _ => None,
        }
    }

    /// The timer at a slab index that a slot refers to. Slots only hold indices of
    /// pending entries (invariant 3), so anything else is a bug in this file.
    fn pending(&self, index: usize) -> &Timer<T> {
        match &self.entries[index] {
            SlabEntry::Pending(timer) => timer,
            SlabEntry::Vacant => unreachable!("a slot refers to vacant entry {index}"),
        }
    }

    fn pending_mut(&mut self, index: usize) -> &mut Timer<T> {
        match &mut self.entries[index] {
            SlabEntry::Pending(timer) => timer,
            SlabEntry::Vacant => unreachable!("a slot refers to vacant entry {index}"),
        }
    }

    /// The placement rule: where a timer with this deadline belongs at the current time.
    fn placement_for(&self, deadline: u64) -> Placement {
        if deadline <= self.now {
            // Due: the slot under the level-0 hand, emptied by the next advance.
            return Placement {
                level: 0,
                slot: digit(self.now, 0),
            };
        }
        // The highest bit in which deadline and now differ picks the base-64 digit, and
        // so the level. Past the top level (the deadline is in a later turn of the top
        // ring) it stays on the top level; `MAX_DELAY` keeps that unambiguous.
        let highest_differing_bit = u64::BITS - 1 - (deadline ^ self.now).leading_zeros();
        let level = ((highest_differing_bit / BITS_PER_LEVEL) as usize).min(TOP_LEVEL);
        Placement {
            level,
            slot: digit(deadline, level),
        }
    }

    /// Puts a slab index into a slot and records where it went.
    fn link(&mut self, index: usize, placement: Placement) {
        let deadline = self.pending(index).deadline;
        let hand = &mut self.levels[placement.level];
        let position = hand.slots[placement.slot].push(index, deadline);
        hand.occupied |= 1 << placement.slot;
        let timer = self.pending_mut(index);
        timer.level = placement.level as u8;
        timer.slot = placement.slot as u8;
        timer.position = position as u32;
    }

    /// Takes a slab index out of its slot in O(1), keeping invariants 2 and 3.
    fn unlink(&mut self, index: usize, placement: Placement) {
        let timer = self.pending(index);
        let (position, deadline) = (timer.position(), timer.deadline);
        let hand = &mut self.levels[placement.level];
        let slot = &mut hand.slots[placement.slot];
        let moved = slot.remove(position, deadline);
        if slot.timers.is_empty() {
            hand.occupied &= !(1 << placement.slot);
        }
        if let Some(moved) = moved {
            self.pending_mut(moved).position = position as u32;
        }
    }

    /// The first occupied slot at or after the hand of the lowest level that has one.
    fn first_occupied_slot(&self) -> Option<Placement> {
        let (level, hand) = self
            .levels
            .iter()
            .enumerate()
            .find(|(_, hand)| hand.occupied != 0)?;
        // Rotate so the hand's slot becomes bit 0; the lowest set bit is then the
        // distance, in slots, from the hand to the first occupied slot. Only the top
        // ring ever has occupied slots behind its hand, but rotating is right everywhere.
        let hand_slot = digit(self.now, level);
        let distance = hand
            .occupied
            .rotate_right(hand_slot as u32)
            .trailing_zeros() as usize;
        Some(Placement {
            level,
            slot: (hand_slot + distance) % SLOTS_PER_LEVEL,
        })
    }

    /// The first tick of the next time the hand of `placement.level` reaches
    /// `placement.slot`: the moment that slot's timers fire (level 0) or cascade.
    fn slot_start(&self, placement: Placement) -> u64 {
        let shift = BITS_PER_LEVEL * placement.level as u32;
        let turn_bits = shift + BITS_PER_LEVEL;
        // Keep the digits above this level, put the slot in this level's digit, zero
        // the finer digits.
        let this_turn = (self.now >> turn_bits) << turn_bits;
        let start = this_turn + ((placement.slot as u64) << shift);
        if placement.slot < digit(self.now, placement.level) {
            // Behind the hand: only on the top ring, meaning the next turn. A timer is
            // there, its deadline fits in a u64, so this cannot overflow.
            start + (1 << turn_bits)
        } else {
            start
        }
    }

    /// Fires everything in the slot under the level-0 hand, earliest deadline first.
    fn fire_due(&mut self, on_event: &mut impl FnMut(WheelEvent<T>)) {
        let hand_slot = digit(self.now, 0);
        let level_zero = &mut self.levels[0];
        if level_zero.occupied & (1 << hand_slot) == 0 {
            return;
        }
        level_zero.occupied &= !(1 << hand_slot);
        level_zero.slots[hand_slot].take_all(&mut self.scratch);

        // Usually all these share one deadline (this tick), but timers inserted already
        // overdue keep their own; sort so events come in deadline order, then by id.
        let entries = &self.entries;
        self.scratch
            .sort_unstable_by_key(|&index| match &entries[index as usize] {
                SlabEntry::Pending(timer) => (timer.deadline, timer.id),
                SlabEntry::Vacant => unreachable!("a slot refers to vacant entry {index}"),
            });
        for index in self.scratch.iter().map(|&index| index as usize) {
            let SlabEntry::Pending(timer) =
                std::mem::replace(&mut self.entries[index], SlabEntry::Vacant)
            else {
                unreachable!("a slot refers to vacant entry {index}");
            };
            self.free.push(index);
            on_event(WheelEvent::Fired {
                key: TimerKey {
                    index,
                    id: timer.id,
                },
                deadline: timer.deadline,
                value: timer.value,
            });
        }
        self.scratch.clear();
    }

    /// Time has reached the first tick of `from` (a slot on level 1 or higher): place
    /// each of its timers again, relative to the new now.
    fn cascade(&mut self, from: Placement, on_event: &mut impl FnMut(WheelEvent<T>)) {
        // Borrow the scratch buffer: `link` below needs all of `self`.
        let mut cascading = std::mem::take(&mut self.scratch);
        let hand = &mut self.levels[from.level];
        hand.occupied &= !(1 << from.slot);
        hand.slots[from.slot].take_all(&mut cascading);

        for index in cascading.iter().map(|&index| index as usize) {
            let timer = self.pending(index);
            let (id, deadline) = (timer.id, timer.deadline);
            let to = self.placement_for(deadline);
            self.link(index, to);
            // A timer due on this very tick goes under the level-0 hand and fires in the
            // same advance; it did not "move closer", so it is not reported as a cascade.
            if deadline > self.now {
                on_event(WheelEvent::Cascaded {
                    key: TimerKey { index, id },
                    deadline,
                    from,
                    to,
                });
            }
        }
        cascading.clear();
        self.scratch = cascading;
    }
}

/// Base-64 digit `level` of a tick count: the slot a deadline takes on that level, or,
/// for `now`, the slot under that level's hand.
fn digit(ticks: u64, level: usize) -> usize {
    ((ticks >> (BITS_PER_LEVEL * level as u32)) & SLOT_MASK) as usize
}

#[cfg(test)]
mod tests {
    //! Checks of the internals: the invariants from the module docs, after every kind of
    //! operation. The behaviour through the public API is in `tests/timer_wheel.rs`.

    use super::*;
    use proptest::prelude::*;

    /// Panics unless every invariant listed in the module docs holds.
    fn check_invariants<T>(wheel: &TimerWheel<T>) {
        // Invariants 2 to 4: bitmaps, placements, positions and remembered earliest
        // deadlines agree with the slots, and no index is in two slots.
        let mut in_a_slot = vec![false; wheel.entries.len()];
        for (level, hand) in wheel.levels.iter().enumerate() {
            for (slot, Slot { timers, earliest }) in hand.slots.iter().enumerate() {
                let bit = hand.occupied & (1 << slot) != 0;
                assert_eq!(
                    bit,
                    !timers.is_empty(),
                    "bitmap of level {level} slot {slot}"
                );
                if let (Some(earliest), false) = (earliest.get(), timers.is_empty()) {
                    let actual = timers
                        .iter()
                        .map(|&i| wheel.pending(i as usize).deadline)
                        .min();
                    assert_eq!(
                        Some(earliest),
                        actual,
                        "earliest of level {level} slot {slot}"
                    );
                }
                for (position, index) in timers.iter().map(|&i| i as usize).enumerate() {
                    let timer = wheel.pending(index);
                    assert_eq!(timer.placement(), Placement { level, slot });
                    assert_eq!(timer.position(), position);
                    assert!(!in_a_slot[index], "entry {index} is in two slots");
                    in_a_slot[index] = true;
                }
            }
        }

        // The slab: pending entries are in a slot, vacant ones on the free list, once.
        let mut free = wheel.free.clone();
        free.sort_unstable();
        free.dedup();
        assert_eq!(free.len(), wheel.free.len(), "an index is free twice");
        for (index, entry) in wheel.entries.iter().enumerate() {
            let is_free = free.binary_search(&index).is_ok();
            match entry {
                SlabEntry::Pending(timer) => {
                    assert!(in_a_slot[index] && !is_free);
                    assert!(timer.id < wheel.next_id);
                    assert!(timer.deadline <= wheel.now.saturating_add(MAX_DELAY));
                    // Invariant 1: placed as if inserted now.
                    assert_eq!(timer.placement(), wheel.placement_for(timer.deadline));
                }
                SlabEntry::Vacant => assert!(is_free, "vacant entry {index} is not free"),
            }
        }

        // The consequences of invariant 1 that the code relies on.
        let mut previous_level_latest = None;
        for (level, hand) in wheel.levels.iter().enumerate() {
            let hand_slot = digit(wheel.now, level);
            for (slot, Slot { timers, .. }) in hand.slots.iter().enumerate() {
                for &index in timers {
                    let deadline = wheel.pending(index as usize).deadline;
                    let due = deadline <= wheel.now;
                    assert_eq!(
                        due,
                        level == 0 && slot == hand_slot,
                        "due only under hand 0"
                    );
                    // Only the top level wraps, and only level 0 uses the hand's slot.
                    match level {
                        0 => assert!(slot >= hand_slot),
                        TOP_LEVEL => assert_ne!(slot, hand_slot),
                        _ => assert!(slot > hand_slot),
                    }
                }
            }
            // Everything on this level is due after everything on the levels below.
            let deadlines = hand
                .slots
                .iter()
                .flat_map(|slot| &slot.timers)
                .map(|&i| wheel.pending(i as usize).deadline);
            if let (Some(earliest), Some(latest)) = (deadlines.clone().min(), deadlines.max()) {
                if let Some(below) = previous_level_latest {
                    assert!(
                        below < earliest,
                        "level {level} is not later than the ones below"
                    );
                }
                previous_level_latest = Some(latest);
            }
        }
        assert_eq!(wheel.scratch.len(), 0);
    }

    #[test]
    fn digit_reads_one_base64_digit_of_a_tick_count() {
        let ticks = (5 << 30) | (17 << 6) | 40;
        assert_eq!(digit(ticks, 0), 40);
        assert_eq!(digit(ticks, 1), 17);
        assert_eq!(digit(ticks, 2), 0);
        assert_eq!(digit(ticks, 5), 5);
    }

    #[test]
    fn a_top_ring_slot_behind_the_hand_starts_in_the_next_turn() {
        let turn = 1 << (BITS_PER_LEVEL * LEVELS as u32); // 64^6 ticks
        let top_slot = 1 << (BITS_PER_LEVEL * TOP_LEVEL as u32); // 64^5 ticks
        let mut wheel = TimerWheel::new();
        wheel.advance(turn + 62 * top_slot + 12_345, |_| {});

        // Three top slots ahead: across the end of this turn, into slot 1 of the next.
        let (_, placement) = wheel.insert(wheel.now() + 3 * top_slot, ());
        assert_eq!(
            placement,
            Placement {
                level: TOP_LEVEL,
                slot: 1
            }
        );
        assert_eq!(wheel.first_occupied_slot(), Some(placement));
        assert_eq!(wheel.slot_start(placement), 2 * turn + top_slot);

        // A slot ahead of the hand in the same turn is found first.
        let (_, ahead) = wheel.insert(wheel.now() + top_slot, ());
        assert_eq!(
            ahead,
            Placement {
                level: TOP_LEVEL,
                slot: 63
            }
        );
        assert_eq!(wheel.first_occupied_slot(), Some(ahead));
        assert_eq!(wheel.slot_start(ahead), turn + 63 * top_slot);
        check_invariants(&wheel);
    }

    #[test]
    fn cancel_fixes_the_position_of_the_entry_swap_remove_moved() {
        let mut wheel = TimerWheel::new();
        let keys: Vec<_> = (0..5).map(|i| wheel.insert(1_000, i).0).collect();
        // Cancelling the first moves the last into position 0.
        assert_eq!(wheel.cancel(keys[0]), Some(0));
        assert_eq!(wheel.timer(keys[4]).map(|t| t.position), Some(0));
        check_invariants(&wheel);
        // And the moved one can itself be cancelled from its new position.
        assert_eq!(wheel.cancel(keys[4]), Some(4));
        check_invariants(&wheel);
    }

    #[test]
    fn a_stale_key_is_refused_although_its_slab_entry_now_holds_another_timer() {
        let mut wheel = TimerWheel::new();
        let (fired, _) = wheel.insert(5, "fired");
        wheel.advance(5, |_| {});
        let (cancelled, _) = wheel.insert(50, "cancelled");
        assert_eq!(
            cancelled.index, fired.index,
            "the free list hands the entry out again"
        );
        wheel.cancel(cancelled);
        let (live, _) = wheel.insert(50, "live");
        assert_eq!(live.index, fired.index);

        for stale in [fired, cancelled] {
            assert_eq!(wheel.cancel(stale), None);
            assert_eq!(wheel.get_mut(stale), None);
        }
        assert_eq!(wheel.deadline(live), Some(50));
        check_invariants(&wheel);
    }

    #[test]
    fn a_slot_remembers_its_earliest_deadline_until_that_timer_leaves() {
        let mut wheel = TimerWheel::new();
        let keys: Vec<_> = [1_010, 1_000, 1_020]
            .map(|deadline| wheel.insert(deadline, ()).0)
            .into();
        let slot = |wheel: &TimerWheel<()>| wheel.levels[1].slots[15].earliest.get();
        assert_eq!(slot(&wheel), Some(1_000), "kept exact while inserting");

        wheel.cancel(keys[0]);
        assert_eq!(slot(&wheel), Some(1_000), "a later timer left: still known");
        wheel.cancel(keys[1]);
        assert_eq!(
            slot(&wheel),
            None,
            "the earliest left: forgotten, not rescanned"
        );
        assert_eq!(wheel.next_deadline(), Some(1_020));
        assert_eq!(slot(&wheel), Some(1_020), "found again by the one scan");
        check_invariants(&wheel);
    }

    #[test]
    fn a_warmed_up_wheel_inserts_and_cancels_without_allocating() {
        fn capacities(wheel: &TimerWheel<u64>) -> Vec<usize> {
            let slots = wheel.levels.iter().flat_map(|hand| hand.slots.iter());
            let mut all: Vec<_> = slots.map(|slot| slot.timers.capacity()).collect();
            all.extend([wheel.entries.capacity(), wheel.free.capacity()]);
            all
        }
        let mut wheel = TimerWheel::new();
        for live in 0..1_000 {
            wheel.insert(live * 7_919, live); // timers that stay, on every level
        }
        let round = |wheel: &mut TimerWheel<u64>| {
            for i in 0..10_000u64 {
                let (key, _) = wheel.insert(wheel.now() + (i * 104_729) % (1 << 32), i);
                wheel.cancel(key);
            }
        };
        round(&mut wheel);
        let warm = capacities(&wheel);
        round(&mut wheel);
        assert_eq!(capacities(&wheel), warm);
        check_invariants(&wheel);
    }

    /// Random operations, internals checked after each; the model comparison is in
    /// `tests/timer_wheel.rs`.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64),
        Cancel(prop::sample::Index),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let delay = prop_oneof![0..130u64, 0..10_000u64, 0..=MAX_DELAY + 5];
        let step = prop_oneof![0..3u64, 0..200u64, 0..100_000u64, 0..=MAX_DELAY];
        prop_oneof![
            3 => delay.prop_map(Op::Insert),
            1 => any::<prop::sample::Index>().prop_map(Op::Cancel),
            2 => step.prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn invariants_hold_after_random_operations(
            ops in prop::collection::vec(op(), 1..100),
        ) {
            let mut wheel = TimerWheel::new();
            let mut keys = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(delay) => keys.push(wheel.insert(wheel.now() + delay, ()).0),
                    Op::Cancel(pick) if !keys.is_empty() => {
                        wheel.cancel(*pick.get(&keys));
                    }
                    Op::Cancel(_) => {}
                    Op::Advance(step) => wheel.advance(wheel.now() + step, |_| {}),
                }
                check_invariants(&wheel);
            }
        }
    }
}
