//! A database of its own for a test or a benchmark run: made with the schema, dropped
//! (with whatever is still connected) when the handle goes.

use crate::Result;

pub struct Scratch {
    /// Its URL: the server of `base`, the database `name`.
    pub url: String,
}

impl Scratch {
    /// Makes database `name` on the server `base` (a `postgres://` URL) and migrates it.
    pub async fn create(base: &str, name: &str) -> Result<Scratch> {
        let url = with_database(base, name);
        crate::migrate::create_database(&url).await?;
        let db = crate::Db::connect(
            &crate::DbOptions {
                url: url.clone(),
                pool_size: 2,
                retention: std::time::Duration::from_secs(86_400),
                audit_retention: std::time::Duration::from_secs(86_400),
                write_timeout: std::time::Duration::from_secs(10),
            },
            None,
        )?;
        crate::migrate::migrate(&db).await?;
        Ok(Scratch { url })
    }
}

/// A database of a unit test's own (`label` in its name), and a handle on it: the
/// default options as `adjust` leaves them, with `metrics`.
#[cfg(test)]
pub(crate) async fn for_test(
    label: &str,
    adjust: impl FnOnce(&mut crate::DbOptions),
    metrics: Option<crate::DbMetrics>,
) -> (crate::Db, Scratch) {
    let config = hookpost_core::Config::default();
    let id = hookpost_core::ids::random_id("t");
    let scratch = Scratch::create(
        &config.database_url,
        &format!("hookpost_{label}_{}", &id[2..]),
    )
    .await
    .expect("PostgreSQL on 127.0.0.1:5432");
    let mut options = crate::DbOptions {
        url: scratch.url.clone(),
        ..crate::DbOptions::of(&config)
    };
    adjust(&mut options);
    (crate::Db::connect(&options, metrics).unwrap(), scratch)
}

/// `base` with its database replaced by `name`.
pub fn with_database(base: &str, name: &str) -> String {
    let (url, query) = base
        .split_once('?')
        .map_or((base, None), |(u, q)| (u, Some(q)));
    let start = url.find("://").map_or(0, |i| i + 3);
    let server = url[start..].find('/').map_or(url, |i| &url[..start + i]);
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // On a runtime of its own: the caller's may be unwinding or single-threaded.
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(crate::migrate::drop_database(&url));
            }
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        let w = super::with_database;
        assert_eq!(
            w("postgres://u@h:5432/hookpost", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(w("postgres://u@h:5432", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(
            w("postgres://u:p@h/db?sslmode=require", "t1"),
            "postgres://u:p@h/t1?sslmode=require"
        );
    }
}
