use kith_types::AppError;

/// Errors from the services. `User` errors are safe to show; `Internal` ones
/// are logged with a correlation id and shown only as that id.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    User(AppError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type CoreResult<T> = Result<T, CoreError>;

impl From<AppError> for CoreError {
    fn from(e: AppError) -> Self {
        CoreError::User(e)
    }
}

impl CoreError {
    /// What the user may see. Internal causes are logged here, once, with the
    /// reference the user is given.
    pub fn into_app_error(self) -> AppError {
        match self {
            CoreError::User(e) => e,
            other => {
                let correlation_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
                tracing::error!(%correlation_id, error = %other, "internal error");
                AppError::Internal { correlation_id }
            }
        }
    }
}
