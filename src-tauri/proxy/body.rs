//! Reading a request body into memory within a size limit, for the proxy and the browser
//! dashboard alike. Memory grows with the bytes that arrive, never with the length a client
//! announces; a failed allocation is an error, not an abort. A body past the limit is read
//! on (and dropped) up to a bound, so that the client, still sending, reads the 413 instead
//! of a reset connection.

use axum::body::Body;
use http_body_util::BodyExt;

/// What is read of a body past its limit, at most, before the answer goes out anyway.
const DRAINED_AT_MOST: usize = 64 << 20;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("not enough memory to hold the body")]
    OutOfMemory,
    #[error("the body could not be read: {0}")]
    Broken(String),
}

/// Appends `body` to `into`, at most `limit` bytes of it.
pub async fn read_limited(body: Body, limit: usize, into: &mut Vec<u8>) -> Result<(), BodyError> {
    let mut body = body;
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Broken(e.to_string()))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        read = read.saturating_add(data.len());
        if read > limit {
            drain(body, read).await;
            return Err(BodyError::TooLarge { limit });
        }
        into.try_reserve(data.len())
            .map_err(|_| BodyError::OutOfMemory)?;
        into.extend_from_slice(data);
    }
    Ok(())
}

/// Reads the rest of `body` and drops it, until [`DRAINED_AT_MOST`] bytes in all.
async fn drain(mut body: Body, mut read: usize) {
    while read <= DRAINED_AT_MOST {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole_and_a_larger_one_refused() {
        let mut into = Vec::new();
        read_limited(Body::from("0123456789"), 10, &mut into)
            .await
            .expect("within the limit");
        assert_eq!(into, b"0123456789");
        let mut into = Vec::new();
        let refused = read_limited(Body::from("0123456789x"), 10, &mut into).await;
        assert!(matches!(refused, Err(BodyError::TooLarge { limit: 10 })));
    }
}
