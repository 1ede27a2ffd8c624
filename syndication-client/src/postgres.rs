//! The `drop-schema` step done for real: the instance's PostgreSQL schema dropped and created
//! again, with the owner and grants it had, in one transaction.

use std::sync::Arc;
use std::time::Duration;

use release_model::deployment::InstanceName;
use release_model::deployment_file::{Database, DatabaseTls};

use crate::error::Error;
use crate::secret::ClientSecret;

/// How long connecting to the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Resets one instance's database schema: `DROP SCHEMA … CASCADE`, then `CREATE SCHEMA …
/// AUTHORIZATION owner` and the `USAGE`/`CREATE` grants the schema had (read from
/// `pg_namespace` first), all in one transaction, so a failure leaves the schema as it was.
/// Ontoserver recreates its tables when it starts on the empty schema.
///
/// The connection uses TLS (rustls, web PKI roots) unless the database says `disable`.
pub struct SchemaReset {
    instance: InstanceName,
    database: Database,
    password: ClientSecret,
}

impl std::fmt::Debug for SchemaReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaReset")
            .field("instance", &self.instance)
            .field("host", &self.database.host)
            .field("dbname", &self.database.dbname)
            .field("schema", &self.database.schema)
            .finish_non_exhaustive()
    }
}

/// `name` as a quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One `aclitem` of `pg_namespace.nspacl` (`grantee=UC/grantor`; an empty grantee is
/// `PUBLIC`) as the grants that recreate it.
fn grants(item: &str, schema: &str, owner: &str) -> Vec<String> {
    let Some((grantee, rest)) = item.split_once('=') else {
        return Vec::new();
    };
    let grantee = grantee.trim_matches('"').replace("\"\"", "\"");
    if grantee == owner {
        // The owner's rights come with ownership.
        return Vec::new();
    }
    let to = if grantee.is_empty() {
        "PUBLIC".to_owned()
    } else {
        ident(&grantee)
    };
    let privileges = rest.split('/').next().unwrap_or("");
    let mut out = Vec::new();
    let mut chars = privileges.chars().peekable();
    while let Some(c) = chars.next() {
        let with_grant = chars.peek() == Some(&'*');
        if with_grant {
            chars.next();
        }
        let privilege = match c {
            'U' => "USAGE",
            'C' => "CREATE",
            _ => continue,
        };
        out.push(format!(
            "GRANT {privilege} ON SCHEMA {} TO {to}{}",
            ident(schema),
            if with_grant { " WITH GRANT OPTION" } else { "" }
        ));
    }
    out
}

impl SchemaReset {
    /// The reset of `instance`'s `database`, connecting with `password`.
    pub fn new(instance: InstanceName, database: Database, password: ClientSecret) -> Self {
        Self {
            instance,
            database,
            password,
        }
    }

    /// The reset of `instance`'s `database`, its password read from the environment variable
    /// the database names.
    ///
    /// # Errors
    /// [`Error::Config`] when that variable is not set.
    pub fn from_env(instance: InstanceName, database: Database) -> Result<Self, Error> {
        let password = std::env::var(&database.password_env).map_err(|_| Error::Config {
            message: format!(
                "{instance}: the environment variable {} (database.password_env) is not set",
                database.password_env
            ),
        })?;
        Ok(Self::new(instance, database, ClientSecret::new(password)))
    }

    fn fail(&self, message: impl std::fmt::Display) -> Error {
        Error::Infrastructure {
            instance: self.instance.to_string(),
            operation: "drop-schema",
            message: format!(
                "database {} on {}:{}: {message}",
                self.database.dbname, self.database.host, self.database.port
            ),
        }
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.database.host)
            .port(self.database.port)
            .dbname(&self.database.dbname)
            .user(&self.database.user)
            .password(self.password.secret())
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name("syndication-client");
        // The connection task ends when the client is dropped; its error, if any, is the
        // one the next query reports.
        let client = match self.database.tls {
            DatabaseTls::Disable => {
                let (client, connection) = config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|e| self.fail(describe(&e)))?;
                tokio::spawn(connection);
                client
            }
            // Require, and whatever stricter mode comes later.
            _ => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| self.fail(e))?
                .with_root_certificates(roots)
                .with_no_client_auth();
                let (client, connection) = config
                    .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
                    .await
                    .map_err(|e| self.fail(describe(&e)))?;
                tokio::spawn(connection);
                client
            }
        };
        Ok(client)
    }

    /// Drops the schema and creates it again, empty, with its owner and grants.
    ///
    /// # Errors
    /// [`Error::Infrastructure`] naming the instance and database: it cannot be reached, the
    /// password is refused, the database does not exist, or the role may not drop the
    /// schema (the schema is then as it was).
    pub async fn reset(&self) -> Result<(), Error> {
        let mut client = self.connect().await?;
        let schema = &self.database.schema;
        let tx = client
            .transaction()
            .await
            .map_err(|e| self.fail(describe(&e)))?;
        let row = tx
            .query_opt(
                "SELECT pg_get_userbyid(nspowner)::text, coalesce(nspacl::text[], '{}')
                 FROM pg_namespace WHERE nspname = $1",
                &[schema],
            )
            .await
            .map_err(|e| self.fail(describe(&e)))?;
        let (owner, acl): (String, Vec<String>) = match row {
            Some(r) => (r.get(0), r.get(1)),
            None => {
                let me = tx
                    .query_one("SELECT current_user::text", &[])
                    .await
                    .map_err(|e| self.fail(describe(&e)))?;
                (me.get(0), Vec::new())
            }
        };
        let mut statements = vec![
            format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(schema)),
            format!(
                "CREATE SCHEMA {} AUTHORIZATION {}",
                ident(schema),
                ident(&owner)
            ),
        ];
        statements.extend(acl.iter().flat_map(|item| grants(item, schema, &owner)));
        for sql in &statements {
            tx.batch_execute(sql)
                .await
                .map_err(|e| self.fail(format!("{sql}: {}", describe(&e))))?;
        }
        tx.commit().await.map_err(|e| self.fail(describe(&e)))?;
        tracing::info!(instance = %self.instance, schema, owner, grants = statements.len() - 2, "schema reset");
        Ok(())
    }

    /// Whether the schema exists and holds no table, view, sequence or other relation: what
    /// a reset leaves.
    ///
    /// # Errors
    /// As [`SchemaReset::reset`] for reaching the database.
    pub async fn is_empty(&self) -> Result<bool, Error> {
        let client = self.connect().await?;
        let row = client
            .query_one(
                "SELECT count(n.oid), count(c.oid) FROM pg_namespace n
                 LEFT JOIN pg_class c ON c.relnamespace = n.oid WHERE n.nspname = $1",
                &[&self.database.schema],
            )
            .await
            .map_err(|e| self.fail(describe(&e)))?;
        let (schemas, relations): (i64, i64) = (row.get(0), row.get(1));
        Ok(schemas > 0 && relations == 0)
    }
}

/// A PostgreSQL error as a person reads it: the server's message and code when it sent one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_items_become_the_grants_that_recreate_them() {
        assert_eq!(
            grants("reader=U/owner", "public", "owner"),
            ["GRANT USAGE ON SCHEMA \"public\" TO \"reader\""]
        );
        assert_eq!(
            grants("=UC/owner", "s", "owner"),
            [
                "GRANT USAGE ON SCHEMA \"s\" TO PUBLIC",
                "GRANT CREATE ON SCHEMA \"s\" TO PUBLIC"
            ]
        );
        assert_eq!(
            grants("\"odd\"\"name\"=U*/owner", "s", "owner"),
            ["GRANT USAGE ON SCHEMA \"s\" TO \"odd\"\"name\" WITH GRANT OPTION"]
        );
        assert!(grants("owner=UC/owner", "s", "owner").is_empty());
        assert!(grants("garbage", "s", "owner").is_empty());
    }
}
