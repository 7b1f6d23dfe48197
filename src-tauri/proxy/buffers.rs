//! Buffers kept from one request to the next, for request bodies and masked outputs: a
//! megabyte of fresh memory costs the kernel 256 page faults, which on a virtual machine
//! take longer than writing the megabyte. A body's buffer returns to the pool as soon as the
//! body is masked or refused; a masked output is shared as [`Bytes`] whose memory returns
//! by itself when its last holder (the upstream request, the journal) lets go. What a buffer
//! held is never read again: each use clears it first.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;

/// At most this many buffers wait in a pool: enough for the body and the output of a
/// request or two at once.
const POOLED_AT_MOST: usize = 4;

/// A buffer larger than this goes back to the allocator: one huge body should not hold its
/// memory for the life of the process.
const KEEP_AT_MOST: usize = 4 << 20;

/// Buffers kept for the next requests.
#[derive(Default)]
pub struct BufferPool(Arc<Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    /// An empty buffer with room for `at_least` bytes: the smallest kept one that has the
    /// room, else the largest kept one, grown (growing memory that is not fresh).
    pub fn take(&self, at_least: usize) -> Vec<u8> {
        let mut pooled = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let roomy = |b: &&Vec<u8>| b.capacity() >= at_least;
        let best = (pooled.iter().enumerate())
            .filter(|(_, b)| roomy(b))
            .min_by_key(|(_, b)| b.capacity())
            .or_else(|| pooled.iter().enumerate().max_by_key(|(_, b)| b.capacity()))
            .map(|(at, _)| at);
        let mut buffer = best.map(|at| pooled.swap_remove(at)).unwrap_or_default();
        drop(pooled);
        buffer.clear();
        buffer.reserve(at_least);
        buffer
    }

    /// Hands every kept buffer back to the allocator.
    pub fn release(&self) {
        let released = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        drop(released);
    }

    /// An empty buffer for a request body of `at_least` bytes, back to this pool when dropped.
    pub fn take_for_body(&self, at_least: usize) -> BodyBuffer {
        BodyBuffer {
            bytes: self.take(at_least),
            pool: Arc::clone(&self.0),
        }
    }

    /// `buffer` as shared bytes whose memory comes back to this pool once the last holder
    /// drops them.
    pub fn share(&self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Shared {
            bytes: buffer,
            pool: Arc::downgrade(&self.0),
        })
    }
}

fn keep(pool: &Mutex<Vec<Vec<u8>>>, buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_AT_MOST {
        return;
    }
    let mut pooled = pool.lock().unwrap_or_else(PoisonError::into_inner);
    if pooled.len() < POOLED_AT_MOST {
        pooled.push(buffer);
    }
}

/// A buffer shared as [`Bytes`] that goes back to its pool (if the pool still exists) when
/// the last holder drops it.
struct Shared {
    bytes: Vec<u8>,
    pool: Weak<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            keep(&pool, std::mem::take(&mut self.bytes));
        }
    }
}

/// One request body, in a buffer of the pool.
pub struct BodyBuffer {
    bytes: Vec<u8>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Deref for BodyBuffer {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl DerefMut for BodyBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }
}

impl Drop for BodyBuffer {
    fn drop(&mut self) {
        keep(&self.pool, std::mem::take(&mut self.bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_buffer_comes_back_empty_in_the_same_memory() {
        let pool = BufferPool::default();
        let mut first = pool.take_for_body(0);
        first.extend_from_slice(b"original text of the last request");
        let memory = first.as_ptr();
        drop(first);
        let again = pool.take_for_body(0);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), memory);
    }

    #[test]
    fn shared_memory_comes_back_once_the_last_holder_lets_go() {
        let pool = BufferPool::default();
        let output = pool.share(b"masked body".to_vec());
        let memory = output.as_ptr();
        let held_elsewhere = output.clone();
        drop(output);
        assert!(pool.0.lock().expect("pool").is_empty());
        drop(held_elsewhere);
        let again = pool.take(0);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), memory);
    }

    #[test]
    fn the_smallest_buffer_with_room_is_taken_else_the_largest() {
        let pool = BufferPool::default();
        for size in [100, 1000, 10_000] {
            keep(&pool.0, Vec::with_capacity(size));
        }
        assert_eq!(pool.take(500).capacity(), 1000);
        assert!(pool.take(50_000).capacity() >= 50_000);
        assert_eq!(pool.0.lock().expect("pool")[0].capacity(), 100);
    }

    #[test]
    fn a_pool_keeps_a_few_buffers_and_none_too_large() {
        let pool = BufferPool::default();
        let held: Vec<_> = (0..POOLED_AT_MOST + 2)
            .map(|_| {
                let mut buffer = pool.take_for_body(0);
                buffer.reserve(16);
                buffer
            })
            .collect();
        drop(held);
        assert_eq!(pool.0.lock().expect("pool").len(), POOLED_AT_MOST);

        let pool = BufferPool::default();
        let mut huge = pool.take_for_body(0);
        huge.reserve(KEEP_AT_MOST + 1);
        drop(huge);
        assert!(pool.0.lock().expect("pool").is_empty());
    }
}
