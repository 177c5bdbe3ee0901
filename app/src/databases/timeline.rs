//! The database page's timeline: each step the engine took, under the
//! customer's request it served (create, resize, park…), retries folded into
//! the step they retried, and durations from the request to the result.

use serde::{Deserialize, Serialize};

use super::StepView;

/// A change a customer asked for, from the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    /// The audit action: `database.create`, `database.park`, …
    pub action: String,
    /// RFC 3339, UTC, with milliseconds (as the steps' times).
    pub at: String,
    pub by: String,
}

impl ChangeRequest {
    /// `database.credential.rotate` → `Password rotation`.
    pub fn label(&self) -> String {
        match self.action.as_str() {
            "database.create" => "Create".to_string(),
            "database.resize" => "Resize".to_string(),
            "database.park" => "Park".to_string(),
            "database.resume" => "Resume".to_string(),
            "database.terminate" => "Terminate".to_string(),
            "database.credential.rotate" => "Password rotation".to_string(),
            other => other
                .trim_start_matches("database.")
                .replace(['_', '.'], " "),
        }
    }
}

/// The audit actions whose requests make the engine work.
pub const TIMELINE_ACTIONS: &[&str] = &[
    "database.create",
    "database.resize",
    "database.park",
    "database.resume",
    "database.terminate",
    "database.credential.rotate",
];

/// One step with its earlier, failed attempts folded under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoldedStep {
    /// The newest attempt.
    pub last: StepView,
    pub earlier_failures: Vec<StepView>,
}

/// The steps that served one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineGroup {
    /// `None` for steps before any request the audit log knows of.
    pub request: Option<ChangeRequest>,
    pub steps: Vec<FoldedStep>,
    /// From the request (or the first step) to the last step's end, once
    /// every step ended.
    pub took_ms: Option<i64>,
}

/// Groups `steps` (any order) under the newest request made before each
/// started; newest group first, steps in the order they ran.
pub fn group_steps(requests: &[ChangeRequest], steps: &[StepView]) -> Vec<TimelineGroup> {
    let mut requests: Vec<&ChangeRequest> = requests.iter().collect();
    requests.sort_by(|a, b| a.at.cmp(&b.at));
    let mut steps: Vec<&StepView> = steps.iter().collect();
    steps.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    let mut groups: Vec<TimelineGroup> = Vec::new();
    for step in steps {
        // Nothing runs before a database is created: a step that started
        // before its create request was written (the engine is quick) is
        // part of it.
        let request = requests
            .iter()
            .rev()
            .find(|request| request.at <= step.started_at)
            .or_else(|| {
                requests
                    .first()
                    .filter(|first| first.action == "database.create")
            })
            .map(|request| (*request).clone());
        let same_group = groups.last().is_some_and(|group| group.request == request);
        if !same_group {
            groups.push(TimelineGroup {
                request,
                steps: Vec::new(),
                took_ms: None,
            });
        }
        let Some(group) = groups.last_mut() else {
            continue;
        };
        match group
            .steps
            .iter_mut()
            .find(|folded| folded.last.step == step.step)
        {
            Some(folded) => {
                let earlier = std::mem::replace(&mut folded.last, step.clone());
                if earlier.outcome == "failure" {
                    folded.earlier_failures.push(earlier);
                }
            }
            None => group.steps.push(FoldedStep {
                last: step.clone(),
                earlier_failures: Vec::new(),
            }),
        }
    }
    for group in &mut groups {
        group.took_ms = took_ms(group);
    }
    groups.reverse();
    groups
}

fn took_ms(group: &TimelineGroup) -> Option<i64> {
    let start = group
        .request
        .as_ref()
        .map(|request| request.at.as_str())
        .or_else(|| {
            group
                .steps
                .first()
                .map(|step| step.last.started_at.as_str())
        })?;
    let mut end: Option<&str> = None;
    for step in &group.steps {
        let finished = step.last.finished_at.as_deref()?;
        end = Some(end.map_or(finished, |end| end.max(finished)));
    }
    Some((epoch_ms(end?)? - epoch_ms(start)?).max(0))
}

/// Milliseconds since 1970 of a UTC time as the server writes them
/// (`2026-12-03T10:00:01.200Z`); `None` for anything else.
fn epoch_ms(text: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let millis = match text.get(19..20) {
        Some(".") => number(20..23)?,
        _ => 0,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// `340` → `under 1 s`; `3400` → `3.4 s`; `75000` → `1 min 15 s`.
pub fn duration_text(ms: i64) -> String {
    match ms {
        ..1000 => "under 1 s".to_string(),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, attempt: i32, at: &str, end: Option<&str>, outcome: &str) -> StepView {
        StepView {
            step: name.to_string(),
            attempt,
            started_at: format!("2026-12-03T10:00:{at}Z"),
            finished_at: end.map(|end| format!("2026-12-03T10:00:{end}Z")),
            outcome: outcome.to_string(),
            message: None,
            duration_ms: Some(0),
        }
    }

    fn request(action: &str, at: &str) -> ChangeRequest {
        ChangeRequest {
            action: action.to_string(),
            at: format!("2026-12-03T10:00:{at}Z"),
            by: "cora".to_string(),
        }
    }

    #[test]
    fn steps_fall_under_their_request_with_retries_folded() {
        let requests = [
            request("database.create", "00.000"),
            request("database.park", "20.000"),
        ];
        let steps = [
            step("namespace", 1, "00.100", Some("00.110"), "success"),
            step("operator resource", 1, "00.200", Some("00.210"), "failure"),
            step("operator resource", 2, "01.200", Some("01.210"), "success"),
            step("configured", 1, "03.400", Some("03.500"), "success"),
            step("operator resource", 3, "20.100", Some("23.000"), "success"),
        ];
        let groups = group_steps(&requests, &steps);
        assert_eq!(groups.len(), 2);
        // A step logged before its create request still belongs to it.
        let early = [step("namespace", 1, "00.000", Some("00.010"), "success")];
        let late_request = [request("database.create", "00.050")];
        assert!(group_steps(&late_request, &early)[0].request.is_some());
        // Newest first: the park, then the create.
        assert_eq!(
            groups[0]
                .request
                .as_ref()
                .map(ChangeRequest::label)
                .as_deref(),
            Some("Park")
        );
        assert_eq!(groups[0].took_ms, Some(3000));
        let create = &groups[1];
        assert_eq!(create.steps.len(), 3);
        assert_eq!(create.steps[1].last.attempt, 2);
        assert_eq!(create.steps[1].earlier_failures.len(), 1);
        assert_eq!(create.took_ms, Some(3500));
    }

    #[test]
    fn a_group_still_running_has_no_duration_and_steps_without_a_request_stand_alone() {
        let steps = [
            step("namespace", 1, "00.100", Some("00.110"), "success"),
            step("operator resource", 1, "00.200", None, "running"),
        ];
        let groups = group_steps(&[], &steps);
        assert_eq!(groups.len(), 1);
        assert!(groups[0].request.is_none());
        assert_eq!(groups[0].took_ms, None);
    }

    #[test]
    fn times_count_across_days() {
        assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_ms("2000-03-01T00:00:00.250Z"), Some(951_868_800_250));
        assert_eq!(
            epoch_ms("2026-12-04T00:00:01.000Z")
                .zip(epoch_ms("2026-12-03T23:59:59.000Z"))
                .map(|(a, b)| a - b),
            Some(2000)
        );
        assert_eq!(epoch_ms("soon"), None);
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(0), "under 1 s");
        assert_eq!(duration_text(3400), "3.4 s");
        assert_eq!(duration_text(75_000), "1 min 15 s");
    }
}
