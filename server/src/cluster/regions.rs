//! Regions: each one a Kubernetes cluster the portal runs things on.
//! Without configuration there is one, `local`: the configured cluster or
//! the built-in sandbox. `--region NAME=KUBECONFIG` (repeatable) names
//! clusters instead; every region runs its own engines, watches and Leases.

use std::path::PathBuf;

/// A region as `--region NAME=KUBECONFIG` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionArg {
    pub name: String,
    /// Its cluster: the kubeconfig's current context.
    pub kubeconfig: PathBuf,
}

impl std::str::FromStr for RegionArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, kubeconfig) = text.split_once('=').ok_or_else(|| {
            format!("{text:?} is not NAME=KUBECONFIG (for example eu-west=/etc/dscloud/eu-west.kubeconfig)")
        })?;
        let name = name.trim();
        check_region_name(name)?;
        let kubeconfig = kubeconfig.trim();
        if kubeconfig.is_empty() {
            return Err(format!("region {name:?} needs a kubeconfig file after '='"));
        }
        Ok(RegionArg {
            name: name.to_string(),
            kubeconfig: PathBuf::from(kubeconfig),
        })
    }
}

/// Region names show in the UI and are stored with every database: short
/// DNS-1123 labels, as cluster names usually are.
pub fn check_region_name(name: &str) -> Result<(), String> {
    let valid = app::names::dns_label(name, 32).is_ok()
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "region name {name:?}: 1 to 32 lowercase letters, digits and '-', starting with a letter and not ending with '-'"
        ))
    }
}

/// The names, refused when one is given twice.
pub fn check_distinct(regions: &[RegionArg]) -> Result<(), String> {
    for (index, region) in regions.iter().enumerate() {
        if regions[..index]
            .iter()
            .any(|other| other.name == region.name)
        {
            return Err(format!("region {:?} is given twice", region.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_a_name_and_a_kubeconfig() {
        let region: RegionArg = "eu-west=/etc/dscloud/eu.kubeconfig".parse().unwrap();
        assert_eq!(region.name, "eu-west");
        assert_eq!(
            region.kubeconfig,
            PathBuf::from("/etc/dscloud/eu.kubeconfig")
        );
    }

    #[test]
    fn bad_regions_are_refused_with_the_reason() {
        let error = |text: &str| text.parse::<RegionArg>().unwrap_err();
        assert!(error("eu-west").contains("is not NAME=KUBECONFIG"));
        assert!(error("EU=/k").contains("lowercase letters"));
        assert!(error("-eu=/k").contains("starting with a letter"));
        assert!(error("eu=").contains("needs a kubeconfig"));
        assert!(error(&format!("{}=/k", "a".repeat(33))).contains("1 to 32"));
        let twice = ["a=/1", "b=/2", "a=/3"].map(|text| text.parse::<RegionArg>().unwrap());
        assert_eq!(
            check_distinct(&twice).unwrap_err(),
            "region \"a\" is given twice"
        );
        assert!(check_distinct(&twice[..2]).is_ok());
    }
}
