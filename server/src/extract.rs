//! Extractors whose rejections are `{error, detail}` JSON instead of axum's plain text.

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; malformed JSON is `bad_json` (400), an oversize body `too_large` (413).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge("the request body is too large".to_owned());
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::BadJson("expected Content-Type: application/json".to_owned())
        }
        other => ApiError::BadJson(other.body_text()),
    }
}

/// The query string as text pairs; handlers parse and validate each value themselves.
pub struct ApiQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<HashMap<String, String>>::from_request_parts(parts, state).await {
            Ok(Query(map)) => Ok(ApiQuery(map)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

impl ApiQuery {
    /// A parameter as text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The required, valid `request_id` parameter of the history and changes reads.
    pub fn request_id(&self) -> Result<chat_sync::RequestId, ApiError> {
        let Some(request_id) = self.text("request_id") else {
            return Err(ApiError::BadRequest("request_id is required".to_owned()));
        };
        let request_id = chat_sync::RequestId::new(request_id);
        chat_sync::protocol::validate_request_id(&request_id)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Ok(request_id)
    }

    /// A parameter that must be an unsigned integer, when present.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                let shown: String = text.chars().take(32).collect();
                ApiError::InvalidRange(format!(
                    "{name} must be a non-negative integer, got {shown:?}"
                ))
            }),
        }
    }
}
