//! The four DORA measures of one app in one environment over a window,
//! from the deploy history (pure): deployment frequency, lead time for
//! changes (commit to success there), change failure rate, and time to
//! restore (a failure to the next success there). Automatic promotions
//! count as changes; a person's rollback or redeploy does not.

use app::deploys::{DeploymentStatus, DoraMeasures, Trigger};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// What the measures read of one deployment.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub status: DeploymentStatus,
    pub trigger: Trigger,
    pub committed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The measures over `[from, until)`, oldest attempt first in `attempts`.
pub fn measures(attempts: &[Attempt], from: DateTime<Utc>, until: DateTime<Utc>) -> DoraMeasures {
    let in_window = |at: DateTime<Utc>| at >= from && at < until;
    let changes: Vec<&Attempt> = attempts
        .iter()
        .filter(|attempt| attempt.trigger.is_automatic_promotion())
        .filter(|attempt| in_window(attempt.finished_at.unwrap_or(attempt.created_at)))
        .collect();
    let succeeded: Vec<&&Attempt> = changes
        .iter()
        .filter(|attempt| attempt.status == DeploymentStatus::Succeeded)
        .collect();
    let failed = changes
        .iter()
        .filter(|attempt| attempt.status == DeploymentStatus::Failed)
        .count();
    let days = ((until - from).num_seconds() as f64 / 86_400.0).max(1.0 / 24.0);
    let lead_times: Vec<i64> = succeeded
        .iter()
        .filter_map(|attempt| Some((attempt.finished_at? - attempt.committed_at?).num_seconds()))
        .filter(|seconds| *seconds >= 0)
        .collect();
    // Restored: the first success there (any trigger) after a failure.
    let mut restores = Vec::new();
    for (index, attempt) in attempts.iter().enumerate() {
        if attempt.status != DeploymentStatus::Failed {
            continue;
        }
        let Some(failed_at) = attempt.finished_at.filter(|at| in_window(*at)) else {
            continue;
        };
        let restored = attempts[index + 1..]
            .iter()
            .find(|later| later.status == DeploymentStatus::Succeeded)
            .and_then(|later| later.finished_at);
        if let Some(restored) = restored {
            restores.push((restored - failed_at).num_seconds().max(0));
        }
    }
    let decided = succeeded.len() + failed;
    DoraMeasures {
        deployments: u32::try_from(succeeded.len()).unwrap_or(u32::MAX),
        per_day: succeeded.len() as f64 / days,
        lead_time_seconds: median(lead_times),
        change_failure_rate: (decided > 0).then(|| failed as f64 / decided as f64),
        time_to_restore_seconds: median(restores),
        days: daily(&changes, from, until),
    }
}

fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[values.len() / 2])
}

/// Per day of the window: (date, succeeded, failed), for the chart.
fn daily(
    changes: &[&Attempt],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(String, u32, u32)> {
    let first = from.date_naive();
    let count = (until - from).num_days().clamp(1, 366);
    (0..count)
        .filter_map(|offset| first.checked_add_signed(Duration::days(offset)))
        .map(|day: NaiveDate| {
            let on_day = |status: DeploymentStatus| {
                changes
                    .iter()
                    .filter(|attempt| {
                        attempt.status == status
                            && attempt
                                .finished_at
                                .unwrap_or(attempt.created_at)
                                .date_naive()
                                == day
                    })
                    .count() as u32
            };
            (
                day.format("%Y-%m-%d").to_string(),
                on_day(DeploymentStatus::Succeeded),
                on_day(DeploymentStatus::Failed),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    fn attempt(
        status: DeploymentStatus,
        trigger: Trigger,
        committed: u32,
        finished: (u32, u32),
    ) -> Attempt {
        Attempt {
            status,
            trigger,
            committed_at: Some(at(committed, 8)),
            created_at: at(finished.0, finished.1),
            finished_at: Some(at(finished.0, finished.1)),
        }
    }

    #[test]
    fn the_four_measures_come_from_the_history() {
        use DeploymentStatus::{Failed, Succeeded};
        let history = [
            attempt(Succeeded, Trigger::Promotion, 1, (1, 10)),
            attempt(Failed, Trigger::Promotion, 2, (2, 10)),
            attempt(Succeeded, Trigger::AutoRollback, 1, (2, 11)),
            attempt(Succeeded, Trigger::Promotion, 3, (3, 12)),
            attempt(Succeeded, Trigger::Redeploy, 3, (3, 13)),
        ];
        let measures = measures(&history, at(1, 0), at(8, 0));
        assert_eq!(
            measures.deployments, 2,
            "rollbacks and redeploys are not changes"
        );
        assert!((measures.per_day - 2.0 / 7.0).abs() < 1e-9);
        // Lead times 2 h and 4 h: the median of two is the later one.
        assert_eq!(measures.lead_time_seconds, Some(4 * 3600));
        assert_eq!(measures.change_failure_rate, Some(1.0 / 3.0));
        assert_eq!(measures.time_to_restore_seconds, Some(3600));
        assert_eq!(measures.days.len(), 7);
        assert_eq!(measures.days[1], ("2026-11-02".to_string(), 0, 1));
    }

    #[test]
    fn an_empty_window_has_no_measures_but_its_days() {
        let measures = measures(&[], at(1, 0), at(3, 0));
        assert_eq!(measures.deployments, 0);
        assert_eq!(measures.lead_time_seconds, None);
        assert_eq!(measures.change_failure_rate, None);
        assert_eq!(measures.days.len(), 2);
    }
}
