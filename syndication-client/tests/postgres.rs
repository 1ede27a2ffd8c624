//! `drop-schema` against a real PostgreSQL (`.ci/run` installs and starts one on loopback,
//! and sets `SYND_TEST_PG=host:port`): the schema ends empty with its owner and grants, and a
//! wrong password, a missing database or a server without TLS are clear errors.
//!
//! Without `SYND_TEST_PG` these tests say so and pass, unless `SYND_REQUIRE_SERVICES=1` (set
//! by `.ci/run`), where a missing server fails them.

use release_model::deployment::{
    Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};
use release_model::deployment_file::{Commands, Database, DatabaseTls};
use syndication_client::{ClientSecret, CommandInfrastructure, Infrastructure, SchemaReset, Wipe};

/// The role and database `.ci/run` creates.
const OWNER: &str = "synd_owner";
const OWNER_PASSWORD: &str = "synd-owner-secret";
const DBNAME: &str = "synd_test";
const READER: &str = "synd_reader";

fn server() -> Option<(String, u16)> {
    let Ok(at) = std::env::var("SYND_TEST_PG") else {
        assert!(
            std::env::var("SYND_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "SYND_TEST_PG is not set, and SYND_REQUIRE_SERVICES=1 says PostgreSQL must be there"
        );
        eprintln!("skipped: no PostgreSQL (set SYND_TEST_PG=host:port; .ci/run does)");
        return None;
    };
    let (host, port) = at.rsplit_once(':').expect("SYND_TEST_PG is host:port");
    Some((host.to_owned(), port.parse().expect("a port")))
}

fn database(host: &str, port: u16, schema: &str) -> Database {
    let mut d = Database::new(host, port, DBNAME, OWNER, "UNUSED");
    d.schema = schema.to_owned();
    d.tls = DatabaseTls::Disable;
    d
}

fn instance() -> InstanceName {
    InstanceName::new("prod-0").expect("valid")
}

async fn connect(host: &str, port: u16) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(port)
        .dbname(DBNAME)
        .user(OWNER)
        .password(OWNER_PASSWORD);
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("the test database");
    tokio::spawn(connection);
    client
}

/// A schema as Ontoserver leaves it: tables, a sequence, a view, data, and a grant.
async fn populate(client: &tokio_postgres::Client, schema: &str) {
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE;
             CREATE SCHEMA {schema};
             CREATE TABLE {schema}.resource (id bigint PRIMARY KEY, body text);
             CREATE SEQUENCE {schema}.resource_seq;
             CREATE VIEW {schema}.resource_ids AS SELECT id FROM {schema}.resource;
             INSERT INTO {schema}.resource VALUES (1, 'ValueSet/a');
             GRANT USAGE ON SCHEMA {schema} TO {READER};"
        ))
        .await
        .expect("populated");
}

async fn facts(client: &tokio_postgres::Client, schema: &str) -> (String, bool, i64) {
    let row = client
        .query_one(
            "SELECT pg_get_userbyid(n.nspowner)::text,
                    has_schema_privilege($2, n.oid, 'USAGE'),
                    (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid)
             FROM pg_namespace n WHERE n.nspname = $1",
            &[&schema, &READER],
        )
        .await
        .expect("the schema exists");
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn a_reset_leaves_the_schema_empty_with_its_owner_and_grants() {
    let Some((host, port)) = server() else { return };
    let client = connect(&host, port).await;
    populate(&client, "tx_reset").await;
    let reset = SchemaReset::new(
        instance(),
        database(&host, port, "tx_reset"),
        ClientSecret::new(OWNER_PASSWORD),
    );
    assert!(!reset.is_empty().await.expect("answers"), "populated");
    reset.reset().await.expect("reset");
    assert!(reset.is_empty().await.expect("answers"));
    assert_eq!(
        facts(&client, "tx_reset").await,
        (OWNER.to_owned(), true, 0),
        "owner kept, the reader's grant kept, no relation left"
    );
    // A schema that is not there is created, owned by the role connected as.
    client
        .batch_execute("DROP SCHEMA IF EXISTS tx_absent CASCADE")
        .await
        .expect("dropped");
    let absent = SchemaReset::new(
        instance(),
        database(&host, port, "tx_absent"),
        ClientSecret::new(OWNER_PASSWORD),
    );
    assert!(
        !absent.is_empty().await.expect("answers"),
        "not there is not empty"
    );
    absent.reset().await.expect("created");
    assert!(absent.is_empty().await.expect("answers"));
}

#[tokio::test]
async fn wrong_password_missing_database_and_missing_tls_are_clear_errors() {
    let Some((host, port)) = server() else { return };
    let wrong = SchemaReset::new(
        instance(),
        database(&host, port, "tx_errors"),
        ClientSecret::new("not-the-password"),
    );
    let err = wrong.reset().await.expect_err("refused").to_string();
    assert!(
        err.contains("prod-0") && err.contains("drop-schema"),
        "{err}"
    );
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains(OWNER_PASSWORD) && !err.contains("not-the-password"),
        "{err}"
    );

    let mut missing = database(&host, port, "tx_errors");
    missing.dbname = "no_such_database".into();
    let err = SchemaReset::new(instance(), missing, ClientSecret::new(OWNER_PASSWORD))
        .reset()
        .await
        .expect_err("no database")
        .to_string();
    assert!(
        err.contains("no_such_database") && err.contains("does not exist"),
        "{err}"
    );

    // The test server has no TLS: asked to require it, the connection is refused, not made
    // in the clear.
    let mut tls = database(&host, port, "tx_errors");
    tls.tls = DatabaseTls::Require;
    let err = SchemaReset::new(instance(), tls, ClientSecret::new(OWNER_PASSWORD))
        .reset()
        .await
        .expect_err("no TLS")
        .to_string();
    assert!(
        err.to_lowercase().contains("tls") || err.contains("SSL"),
        "{err}"
    );
}

// Through the infrastructure adapter: `drop-schema` resets the database, `is_wiped` asks it,
// and the planner is offered the step.
#[tokio::test]
async fn the_infrastructure_resets_the_database_it_is_given() {
    let Some((host, port)) = server() else { return };
    let client = connect(&host, port).await;
    populate(&client, "tx_infra").await;
    let i = Instance::new(
        instance(),
        BaseUrl::new("https://prod-0.example.org").expect("valid"),
        Role::Production,
        Access::ReadOnly,
        Storage::Persistent,
    );
    let deployment = Deployment::new(DeploymentModel::Comprehensive, Topology::single(i));
    let infra = CommandInfrastructure::new(Commands::default(), &deployment)
        .expect("valid")
        .with_database(
            instance(),
            SchemaReset::new(
                instance(),
                database(&host, port, "tx_infra"),
                ClientSecret::new(OWNER_PASSWORD),
            ),
        );
    assert!(infra.capabilities().drop_schema);
    assert!(
        !infra
            .is_wiped(&instance(), Wipe::Schema)
            .await
            .expect("answers")
    );
    infra.drop_schema(&instance()).await.expect("reset");
    assert!(
        infra
            .is_wiped(&instance(), Wipe::Schema)
            .await
            .expect("answers")
    );
    assert_eq!(
        facts(&client, "tx_infra").await,
        (OWNER.to_owned(), true, 0)
    );
}
