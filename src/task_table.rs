//! The task table: the runtime owns every live task (chapter 5).
//!
//! A spawned task must stay alive while it waits, even if no one holds its
//! `JoinHandle` (a detached task) and no waker for it exists yet. And when the runtime
//! is dropped, every unfinished task must go with it, its future dropped (sockets
//! closed, timers cancelled), even if a `JoinHandle` still holds the task: otherwise a
//! task awaiting another's handle, whose waker waits inside that other task, would
//! keep the two alive in a circle for good.
//!
//! So the runtime keeps every live task in a table, a slab: a `Vec` of slots, a list
//! of the free ones, and a [`TaskKey`] per task that names its slot. The run queue
//! holds keys, not tasks: a key is two numbers, and looking it up here costs an index.
//! A task leaves the table when it finishes; its slot goes to the next task spawned,
//! and a stale key still in the run queue finds another task's number there and is
//! skipped.
//!
//! tokio's equivalent is `OwnedTasks`, an intrusive linked list through the task
//! headers; asyncio keeps a weak set of all tasks (`asyncio.all_tasks`).

use std::cell::RefCell;
use std::sync::Arc;

use crate::task::{Runnable, TaskId, TaskKey};

/// Every live task of one runtime. Lives on the loop's thread only.
#[derive(Default)]
pub(crate) struct TaskTable {
    slots: RefCell<Vec<Option<Arc<dyn Runnable>>>>,
    free: RefCell<Vec<u32>>,
}

impl TaskTable {
    /// Takes a slot for a new task: `make` builds the task with its key, and the table
    /// keeps it. Returns the task, as `make` built it.
    pub(crate) fn insert<R: Runnable + 'static>(
        &self,
        id: TaskId,
        make: impl FnOnce(TaskKey) -> Arc<R>,
    ) -> Arc<R> {
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
        let task = make(TaskKey::new(index, id));
        slots[index as usize] = Some(task.clone());
        task
    }

    /// The task `key` names, if it is still live.
    pub(crate) fn get(&self, key: TaskKey) -> Option<Arc<dyn Runnable>> {
        let slots = self.slots.borrow();
        let task = slots.get(key.index as usize)?.as_ref()?;
        (task.header().key() == key).then(|| task.clone())
    }

    /// Takes a finished task out; its slot is free for the next one.
    pub(crate) fn remove(&self, key: TaskKey) {
        let removed = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(key.index as usize) else {
                return;
            };
            if slot.as_ref().is_none_or(|task| task.header().key() != key) {
                return;
            }
            self.free.borrow_mut().push(key.index);
            slot.take()
        };
        // Dropped after the table is released: it may be the task's last reference.
        drop(removed);
    }

    /// Empties the table (the runtime is being dropped) and returns the tasks. The
    /// caller abandons and drops them after letting go of the table.
    pub(crate) fn take_all(&self) -> Vec<Arc<dyn Runnable>> {
        self.free.borrow_mut().clear();
        std::mem::take(&mut *self.slots.borrow_mut())
            .into_iter()
            .flatten()
            .collect()
    }
}
