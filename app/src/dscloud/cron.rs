//! Five-field cron expressions, as Kubernetes CronJobs accept them.

const MACROS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    /// The highest value that is not another name for a lower one.
    distinct_max: u32,
    /// Names accepted for the values, starting at `min` (months) or 0 (weekdays).
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        distinct_max: 59,
        names: &[],
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        distinct_max: 23,
        names: &[],
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        distinct_max: 31,
        names: &[],
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        distinct_max: 12,
        names: MONTHS,
    },
    // 7 is Sunday too, as in Vixie cron.
    Field {
        name: "day of week",
        min: 0,
        max: 7,
        distinct_max: 6,
        names: WEEKDAYS,
    },
];

/// Why `expression` is not a valid schedule, if it is not one.
pub fn schedule_problem(expression: &str) -> Option<String> {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') {
        return if MACROS.contains(&trimmed) {
            None
        } else {
            Some(format!(
                "`{trimmed}` is not a known schedule; use one of {}",
                MACROS.join(", ")
            ))
        };
    }
    if trimmed.starts_with("TZ=") || trimmed.starts_with("CRON_TZ=") {
        return Some("time zones are not part of the schedule; schedules run in UTC".to_string());
    }
    let parts: Vec<&str> = trimmed.split_whitespace().collect();
    if parts.len() != 5 {
        return Some(format!(
            "`{trimmed}` has {} field{}; a cron schedule has five: minute hour day-of-month month day-of-week (e.g. \"*/10 * * * *\")",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" }
        ));
    }
    parts
        .iter()
        .zip(FIELDS.iter())
        .find_map(|(part, field)| field_problem(part, field))
}

fn field_problem(part: &str, field: &Field) -> Option<String> {
    part.split(',')
        .find_map(|item| item_problem(item, part, field))
}

fn item_problem(item: &str, part: &str, field: &Field) -> Option<String> {
    let bad = |why: String| Some(format!("{} `{part}`: {why}", field.name));
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let step = match step.map(str::parse::<u32>) {
        None => None,
        Some(Ok(step)) if step >= 1 => Some(step),
        Some(_) => {
            return bad(format!(
                "the step `{}` must be a whole number of at least 1",
                step.unwrap_or_default()
            ));
        }
    };
    let (low, high) = if range == "*" {
        // Sunday is 0 and 7: `*/7` is every Sunday, not two different days.
        (field.min, field.distinct_max)
    } else {
        let (low, high) = match range.split_once('-') {
            Some((low, high)) => (low, Some(high)),
            None => (range, None),
        };
        let low = match value(low, field) {
            Ok(low) => low,
            Err(why) => return bad(why),
        };
        let high = match high.map(|high| value(high, field)) {
            Some(Ok(high)) => high,
            Some(Err(why)) => return bad(why),
            // `5/15` runs from 5 to the field's end; `5` alone is one value.
            None if step.is_some() => field.max,
            None => low,
        };
        if high < low {
            return bad(format!("the range `{range}` runs backwards"));
        }
        (low, high)
    };
    if let Some(step) = step
        && high > low
        && step > high - low
    {
        return bad(format!(
            "the step `{step}` is larger than the range {low}-{high}, so only {low} would match; use a step of at most {}",
            high - low
        ));
    }
    None
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Some(index) = field
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        let offset = if field.names.len() == 12 {
            field.min
        } else {
            0
        };
        return Ok(index as u32 + offset);
    }
    let Ok(number) = text.parse::<u32>() else {
        let names = if field.names.is_empty() {
            String::new()
        } else {
            format!(" or a name such as {}", field.names[0])
        };
        return Err(format!("`{text}` is not a number{names}"));
    };
    if number < field.min || number > field.max {
        return Err(format!(
            "{number} is out of range {}-{}",
            field.min, field.max
        ));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schedules() {
        for schedule in [
            "*/10 * * * *",
            "0 0 * * *",
            "0 9-17 * * MON-FRI",
            "15,45 */2 1 JAN,jul 0",
            "0 0 * * 7",
            "@daily",
            "@hourly",
            "5-55/10 * * * *",
            "*/59 */23 */30 */11 */6",
            "5/15 * * * *",
        ] {
            assert_eq!(schedule_problem(schedule), None, "{schedule}");
        }
    }

    #[test]
    fn invalid_schedules_say_which_field() {
        let cases = [
            ("* * * *", "has 4 fields"),
            ("60 * * * *", "minute `60`: 60 is out of range 0-59"),
            ("* 24 * * *", "hour `24`"),
            ("* * 0 * *", "day of month `0`"),
            ("* * * 13 *", "month `13`"),
            (
                "* * * * FUN",
                "day of week `FUN`: `FUN` is not a number or a name such as SUN",
            ),
            ("*/0 * * * *", "the step `0`"),
            (
                "*/61 * * * *",
                "minute `*/61`: the step `61` is larger than the range 0-59, so only 0 would match; use a step of at most 59",
            ),
            ("0 */24 * * *", "hour `*/24`: the step `24`"),
            ("0 0 */31 * *", "day of month `*/31`: the step `31`"),
            ("0 0 1 */12 *", "month `*/12`: the step `12`"),
            ("0 0 * * */7", "day of week `*/7`: the step `7`"),
            ("0-10/11 * * * *", "larger than the range 0-10"),
            ("50/10 * * * *", "larger than the range 50-59"),
            ("5-1 * * * *", "runs backwards"),
            ("@fortnightly", "not a known schedule"),
            ("TZ=UTC 0 * * * *", "time zones"),
        ];
        for (schedule, expected) in cases {
            let problem = schedule_problem(schedule).unwrap_or_default();
            assert!(problem.contains(expected), "{schedule}: {problem}");
        }
    }
}
