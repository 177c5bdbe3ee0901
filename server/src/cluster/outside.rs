//! The address clients outside a region's cluster use for its databases:
//! `--outside-address REGION=TEMPLATE`, where the template names the host
//! and port a load balancer or gateway answers on, e.g.
//! `eu-west={name}.eu-west.db.example.com:{port}`.

use super::regions::check_region_name;

/// The placeholders a template may use.
const PLACEHOLDERS: &[&str] = &["{name}", "{namespace}", "{port}"];

/// One `--outside-address` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutsideAddressArg {
    pub region: String,
    pub template: String,
}

impl std::str::FromStr for OutsideAddressArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (region, template) = text.split_once('=').ok_or_else(|| {
            format!(
                "{text:?} is not REGION=TEMPLATE (for example eu-west={{name}}.eu-west.db.example.com:{{port}})"
            )
        })?;
        let region = region.trim();
        check_region_name(region)?;
        let template = template.trim();
        check_template(template).map_err(|reason| format!("region {region}: {reason}"))?;
        Ok(OutsideAddressArg {
            region: region.to_string(),
            template: template.to_string(),
        })
    }
}

fn check_template(template: &str) -> Result<(), String> {
    if template.is_empty() {
        return Err("the outside address after '=' is empty".to_string());
    }
    if let Some(bad) = template.chars().find(|character| {
        character.is_whitespace() || character.is_control() || "/?#@".contains(*character)
    }) {
        return Err(format!(
            "the outside address {template:?} holds {bad:?}: give HOST or HOST:PORT"
        ));
    }
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        match PLACEHOLDERS
            .iter()
            .find(|placeholder| after.starts_with(**placeholder))
        {
            Some(placeholder) => rest = &after[placeholder.len()..],
            None => {
                return Err(format!(
                    "the outside address {template:?} has an unknown placeholder at {after:?}: use {}",
                    PLACEHOLDERS.join(", ")
                ));
            }
        }
    }
    let without_placeholders = PLACEHOLDERS
        .iter()
        .fold(template.to_string(), |text, placeholder| {
            text.replace(placeholder, "")
        });
    if without_placeholders.contains('}') {
        return Err(format!(
            "the outside address {template:?} has a '}}' without its '{{'"
        ));
    }
    Ok(())
}

/// How one region's databases are reached from outside its cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OutsideAddress {
    /// No address is configured.
    #[default]
    None,
    /// The built-in sandbox: nothing outside reaches it.
    Sandbox,
    /// A template (see the module's comment).
    Template(String),
}

impl OutsideAddress {
    /// The address for one database; the port is the engine's unless the
    /// template names another.
    pub fn for_database(&self, name: &str, namespace: &str, port: u16) -> app::databases::Outside {
        use app::databases::Outside;
        match self {
            OutsideAddress::None => Outside::NotConfigured,
            OutsideAddress::Sandbox => Outside::Sandbox,
            OutsideAddress::Template(template) => {
                let address = template
                    .replace("{name}", name)
                    .replace("{namespace}", namespace)
                    .replace("{port}", &port.to_string());
                let has_port = address.rsplit_once(':').is_some_and(|(_, port)| {
                    !port.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit())
                });
                Outside::Address(if has_port {
                    address
                } else {
                    format!("{address}:{port}")
                })
            }
        }
    }
}

/// Each region's outside address: refused when a flag names a region that
/// is not configured, or a region twice.
pub fn outside_addresses(
    flags: &[OutsideAddressArg],
    regions: &[String],
) -> Result<Vec<(String, OutsideAddress)>, String> {
    for (index, flag) in flags.iter().enumerate() {
        if !regions.contains(&flag.region) {
            return Err(format!(
                "--outside-address names the region {:?}, which is not configured (regions: {})",
                flag.region,
                regions.join(", ")
            ));
        }
        if flags[..index]
            .iter()
            .any(|other| other.region == flag.region)
        {
            return Err(format!(
                "--outside-address gives the region {:?} twice",
                flag.region
            ));
        }
    }
    Ok(regions
        .iter()
        .map(|region| {
            let outside = flags
                .iter()
                .find(|flag| &flag.region == region)
                .map_or(OutsideAddress::None, |flag| {
                    OutsideAddress::Template(flag.template.clone())
                });
            (region.clone(), outside)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::databases::Outside;

    fn parse(text: &str) -> Result<OutsideAddressArg, String> {
        text.parse()
    }

    #[test]
    fn a_template_fills_in_the_database_and_keeps_or_adds_the_port() {
        let flag = parse("eu-west={name}.eu-west.db.example.com:{port}").unwrap();
        let outside = OutsideAddress::Template(flag.template);
        assert_eq!(
            outside.for_database("orders", "db-1f", 9042),
            Outside::Address("orders.eu-west.db.example.com:9042".to_string())
        );
        let gateway = OutsideAddress::Template("gw.example.com:{port}".to_string());
        assert_eq!(
            gateway.for_database("orders", "db-1f", 5432),
            Outside::Address("gw.example.com:5432".to_string())
        );
        let no_port = OutsideAddress::Template("{namespace}.example.com".to_string());
        assert_eq!(
            no_port.for_database("orders", "db-1f", 5432),
            Outside::Address("db-1f.example.com:5432".to_string())
        );
        let fixed_port = OutsideAddress::Template("{name}.example.com:30042".to_string());
        assert_eq!(
            fixed_port.for_database("orders", "db-1f", 9042),
            Outside::Address("orders.example.com:30042".to_string())
        );
        assert_eq!(
            OutsideAddress::None.for_database("a", "b", 1),
            Outside::NotConfigured
        );
        assert_eq!(
            OutsideAddress::Sandbox.for_database("a", "b", 1),
            Outside::Sandbox
        );
    }

    #[test]
    fn a_bad_flag_is_refused_with_the_reason() {
        let error = |text: &str| parse(text).unwrap_err();
        assert!(error("db.example.com").contains("is not REGION=TEMPLATE"));
        assert!(error("EU=db.example.com").contains("lowercase letters"));
        assert!(error("eu=").contains("is empty"));
        assert!(
            error("eu={host}.example.com")
                .contains("unknown placeholder at \"{host}.example.com\"")
        );
        assert!(error("eu=db.example.com}").contains("without its '{'"));
        assert!(error("eu=db example.com").contains("holds ' '"));
        assert!(error("eu=https://db.example.com").contains("give HOST or HOST:PORT"));
    }

    #[test]
    fn every_flag_must_name_a_configured_region_once() {
        let regions = vec!["eu-west".to_string(), "us-east".to_string()];
        let flags = [parse("eu-west=db.eu.example.com").unwrap()];
        let outside = outside_addresses(&flags, &regions).unwrap();
        assert_eq!(
            outside,
            vec![
                (
                    "eu-west".to_string(),
                    OutsideAddress::Template("db.eu.example.com".to_string())
                ),
                ("us-east".to_string(), OutsideAddress::None),
            ]
        );
        let unknown = [parse("ap-south=db.example.com").unwrap()];
        assert_eq!(
            outside_addresses(&unknown, &regions).unwrap_err(),
            "--outside-address names the region \"ap-south\", which is not configured (regions: eu-west, us-east)"
        );
        let twice = [
            parse("eu-west=a.example.com").unwrap(),
            parse("eu-west=b.example.com").unwrap(),
        ];
        assert!(
            outside_addresses(&twice, &regions)
                .unwrap_err()
                .contains("twice")
        );
    }
}
