//! The environments a release goes through, in promotion order, each in a
//! region (a cluster): `--environment NAME=REGION[,deadline=SECONDS]`,
//! repeated in order. Default: `dev`, `test`, `prod`, all in the first region.

use std::time::Duration;

use app::dscloud::DEFAULT_PROMOTION_ORDER;

use crate::cluster::check_region_name;

/// How long a rollout may take before it counts as failed, unless an
/// environment says otherwise.
pub const DEFAULT_ROLLOUT_DEADLINE: Duration = Duration::from_secs(600);

/// One environment as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentArg {
    pub name: String,
    /// The region whose cluster runs it; `None`: the first region.
    pub region: Option<String>,
    pub rollout_deadline: Duration,
}

impl std::str::FromStr for EnvironmentArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut parts = text.split(',');
        let head = parts.next().unwrap_or_default().trim();
        let (name, region) = match head.split_once('=') {
            Some((name, region)) => (name.trim(), Some(region.trim())),
            None => (head, None),
        };
        check_region_name(name).map_err(|_| {
            format!(
                "environment name {name:?}: 1 to 32 lowercase letters, digits and '-', starting with a letter"
            )
        })?;
        if let Some(region) = region {
            check_region_name(region)?;
        }
        let mut rollout_deadline = DEFAULT_ROLLOUT_DEADLINE;
        for option in parts {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            match key.trim() {
                "deadline" => {
                    let seconds: u64 = value.trim().parse().map_err(|_| {
                        format!(
                            "environment {name:?}: deadline={value:?} is not a number of seconds"
                        )
                    })?;
                    if !(1..=86_400).contains(&seconds) {
                        return Err(format!(
                            "environment {name:?}: the rollout deadline must be 1 to 86400 seconds"
                        ));
                    }
                    rollout_deadline = Duration::from_secs(seconds);
                }
                other => {
                    return Err(format!(
                        "environment {name:?}: unknown option {other:?} (known: deadline=SECONDS)"
                    ));
                }
            }
        }
        Ok(EnvironmentArg {
            name: name.to_string(),
            region: region.map(str::to_string),
            rollout_deadline,
        })
    }
}

/// The promotion order: the given environments, or the default three.
pub fn promotion_order(given: &[EnvironmentArg]) -> Result<Vec<EnvironmentArg>, String> {
    for (index, environment) in given.iter().enumerate() {
        if given[..index]
            .iter()
            .any(|other| other.name == environment.name)
        {
            return Err(format!("environment {:?} is given twice", environment.name));
        }
    }
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    Ok(DEFAULT_PROMOTION_ORDER
        .iter()
        .map(|name| EnvironmentArg {
            name: (*name).to_string(),
            region: None,
            rollout_deadline: DEFAULT_ROLLOUT_DEADLINE,
        })
        .collect())
}

/// `Invalid`, naming the configured ones, unless `environment` is one of them.
pub fn known_environment(
    environments: &[String],
    environment: &str,
) -> Result<(), app::caller::ServiceError> {
    if environments.iter().any(|known| known == environment) {
        Ok(())
    } else {
        Err(app::caller::ServiceError::Invalid(format!(
            "there is no environment {environment:?} (environments: {})",
            environments.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_names_its_region_and_deadline() {
        let parsed: EnvironmentArg = "prod=eu-west,deadline=120".parse().unwrap();
        assert_eq!(parsed.name, "prod");
        assert_eq!(parsed.region.as_deref(), Some("eu-west"));
        assert_eq!(parsed.rollout_deadline, Duration::from_secs(120));
        let plain: EnvironmentArg = "dev".parse().unwrap();
        assert_eq!(plain.region, None);
        assert_eq!(plain.rollout_deadline, DEFAULT_ROLLOUT_DEADLINE);
    }

    #[test]
    fn bad_environments_are_refused_with_the_reason() {
        let error = "Prod=x".parse::<EnvironmentArg>().unwrap_err();
        assert!(error.contains("environment name \"Prod\""), "{error}");
        let error = "prod=local,deadline=soon"
            .parse::<EnvironmentArg>()
            .unwrap_err();
        assert!(error.contains("deadline=\"soon\""), "{error}");
        let error = "prod,color=red".parse::<EnvironmentArg>().unwrap_err();
        assert!(error.contains("unknown option \"color\""), "{error}");
        let twice = ["dev".parse().unwrap(), "dev=other".parse().unwrap()];
        assert!(promotion_order(&twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn without_configuration_the_order_is_dev_test_prod() {
        let names: Vec<String> = promotion_order(&[])
            .unwrap()
            .into_iter()
            .map(|environment| environment.name)
            .collect();
        assert_eq!(names, ["dev", "test", "prod"]);
    }
}
