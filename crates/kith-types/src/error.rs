use serde::{Deserialize, Serialize};
use std::fmt;

/// A problem with one form field, shown next to that field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The `name` of the form field.
    pub field: String,
    pub message: String,
}

/// Every error a user can see. Internal causes never travel: the server logs
/// them and sends only a correlation id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// Not signed in, or the session has ended.
    Unauthenticated,
    /// Absent, or present but not visible to this person (we never say which).
    NotFound,
    /// The input was wrong; each field says why. `values` echoes back what the
    /// user typed (never passwords) so a form without JavaScript can refill.
    Validation {
        errors: Vec<FieldError>,
        values: Vec<(String, String)>,
    },
    /// Sign-in refused; the message is the same for every cause.
    SignInFailed {
        message: String,
        email: String,
    },
    /// Too many attempts; try again later.
    Throttled {
        message: String,
        email: String,
    },
    Conflict(String),
    Internal {
        correlation_id: String,
    },
    /// Transport-level failure reported by the server-function machinery.
    Transport(String),
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation { errors: vec![FieldError { field: field.into(), message: message.into() }], values: vec![] }
    }

    pub fn with_values(self, values: Vec<(String, String)>) -> Self {
        match self {
            AppError::Validation { errors, .. } => AppError::Validation { errors, values },
            other => other,
        }
    }

    /// The error for one field, if there is one.
    pub fn field_error(&self, field: &str) -> Option<String> {
        match self {
            AppError::Validation { errors, .. } => errors.iter().find(|e| e.field == field).map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// A value the user typed, echoed back for refilling the form.
    pub fn value(&self, field: &str) -> Option<String> {
        match self {
            AppError::Validation { values, .. } => values.iter().find(|(k, _)| k == field).map(|(_, v)| v.clone()),
            AppError::SignInFailed { email, .. } | AppError::Throttled { email, .. } if field == "email" => Some(email.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Unauthenticated => f.write_str("Please sign in to continue."),
            AppError::NotFound => f.write_str("We could not find that page."),
            AppError::Validation { errors, .. } => {
                if errors.len() == 1 {
                    f.write_str("There is a problem with what you entered.")
                } else {
                    write!(f, "There are {} problems with what you entered.", errors.len())
                }
            }
            AppError::SignInFailed { message, .. } | AppError::Throttled { message, .. } => f.write_str(message),
            AppError::Conflict(m) => f.write_str(m),
            AppError::Internal { correlation_id } => write!(f, "Something went wrong on our side. Please try again. (Reference {correlation_id})"),
            AppError::Transport(_) => f.write_str("We could not reach Kith. Check your connection and try again."),
        }
    }
}

impl std::error::Error for AppError {}

impl server_fn::error::FromServerFnError for AppError {
    type Encoder = server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
