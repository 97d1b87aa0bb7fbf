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
    /// Epochs committed by the attempt that died.
    pub epochs_done: usize,
    /// Epochs its last checkpoint covers.
    pub checkpoint_epoch: Option<usize>,
    /// `checkpoint_epoch` when it was claimed.
    pub claim_checkpoint_epoch: Option<usize>,
    /// Earlier deaths without progress, in a row.
    pub stalled_deaths: u32,
    /// Where they happened.
    pub deaths: Option<String>,
}

/// What to do with an abandoned trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Run it again (from its checkpoint, if any), with this many stalled deaths and this
    /// record of where they happened.
    Requeue {
        /// Deaths without progress, in a row, this one included.
        stalled_deaths: u32,
        /// Where they happened.
        deaths: Option<String>,
    },
    /// Stop retrying: mark it failed with this message.
    Fail(String),
}

/// Counts a death of `trial`'s process: one without a new checkpoint since the claim is a
/// stalled death, and `max_attempts` of them in a row fail the trial. A death after progress
/// resets the count, so a sweep killed many times from outside never fails a trial that
/// trains.
pub fn verdict(trial: &RunningTrial, max_attempts: u32) -> Verdict {
    let progressed =
        trial.checkpoint_epoch.unwrap_or(0) > trial.claim_checkpoint_epoch.unwrap_or(0);
    if progressed {
        return Verdict::Requeue {
            stalled_deaths: 0,
            deaths: None,
        };
    }
    let here = format!(
        "{} at epoch {}",
        trial.host.as_deref().unwrap_or("an unknown host"),
        trial.epochs_done + 1
    );
    let deaths = match &trial.deaths {
        Some(d) => format!("{d}; {here}"),
        None => here,
    };
    let stalled = trial.stalled_deaths + 1;
    if stalled >= max_attempts.max(1) {
        return Verdict::Fail(format!(
            "the process training it died {stalled} times without progress ({deaths}); likely it runs out of memory or crashes inside training (see the worker's log); `--retry-failed` runs it again"
        ));
    }
    Verdict::Requeue {
        stalled_deaths: stalled,
        deaths: Some(deaths),
    }
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
            epochs_done: 0,
            checkpoint_epoch: None,
            claim_checkpoint_epoch: None,
            stalled_deaths: 0,
            deaths: None,
        }
    }

    #[test]
    fn deaths_without_progress_fail_the_trial_and_progress_forgives() {
        let mut t = running("a", 1, None);
        let Verdict::Requeue {
            stalled_deaths,
            deaths,
        } = verdict(&t, 3)
        else {
            panic!()
        };
        assert_eq!(
            (stalled_deaths, deaths.as_deref()),
            (1, Some("a at epoch 1"))
        );
        t.stalled_deaths = 2;
        t.deaths = Some("a at epoch 1; b at epoch 1".into());
        t.host = Some("c".into());
        match verdict(&t, 3) {
            Verdict::Fail(m) => assert!(
                m.contains(
                    "died 3 times without progress (a at epoch 1; b at epoch 1; c at epoch 1)"
                ),
                "{m}"
            ),
            v => panic!("{v:?}"),
        }
        // A new checkpoint since the claim is progress.
        t.checkpoint_epoch = Some(2);
        t.claim_checkpoint_epoch = Some(1);
        assert_eq!(
            verdict(&t, 3),
            Verdict::Requeue {
                stalled_deaths: 0,
                deaths: None
            }
        );
    }

    #[test]
    fn stale_silent_and_dead_trials_are_abandoned() {
        let me = Worker::this_process();
        let options = ClaimOptions {
            stale_after: Duration::from_secs(10),
            ..ClaimOptions::default()
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
