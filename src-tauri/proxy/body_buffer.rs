//! Request bodies are read into buffers kept from one request to the next: a megabyte of
//! fresh memory costs the kernel 256 page faults, which on a virtual machine take longer
//! than copying the body in. A buffer returns to its pool when its request is done with it
//! (masked or refused); what it held is never read again, since each use clears it first.

use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

/// At most this many buffers wait in a pool (as many as requests are read at once, in the
/// usual case one or two).
const POOLED_AT_MOST: usize = 4;

/// A buffer that grew beyond this goes back to the allocator: one huge body should not hold
/// its memory for the life of the process.
const KEEP_AT_MOST: usize = 4 << 20;

/// Buffers kept for the next requests.
#[derive(Default)]
pub struct BodyPool(Mutex<Vec<Vec<u8>>>);

impl BodyPool {
    /// An empty buffer, with the memory of an earlier body when the pool has one.
    pub fn take(&self) -> BodyBuffer<'_> {
        let pooled = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut bytes = pooled.unwrap_or_default();
        bytes.clear();
        BodyBuffer { bytes, pool: self }
    }
}

/// One request body; back to its pool when dropped.
pub struct BodyBuffer<'p> {
    bytes: Vec<u8>,
    pool: &'p BodyPool,
}

impl Deref for BodyBuffer<'_> {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl DerefMut for BodyBuffer<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }
}

impl Drop for BodyBuffer<'_> {
    fn drop(&mut self) {
        if self.bytes.capacity() > KEEP_AT_MOST {
            return;
        }
        let mut pooled = self.pool.0.lock().unwrap_or_else(PoisonError::into_inner);
        if pooled.len() < POOLED_AT_MOST {
            pooled.push(std::mem::take(&mut self.bytes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_empty_in_the_same_memory() {
        let pool = BodyPool::default();
        let mut first = pool.take();
        first.extend_from_slice(b"original text of the last request");
        let memory = first.as_ptr();
        drop(first);
        let again = pool.take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), memory);
    }

    #[test]
    fn a_pool_keeps_a_few_buffers_and_none_too_large() {
        let pool = BodyPool::default();
        let held: Vec<_> = (0..POOLED_AT_MOST + 2)
            .map(|_| {
                let mut buffer = pool.take();
                buffer.reserve(16);
                buffer
            })
            .collect();
        drop(held);
        assert_eq!(pool.0.lock().expect("pool").len(), POOLED_AT_MOST);

        let pool = BodyPool::default();
        let mut huge = pool.take();
        huge.reserve(KEEP_AT_MOST + 1);
        drop(huge);
        assert!(pool.0.lock().expect("pool").is_empty());
    }
}
