//! One smol executor for the async workloads, served by a thread per core for the whole
//! process, so no benchmark iteration pays for starting threads.

use std::future::Future;
use std::sync::{Arc, OnceLock};

/// The shared executor.
pub fn executor() -> &'static Arc<smol::Executor<'static>> {
    static EX: OnceLock<Arc<smol::Executor<'static>>> = OnceLock::new();
    EX.get_or_init(|| {
        let ex = Arc::new(smol::Executor::new());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
        // The calling thread serves it too, inside `block_on`.
        for _ in 1..threads {
            let ex = ex.clone();
            std::thread::spawn(move || smol::block_on(ex.run(std::future::pending::<()>())));
        }
        ex
    })
}

/// Runs `f` to completion on the shared executor (this thread helps).
pub fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let ex = executor();
    let task = ex.spawn(f);
    smol::block_on(ex.run(task))
}
