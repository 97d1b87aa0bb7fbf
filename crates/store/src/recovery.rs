//! Which running trials are abandoned, decided once for every backend: a trial whose worker
//! process is gone from this host, or whose heartbeat is older than the staleness limit (as
//! the database's clock measures it), goes back to pending when a worker next claims.

use std::fs;
use std::path::Path;

use crate::{ClaimOptions, TrialId, Worker};

/// A running trial as the claim sees it.
#[derive(Debug, Clone)]
pub struct RunningTrial {
    /// Row id.
    pub id: TrialId,
    /// Claiming worker's id.
    pub worker: Option<String>,
    /// Claiming worker's host.
    pub host: Option<String>,
    /// Claiming worker's process id.
    pub pid: Option<u32>,
    /// Seconds since its last heartbeat, on the database's clock; `None` if it has none.
    pub heartbeat_age: Option<f64>,
}

/// Whether `trial` is abandoned, seen from `worker`, and why (for the log).
pub fn abandoned(
    trial: &RunningTrial,
    worker: &Worker,
    options: &ClaimOptions,
) -> Option<&'static str> {
    let same_host = trial.host.as_deref() == Some(worker.host.as_str());
    let other_process = trial.worker.as_deref() != Some(worker.id.as_str());
    if same_host && other_process && trial.pid != Some(worker.pid) {
        if let Some(true) = trial.pid.and_then(process_gone) {
            return Some("its process is gone");
        }
    }
    match trial.heartbeat_age {
        None => Some("it has no heartbeat"),
        Some(age) if age > options.stale_after.as_secs_f64() => Some("its heartbeat is stale"),
        Some(_) => None,
    }
}

/// Whether a worker process on this host is gone (no such process, a zombie, or another
/// program). `None` when the host has no /proc to tell.
fn process_gone(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Some(true);
    };
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X")) {
        return Some(true);
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    Some(!String::from_utf8_lossy(&cmdline).contains("fcnsweep"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn running(host: &str, pid: u32, age: Option<f64>) -> RunningTrial {
        RunningTrial {
            id: 1,
            worker: Some(format!("{host}:{pid}:0")),
            host: Some(host.into()),
            pid: Some(pid),
            heartbeat_age: age,
        }
    }

    #[test]
    fn stale_silent_and_dead_trials_are_abandoned() {
        let me = Worker::this_process();
        let options = ClaimOptions {
            retry_failed: false,
            stale_after: Duration::from_secs(10),
        };
        // Another host's fresh trial is alive; its stale one is not.
        assert_eq!(
            abandoned(&running("elsewhere", 1, Some(1.0)), &me, &options),
            None
        );
        assert!(abandoned(&running("elsewhere", 1, Some(11.0)), &me, &options).is_some());
        assert!(abandoned(&running("elsewhere", 1, None), &me, &options).is_some());
        // On this host a pid that is no process is gone at once, heartbeat or not.
        assert_eq!(
            abandoned(&running(&me.host, u32::MAX - 1, Some(0.0)), &me, &options),
            Some("its process is gone")
        );
        // This very process is alive.
        let mine = RunningTrial {
            worker: Some(me.id.clone()),
            ..running(&me.host, me.pid, Some(0.0))
        };
        assert_eq!(abandoned(&mine, &me, &options), None);
    }
}
