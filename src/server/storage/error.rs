//! How the catalog fails: [`CatalogError`], whatever the backend, with sqlx's errors sorted into it.

/// A backend's own error, boxed so no backend's types appear in these signatures.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The database cannot be reached right now (restarting, network, pool exhausted): worth a retry.
    #[error("catalog database unavailable: {0}")]
    Unavailable(#[source] BackendError),
    #[error("catalog database: {0}")]
    Database(#[source] BackendError),
    #[error("catalog migration: {0}")]
    Migrate(#[source] BackendError),
    #[error("`storage.catalog_url` {0}")]
    Location(String),
    #[error("catalog row {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
}

/// Both SQL backends speak through sqlx; its errors stay boxed behind [`CatalogError`].
impl From<sqlx::Error> for CatalogError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        let unavailable = match &err {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
            // 57P01..03: the server is shutting down or starting up; 53300: too many connections.
            E::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("57P") || code == "53300"),
            _ => false,
        };
        if unavailable {
            CatalogError::Unavailable(Box::new(err))
        } else {
            CatalogError::Database(Box::new(err))
        }
    }
}
