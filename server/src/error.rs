//! The one error type of the HTTP layer and its mapping to `{"error", "detail"}` bodies.
//!
//! Every handler returns `Result<_, ApiError>`, so no input can turn into a bare 500 page or a
//! panic: database and internal failures are logged and answered with a generic 500 body that
//! leaks no detail.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_sync::protocol::ErrorBody;

/// A failure answered to the client with a status and a machine-readable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter range or cursor that makes no sense.
    #[error("{0}")]
    InvalidRange(String),
    /// Any other invalid input (field values, parameters, headers).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not the JSON this endpoint expects.
    #[error("{0}")]
    BadJson(String),
    /// The body is larger than this endpoint accepts.
    #[error("{0}")]
    TooLarge(String),
    /// No valid session.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed to touch this resource.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request is closed: no sends and no edits (409 `request_closed`).
    #[error("{0}")]
    RequestClosed(String),
    /// The message is redacted, which is final (409 `message_deleted`).
    #[error("{0}")]
    MessageDeleted(String),
    /// The path exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Too many attempts in a short time.
    #[error("{0}")]
    RateLimited(String),
    /// A failure injected by the test fault switch.
    #[error("{0}")]
    InjectedFault(String),
    /// The database failed; the detail is logged, not sent.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Anything else that is the server's fault; the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and error code for this failure.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidRange(_) => (StatusCode::BAD_REQUEST, "invalid_range"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::BadJson(_) => (StatusCode::BAD_REQUEST, "bad_json"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::RequestClosed(_) => (StatusCode::CONFLICT, "request_closed"),
            ApiError::MessageDeleted(_) => (StatusCode::CONFLICT, "message_deleted"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::InjectedFault(_) => (StatusCode::SERVICE_UNAVAILABLE, "injected_fault"),
            ApiError::Database(_) | ApiError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let detail = if status.is_server_error() && !matches!(self, ApiError::InjectedFault(_)) {
            // Server-side failures are logged in full but answered without internals.
            tracing::error!(error = %self, "request failed");
            "the server failed to handle this request".to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: code.to_owned(),
            detail,
        };
        (status, Json(body)).into_response()
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
