//! What every simulated product does alike when it reads a request or answers one: header text,
//! the `Authorization` scheme and credentials, query parameters, an optional JSON body, the
//! answer of an admin edit, and a refusal handlers stop at with `?`. What a refusal says, which
//! credentials are accepted and what a missing body means stay each product's own.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A refused request, as the product answers it.
pub struct Refusal(Box<Response>);

impl Refusal {
    /// `status` with the product's own JSON error body.
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self(Box::new((status, axum::Json(body)).into_response()))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// What a handler answers: a response, or the first refusal met.
pub type Answer = Result<Response, Refusal>;

/// A request's query parameters, by name.
pub type Params = Query<HashMap<String, String>>;

/// A request's JSON body: None when there is none or it is not declared JSON (each product says
/// what that means).
pub type JsonBody = Option<axum::Json<Value>>;

/// How an admin edit answers: 204 when it applied, 404 when what it names does not exist.
pub fn found(applied: bool) -> StatusCode {
    if applied {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

/// A request header's text, when sent (and readable as text).
pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Authorization: <scheme> <credentials>` split at the first space, credentials trimmed. Which
/// schemes a product accepts, and how it compares them, is the product's rule.
pub fn authorization(headers: &HeaderMap) -> Option<(&str, &str)> {
    let (scheme, credentials) = header(headers, "authorization")?.split_once(' ')?;
    Some((scheme, credentials.trim()))
}
