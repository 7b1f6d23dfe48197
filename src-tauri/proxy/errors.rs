//! Errors the proxy answers itself, in the Anthropic error format so that Claude Code and the
//! SDKs show the message as they would any API error. Refusals carry `x-should-retry: false`:
//! retrying a request maskgate cannot mask only delays the message.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error maskgate answers with instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Anthropic's `error.type` (`invalid_request_error`, `api_error`, …).
    pub error_type: &'static str,
    pub message: String,
    /// Whether the client should retry (adds `x-should-retry: false` when not).
    pub retry: bool,
}

impl ApiError {
    fn new(status: StatusCode, error_type: &'static str, message: String, retry: bool) -> ApiError {
        ApiError {
            status,
            error_type,
            message: format!("maskgate: {message}"),
            retry,
        }
    }

    /// The request could not be masked, so it was not forwarded.
    pub fn unmaskable(reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("request refused, nothing was forwarded: {reason}"),
            false,
        )
    }

    /// Learning from the user's AWS account failed (no `aws` CLI, no credentials).
    pub fn learn_failed(reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            format!("cannot learn from the AWS account: {reason}"),
            false,
        )
    }

    /// The request holds an identifier of a category the user's policy refuses to send.
    pub fn by_policy(label: &str, kind: &str) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!("request refused, nothing was forwarded: it holds a {label} ({kind}), which your policy refuses to send"),
            false,
        )
    }

    /// The request carries images or PDFs, which maskgate cannot read, and the user has not
    /// chosen to send them unread.
    pub fn attachments(count: usize) -> ApiError {
        let what = if count == 1 {
            "an image or PDF"
        } else {
            "images or PDFs"
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            format!(
                "request refused, nothing was forwarded: it carries {what} ({count}), and maskgate \
                 cannot read an identifier shown in one. Remove it from the conversation (press \
                 Esc twice in Claude Code to go back before it), or allow them unread: \
                 Patterns → Images and PDFs → Send unread, or attachments = \"forward\" in config.toml"
            ),
            false,
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!(
                "request body is larger than the {} MiB limit (set max_body_mib to raise it); nothing was forwarded",
                limit / (1024 * 1024)
            ),
            false,
        )
    }

    /// maskgate is at its limit of open connections.
    pub fn overloaded(reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded_error",
            reason.to_string(),
            true,
        )
    }

    /// The client did not send its request body in time.
    pub fn body_timeout(limit: std::time::Duration) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            format!(
                "the request body did not arrive within {} s; nothing was forwarded",
                limit.as_secs()
            ),
            false,
        )
    }

    /// The body could not be held in memory.
    pub fn out_of_memory() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded_error",
            "not enough memory to hold the request body; nothing was forwarded".to_owned(),
            true,
        )
    }

    pub fn forbidden(reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            reason.to_string(),
            false,
        )
    }

    pub fn unreachable(upstream: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "api_error",
            format!("cannot reach {upstream}: {reason}"),
            false,
        )
    }

    pub fn timeout(upstream: &str) -> ApiError {
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "api_error",
            format!("{upstream} did not answer in time"),
            true,
        )
    }

    /// An upstream error whose body was not in the Anthropic format (e.g. Kong's own JSON).
    pub fn from_gateway(
        status: StatusCode,
        upstream: &str,
        detail: &str,
        is_gateway: bool,
    ) -> ApiError {
        let error_type = match status.as_u16() {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        let message = match status.as_u16() {
            401 | 403 if is_gateway => {
                format!("{upstream} rejected the maskgate credentials: {detail}")
            }
            _ => format!("{upstream} answered {}: {detail}", status.as_u16()),
        };
        let retry = !matches!(status.as_u16(), 401 | 403);
        ApiError::new(status, error_type, message, retry)
    }

    /// The JSON body, as Anthropic writes it.
    pub fn body(&self) -> serde_json::Value {
        json!({"type": "error", "error": {"type": self.error_type, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if !self.retry {
            response
                .headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        response
    }
}
