//! One serving thread's copy of the route table. Every request reads the routes; read from
//! the shared table, each read would write to memory both threads share (the lock's reader
//! count, the snapshot's reference count), and those cache lines would travel between the
//! cores on every request. The copy is checked against the table's version, which only a
//! change writes, and is replaced when it is out of date.

use std::sync::{Arc, Mutex, PoisonError};

use crate::proxy::routes::{RouteTable, Routes};

#[derive(Debug)]
pub struct ThreadRoutes {
    table: Arc<RouteTable>,
    copy: Mutex<Arc<Routes>>,
}

impl ThreadRoutes {
    pub fn new(table: Arc<RouteTable>) -> Self {
        let copy = Mutex::new(Arc::new(Routes::clone(&table.current())));
        Self { table, copy }
    }

    /// The routes as they are now.
    pub fn current(&self) -> Arc<Routes> {
        let version = self.table.version();
        let mut copy = self.copy.lock().unwrap_or_else(PoisonError::into_inner);
        if copy.version != version {
            // A copy of its own, so that its reference count stays on this thread too.
            *copy = Arc::new(Routes::clone(&self.table.current()));
        }
        Arc::clone(&copy)
    }

    /// The version of the table as it is now (it may be newer than a copy taken before).
    pub fn version(&self) -> u64 {
        self.table.version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_copy_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(RouteTable::load(&dir.path().join("routes.json")).unwrap());
        let routes = ThreadRoutes::new(Arc::clone(&table));
        let first = routes.current();
        assert_eq!(first.upstream, None);
        assert!(
            Arc::ptr_eq(&first, &routes.current()),
            "no change, no new copy"
        );

        let upstream = "127.0.0.1:4100".parse().unwrap();
        table.update(|r| r.upstream = Some(upstream)).unwrap();
        assert_eq!(routes.version(), 1);
        let second = routes.current();
        assert_eq!((second.upstream, second.version), (Some(upstream), 1));
        assert!(
            !Arc::ptr_eq(&second, &table.current()),
            "the thread's own copy"
        );
        assert_eq!(first.upstream, None, "a request's snapshot never changes");
    }
}
