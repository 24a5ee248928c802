//! The task table: the runtime owns every live task (chapter 5).
//!
//! A spawned task must stay alive while it waits, even if no one holds its
//! `JoinHandle` (a detached task) and no waker for it exists yet. And when the runtime
//! is dropped, every unfinished task must go with it, its future dropped (sockets
//! closed, timers cancelled), even if a `JoinHandle` or a waker still points at the
//! task. The table is the one owner of every future, so dropping the runtime's table
//! drops them all.
//!
//! So the runtime keeps every live task in a table, a slab: a `Vec` of slots, a list
//! of the free ones, and a [`TaskKey`] per task that names its slot. The run queue
//! holds keys, not tasks: a key is two numbers, and looking it up here costs an index.
//! A task leaves the table when it finishes; its slot goes to the next task spawned,
//! and a stale key still in the run queue finds another task's number there and is
//! skipped.
//!
//! What the table keeps of a task is the part only the loop touches: its future and
//! the shared half's `Arc` (`task.rs`'s `Spawned`, as a `Box<dyn Runnable>`). For a
//! poll the loop takes it out of its slot and puts it back after, a move of two words:
//! nothing is locked and no reference is counted, so a poll costs the future's own
//! work and little more.
//!
//! tokio's equivalent is `OwnedTasks`, an intrusive linked list through the task
//! headers; asyncio keeps a weak set of all tasks (`asyncio.all_tasks`).

use std::cell::RefCell;

use crate::task::{Runnable, TaskId, TaskKey};

/// Every live task of one runtime. Lives on the loop's thread only.
#[derive(Default)]
pub(crate) struct TaskTable {
    /// `None` in a free slot, and in the slot of the task being polled: the loop holds
    /// that task's [`Runnable`] meanwhile.
    slots: RefCell<Vec<Option<Box<dyn Runnable>>>>,
    free: RefCell<Vec<u32>>,
}

impl TaskTable {
    /// Takes a slot for a new task: `make` builds the task with its key, and the table
    /// keeps the part the loop polls. Returns what `make` returned besides it (the
    /// part the `JoinHandle` holds).
    pub(crate) fn insert<T>(
        &self,
        id: TaskId,
        make: impl FnOnce(TaskKey) -> (T, Box<dyn Runnable>),
    ) -> T {
        let reused = self.free.borrow_mut().pop();
        let mut slots = self.slots.borrow_mut();
        let index = match reused {
            Some(index) => index,
            None => {
                slots.push(None);
                u32::try_from(slots.len() - 1)
                    .expect("more than 4 billion live tasks in one runtime")
            }
        };
        let (handle, runnable) = make(TaskKey::new(index, id));
        slots[index as usize] = Some(runnable);
        handle
    }

    /// Takes out the task `key` names, for a poll: `None` if it is not live (a stale
    /// key). Until [`put_back`](Self::put_back) or [`remove`](Self::remove), its slot
    /// stays empty but taken.
    #[inline]
    pub(crate) fn take_for_poll(&self, key: TaskKey) -> Option<Box<dyn Runnable>> {
        let mut slots = self.slots.borrow_mut();
        let slot = slots.get_mut(key.index as usize)?;
        if slot.as_ref()?.header().key() != key {
            return None;
        }
        slot.take()
    }

    /// Puts a polled task back in its slot: it waits for its next wake.
    #[inline]
    pub(crate) fn put_back(&self, key: TaskKey, runnable: Box<dyn Runnable>) {
        self.slots.borrow_mut()[key.index as usize] = Some(runnable);
    }

    /// The task taken out for a poll has finished: its slot is free for the next one.
    #[inline]
    pub(crate) fn remove(&self, key: TaskKey) {
        self.free.borrow_mut().push(key.index);
    }

    /// The number of the task `key` names, if it is live and waits in the table.
    pub(crate) fn id_of(&self, key: TaskKey) -> Option<TaskId> {
        let slots = self.slots.borrow();
        let header = slots.get(key.index as usize)?.as_ref()?.header();
        (header.key() == key).then(|| header.id())
    }

    /// Empties the table (the runtime is being dropped) and returns the tasks. The
    /// caller abandons and drops them after letting go of the table.
    pub(crate) fn take_all(&self) -> Vec<Box<dyn Runnable>> {
        self.free.borrow_mut().clear();
        std::mem::take(&mut *self.slots.borrow_mut())
            .into_iter()
            .flatten()
            .collect()
    }
}
