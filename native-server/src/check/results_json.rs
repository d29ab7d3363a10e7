//! `--json FILE`: the results in the shape of Exercism's test-runner
//! `results.json`, version 2, so tools that grade exercises can read them.
//!
//! ```json
//! {
//!   "version": 2,
//!   "status": "fail",
//!   "message": "stage 3 failed: a header split across writes",
//!   "tests": [
//!     {"name": "1. one frame", "status": "pass"},
//!     {"name": "2. two frames in one write", "status": "pass"},
//!     {"name": "3. a header split across writes", "status": "fail",
//!      "message": "…the failure report…", "output": "stdout| listening on …"}
//!   ]
//! }
//! ```
//!
//! - `status` (top level): `pass` when every stage that ran passed, `fail`
//!   when one failed, `error` when the program could not be checked at all
//!   (it would not start, or never listened); then `message` says why.
//! - `tests`: the stages that ran, in order; a run stops at the first failure,
//!   so stages after it are not listed. `message` is the failure report,
//!   `output` the program's captured stdout and stderr; both only on failure.

use serde::{Deserialize, Serialize};

/// Pass, fail or error, for the run and for each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything checked was right.
    Pass,
    /// A stage found the program wrong.
    Fail,
    /// The program could not be checked.
    Error,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Always 2.
    pub version: u32,
    /// The run's status.
    pub status: Status,
    /// Why the run failed or erred, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// One entry per stage that ran.
    pub tests: Vec<TestResult>,
}

/// One stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestResult {
    /// `K. the stage's name`.
    pub name: String,
    /// The stage's status.
    pub status: Status,
    /// The failure report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the program printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}
