//! The environments a release goes through, in promotion order, each in a
//! region (a cluster): `--environment NAME=REGION[,deadline=SECONDS]
//! [,ingress-host=HOST][,ingress-class=CLASS]`, repeated in order. Default:
//! `dev`, `test`, `prod`, all in the first region.

use std::time::Duration;

use app::dscloud::DEFAULT_PROMOTION_ORDER;

use crate::cluster::check_region_name;
use crate::manifests::IngressSettings;

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
    pub ingress: IngressSettings,
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
        let mut ingress = IngressSettings::default();
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
                "ingress-host" => {
                    ingress.host = Some(ingress_host(name, value.trim())?);
                }
                "ingress-class" => {
                    let class = value.trim();
                    app::names::dns_subdomain(class).map_err(|_| {
                        format!(
                            "environment {name:?}: ingress-class={class:?} is not an IngressClass name (lowercase letters, digits, '-' and '.')"
                        )
                    })?;
                    ingress.class = Some(class.to_string());
                }
                other => {
                    return Err(format!(
                        "environment {name:?}: unknown option {other:?} (known: deadline=SECONDS, ingress-host=HOST, ingress-class=CLASS)"
                    ));
                }
            }
        }
        Ok(EnvironmentArg {
            name: name.to_string(),
            region: region.map(str::to_string),
            rollout_deadline,
            ingress,
        })
    }
}

/// A host template with `{app}` (each app gets its own host, so two apps'
/// routes never meet), a DNS name once the app's name stands in it.
fn ingress_host(environment: &str, template: &str) -> Result<String, String> {
    if !template.contains(IngressSettings::APP) {
        return Err(format!(
            "environment {environment:?}: ingress-host={template:?} must contain {} so each app gets its own host, e.g. {{app}}.{environment}.example.com",
            IngressSettings::APP
        ));
    }
    // The longest app name, to know the host stays within DNS's limits.
    let longest = template.replace(IngressSettings::APP, &"a".repeat(crate::apps::MAX_APP_NAME));
    app::names::dns_subdomain(&longest).map_err(|_| {
        format!(
            "environment {environment:?}: ingress-host={template:?} is not a host name (lowercase letters, digits, '-' and '.', at most 253 characters with a {}-character app name)",
            crate::apps::MAX_APP_NAME
        )
    })?;
    Ok(template.to_string())
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
            ingress: IngressSettings::default(),
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
    fn an_environment_names_its_ingress_host_and_class() {
        let parsed: EnvironmentArg =
            "prod=eu-west,ingress-host={app}.apps.example.com,ingress-class=nginx-public"
                .parse()
                .unwrap();
        assert_eq!(
            parsed.ingress.host_for("shop").as_deref(),
            Some("shop.apps.example.com")
        );
        assert_eq!(parsed.ingress.class.as_deref(), Some("nginx-public"));
        let error = "dev,ingress-host=apps.example.com"
            .parse::<EnvironmentArg>()
            .unwrap_err();
        assert!(error.contains("must contain {app}"), "{error}");
        let error = "dev,ingress-host={app}.Example_com"
            .parse::<EnvironmentArg>()
            .unwrap_err();
        assert!(error.contains("is not a host name"), "{error}");
        let error = "dev,ingress-class=Nginx!"
            .parse::<EnvironmentArg>()
            .unwrap_err();
        assert!(error.contains("not an IngressClass name"), "{error}");
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
