//! A deployment's step timeline: steps started once, finished once with
//! their duration, a message while they run, the tail of their log.

use app::deploys::{Step, StepKind, StepState};
use chrono::{DateTime, SecondsFormat, Utc};

use super::LOG_TAIL_LINES;

pub(super) fn start_step(
    steps: &mut Vec<Step>,
    kind: StepKind,
    name: &str,
    now: &str,
    object: Option<&str>,
) {
    if steps
        .iter()
        .any(|step| step.kind == kind && step.name == name)
    {
        return;
    }
    steps.push(Step {
        kind,
        name: name.to_string(),
        state: StepState::Running,
        started_at: now.to_string(),
        finished_at: None,
        duration_ms: None,
        message: None,
        exit_code: None,
        log_tail: None,
        object: object.map(str::to_string),
    });
}

pub(super) fn finish_step(
    steps: &mut [Step],
    kind: StepKind,
    name: &str,
    state: StepState,
    now: &str,
    message: Option<String>,
) {
    let Some(step) = steps
        .iter_mut()
        .find(|step| step.kind == kind && step.name == name)
    else {
        return;
    };
    if step.is_finished() {
        return;
    }
    step.state = state;
    step.finished_at = Some(now.to_string());
    step.duration_ms = duration_ms(&step.started_at, now);
    if message.is_some() {
        step.message = message;
    }
}

pub(super) fn set_message(steps: &mut [Step], kind: StepKind, name: &str, message: &str) {
    if let Some(step) = steps
        .iter_mut()
        .find(|step| step.kind == kind && step.name == name && !step.is_finished())
    {
        step.message = Some(message.to_string());
    }
}

pub(super) fn set_log(
    steps: &mut [Step],
    kind: StepKind,
    name: &str,
    log: &str,
    exit_code: Option<i32>,
) {
    if let Some(step) = steps
        .iter_mut()
        .find(|step| step.kind == kind && step.name == name)
    {
        step.exit_code = exit_code;
        if step.log_tail.is_none() && !log.is_empty() {
            step.log_tail = Some(tail(log, LOG_TAIL_LINES));
        }
    }
}

/// How long the step has been running at `now` (zero if it has not started).
pub(super) fn elapsed(
    steps: &[Step],
    kind: StepKind,
    name: &str,
    now: DateTime<Utc>,
) -> std::time::Duration {
    steps
        .iter()
        .find(|step| step.kind == kind && step.name == name)
        .and_then(|step| DateTime::parse_from_rfc3339(&step.started_at).ok())
        .and_then(|started| (now - started.with_timezone(&Utc)).to_std().ok())
        .unwrap_or_default()
}

/// The last `lines` lines of a log.
pub fn tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn duration_ms(started: &str, finished: &str) -> Option<i64> {
    let started = DateTime::parse_from_rfc3339(started).ok()?;
    let finished = DateTime::parse_from_rfc3339(finished).ok()?;
    Some((finished - started).num_milliseconds().max(0))
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
