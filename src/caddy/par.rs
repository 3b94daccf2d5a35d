//! Per-site work spread over the CPUs: sites are independent, and a multi-tenant Caddyfile can
//! have thousands of them. Small inputs stay on the calling thread.

/// Below this many items, threads cost more than they save.
const MIN_PARALLEL: usize = 256;

/// `items.iter().map(f).collect()`, in order, computed in chunks on scoped threads.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_into(items.iter().collect(), f)
}

/// Runs `a` on a scoped thread while `b` runs here; a panic in `a` goes on in the caller.
pub fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|scope| {
        let a = scope.spawn(a);
        let b = b();
        (a.join().unwrap_or_else(|e| std::panic::resume_unwind(e)), b)
    })
}

/// [`map`] over owned items: the chunks are moved to the threads.
pub fn map_into<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(chunk).collect());
    }
    each_on_a_thread(chunks, |c| c.into_iter().map(&f).collect::<Vec<R>>()).into_iter().flatten().collect()
}

/// `f` of every item, each on a scoped thread of its own, in order; a panic goes on in the
/// caller. For a few large pieces of work (see [`map_into`] for many small ones).
pub fn each_on_a_thread<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items.into_iter().map(|x| scope.spawn(move || f(x))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_above_and_below_the_threshold() {
        for n in [0, 3, super::MIN_PARALLEL, 5_001] {
            let items: Vec<usize> = (0..n).collect();
            assert_eq!(super::map(&items, |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
            assert_eq!(super::map_into(items.clone(), |x| x * 2), super::map(&items, |x| x * 2));
        }
    }
}
