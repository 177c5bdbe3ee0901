//! Databases as customers see them: engines, size tiers, regions, the
//! lifecycle statuses, and the rules a new database's fields follow. Shared
//! by the server (which enforces them) and the browser (which checks a form
//! as it is typed).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod api;
mod quota;
#[cfg(feature = "ssr")]
mod service;
mod timeline;
pub use api::*;
pub use quota::*;
#[cfg(feature = "ssr")]
pub use service::Databases;
pub use timeline::{
    ChangeRequest, FoldedStep, TIMELINE_ACTIONS, TimelineGroup, duration_text, group_steps,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Apache Cassandra through cass-operator's CassandraDatacenter.
    Cassandra,
    /// PostgreSQL through CloudNativePG's Cluster.
    Postgresql,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Cassandra, Engine::Postgresql];

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Cassandra => "cassandra",
            Engine::Postgresql => "postgresql",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Engine::Cassandra => "Cassandra",
            Engine::Postgresql => "PostgreSQL",
        }
    }

    /// What the first keyspace (Cassandra) or database (PostgreSQL) is called.
    pub fn first_schema_label(self) -> &'static str {
        match self {
            Engine::Cassandra => "keyspace",
            Engine::Postgresql => "database",
        }
    }

    pub fn port(self) -> u16 {
        match self {
            Engine::Cassandra => 9042,
            Engine::Postgresql => 5432,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|engine| engine.as_str() == value)
            .ok_or_else(|| format!("unknown engine {value:?}: choose cassandra or postgresql"))
    }
}

/// A named size: what a customer picks instead of nodes, CPU and memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    pub name: &'static str,
    pub nodes: u32,
    /// Per node, in millicores.
    pub cpu_millis: u32,
    /// Per node, in MiB.
    pub memory_mib: u32,
    /// Per node, in GiB.
    pub storage_gib: u32,
}

impl Tier {
    /// "3 nodes · 1 vCPU · 2 GiB memory · 10 GiB storage each".
    pub fn figures(&self) -> String {
        let cpu = f64::from(self.cpu_millis) / 1000.0;
        let memory = f64::from(self.memory_mib) / 1024.0;
        format!(
            "{} node{} · {cpu} vCPU · {memory} GiB memory · {} GiB storage each",
            self.nodes,
            if self.nodes == 1 { "" } else { "s" },
            self.storage_gib
        )
    }
}

/// The tiers on offer, smallest first.
pub const TIERS: &[Tier] = &[
    Tier {
        name: "starter",
        nodes: 1,
        cpu_millis: 500,
        memory_mib: 1024,
        storage_gib: 5,
    },
    Tier {
        name: "small",
        nodes: 3,
        cpu_millis: 1000,
        memory_mib: 2048,
        storage_gib: 10,
    },
    Tier {
        name: "medium",
        nodes: 3,
        cpu_millis: 2000,
        memory_mib: 8192,
        storage_gib: 50,
    },
    Tier {
        name: "large",
        nodes: 5,
        cpu_millis: 4000,
        memory_mib: 16384,
        storage_gib: 200,
    },
];

pub fn tier(name: &str) -> Option<&'static Tier> {
    TIERS.iter().find(|tier| tier.name == name)
}

/// Where a database runs: each region is a configured Kubernetes cluster;
/// the built-in sandbox is region `local`.
pub const LOCAL_REGION: &str = "local";

/// Where a database is in its life, as the portal reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Accepted; nothing created on Kubernetes yet.
    Pending,
    /// Kubernetes objects exist; the operator is bringing the database up.
    Initializing,
    Active,
    /// A new size is being rolled out.
    Resizing,
    Parking,
    Parked,
    Resuming,
    Terminating,
    /// Gone from Kubernetes; the row stays as history.
    Terminated,
    /// Something failed that retrying alone will not fix; the message says what.
    Error,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Pending,
        Status::Initializing,
        Status::Active,
        Status::Resizing,
        Status::Parking,
        Status::Parked,
        Status::Resuming,
        Status::Terminating,
        Status::Terminated,
        Status::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Initializing => "INITIALIZING",
            Status::Active => "ACTIVE",
            Status::Resizing => "RESIZING",
            Status::Parking => "PARKING",
            Status::Parked => "PARKED",
            Status::Resuming => "RESUMING",
            Status::Terminating => "TERMINATING",
            Status::Terminated => "TERMINATED",
            Status::Error => "ERROR",
        }
    }

    /// Whether the engine still has work to do for a database in this status.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Status::Active | Status::Parked | Status::Terminated | Status::Error
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| format!("unknown database status {value:?}"))
    }
}

/// What the customer wants the database to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    Running,
    Parked,
    Terminated,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Running => "running",
            Intent::Parked => "parked",
            Intent::Terminated => "terminated",
        }
    }
}

impl FromStr for Intent {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        [Intent::Running, Intent::Parked, Intent::Terminated]
            .into_iter()
            .find(|intent| intent.as_str() == value)
            .ok_or_else(|| format!("unknown intent {value:?}"))
    }
}

/// The longest database name: it becomes part of Kubernetes names.
pub const MAX_NAME_LENGTH: usize = 40;

/// A database name is a DNS-1123 label of at most 40 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    use crate::names::{LabelProblem, dns_label};
    dns_label(name, MAX_NAME_LENGTH).map_err(|problem| match problem {
        LabelProblem::Empty => "give the database a name".to_string(),
        LabelProblem::TooLong(length) => {
            format!("{name:?} has {length} characters; at most {MAX_NAME_LENGTH}")
        }
        LabelProblem::Characters => {
            format!("{name:?}: use lowercase letters, digits and '-' only")
        }
        LabelProblem::Ends => format!("{name:?}: start and end with a letter or digit"),
    })
}

/// The first keyspace or database: a letter, then letters, digits or `_`,
/// at most 48 characters (Cassandra's keyspace limit), not reserved.
pub fn check_schema_name(engine: Engine, name: &str) -> Result<(), String> {
    let what = engine.first_schema_label();
    let mut characters = name.chars();
    let starts_well = characters
        .next()
        .is_some_and(|first| first.is_ascii_lowercase());
    if !starts_well
        || name.len() > 48
        || !name.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '_'
        })
    {
        return Err(format!(
            "{what} {name:?}: start with a lowercase letter, then lowercase letters, digits or '_', at most 48 characters"
        ));
    }
    let reserved: &[&str] = match engine {
        Engine::Cassandra => &[
            "system",
            "system_auth",
            "system_schema",
            "system_distributed",
            "system_traces",
            "system_views",
            "system_virtual_schema",
        ],
        Engine::Postgresql => &["postgres", "template0", "template1"],
    };
    if reserved.contains(&name) {
        return Err(format!("{what} {name:?} is reserved; choose another name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels_of_at_most_forty_characters() {
        for good in ["orders", "a", "orders-2026", &"x".repeat(40)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Orders",
            "-orders",
            "orders-",
            "or_ders",
            "ör",
            &"x".repeat(41),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(
            check_name(&"x".repeat(41))
                .unwrap_err()
                .contains("at most 40")
        );
    }

    #[test]
    fn schema_names_follow_the_engine() {
        assert!(check_schema_name(Engine::Cassandra, "shop_data").is_ok());
        assert!(
            check_schema_name(Engine::Cassandra, "system_auth")
                .unwrap_err()
                .contains("reserved")
        );
        assert!(check_schema_name(Engine::Postgresql, "postgres").is_err());
        assert!(
            check_schema_name(Engine::Postgresql, "1st")
                .unwrap_err()
                .starts_with("database")
        );
    }

    #[test]
    fn every_status_and_engine_round_trips_through_its_name() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        for engine in Engine::ALL {
            assert_eq!(engine.as_str().parse::<Engine>(), Ok(engine));
        }
    }

    #[test]
    fn tiers_say_what_they_are() {
        assert_eq!(
            tier("small").map(Tier::figures).as_deref(),
            Some("3 nodes · 1 vCPU · 2 GiB memory · 10 GiB storage each")
        );
        assert!(tier("huge").is_none());
    }
}
