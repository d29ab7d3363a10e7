//! What a running `socket-lab check` tells the server, so the chapter's
//! check view can follow the run live.
//!
//! The check process connects to the server's `/check/publish` WebSocket
//! and sends one [`CheckMsg`] per JSON text frame: the run started, each
//! stage started, every read and write of every connection (bytes capped at
//! [`MAX_EVENT_BYTES`], like the demos' events), each stage's result, and at
//! the end the verdict with the same report text the terminal shows. The
//! server tags each message with the run it belongs to and hands it to the
//! pages that asked (`ClientMsg::WatchChecks`), as `ServerMsg::Check`.
//!
//! The publisher is a program on the learner's machine, not a page, but the
//! server still treats what it sends as untrusted: [`CheckMsg::validate`]
//! bounds every field, so a garbled or hostile publisher is closed instead
//! of reaching a page.

use serde::{Deserialize, Serialize};

use crate::events::MAX_EVENT_BYTES;
use crate::hex::HexBytes;

/// Largest publish message the server accepts, in bytes (the final report,
/// with the program's output, is the big one).
pub const MAX_PUBLISH_MESSAGE: usize = 256 * 1024;

/// Most stages a run may announce.
pub const MAX_STAGES: usize = 64;

/// Longest short text (a lesson, a stage name, a connection label, a note).
pub const MAX_LABEL: usize = 1024;

/// Which way bytes went, seen from socket-lab's side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// socket-lab wrote these bytes to the learner's program.
    Sent,
    /// A read on socket-lab's socket returned these bytes.
    Read,
}

/// One message of a check run (a JSON text frame on `/check/publish`, and
/// the body of `ServerMsg::Check`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckMsg {
    /// A run began: always the first message of a publish connection.
    Started {
        /// The lesson as on the command line (`framed`, `auth-client`).
        lesson: String,
        /// The learner's command, as typed (`python3 my_server.py {port}`).
        command: String,
        /// The run's seed (`--seed` repeats it).
        seed: u64,
        /// The names of the stages that will run, in order.
        stages: Vec<String>,
    },
    /// Stage `stage` (counted from 1) began.
    StageStarted {
        /// The stage's number.
        stage: u32,
        /// Its name.
        name: String,
    },
    /// One write or one read on one of the stage's connections.
    Io {
        /// The stage's number.
        stage: u32,
        /// The connection's label in the transcript (`A`, `client 7`, `server`).
        conn: String,
        /// Written or read by socket-lab.
        dir: Direction,
        /// How many bytes the write or read had.
        size: usize,
        /// The bytes (at most [`MAX_EVENT_BYTES`]; `size` tells the real size).
        data: HexBytes,
        /// A UDP datagram rather than a piece of a TCP stream.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        datagram: bool,
    },
    /// Anything else the transcript says: a connection opened, the end of
    /// the stream, a reset, nothing more within the timeout.
    Note {
        /// The stage's number.
        stage: u32,
        /// The connection it is about, when it is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conn: Option<String>,
        /// The transcript's line.
        text: String,
    },
    /// Stage `stage` ended.
    StageFinished {
        /// The stage's number.
        stage: u32,
        /// Whether it passed.
        passed: bool,
        /// How long it took, in milliseconds.
        ms: u64,
    },
    /// The run ended.
    Finished {
        /// Every stage that ran passed.
        passed: bool,
        /// The last line of the terminal's output (`PASS: …` or `FAIL: …`).
        verdict: String,
        /// The failed stage's whole report, as the terminal shows it
        /// (empty when the run passed).
        report: String,
        /// How many messages of this run the check dropped rather than wait
        /// for the server (the view says so).
        #[serde(default)]
        dropped: u64,
    },
}

/// Why a publish message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// A text field is too long.
    #[error("the {0} field is longer than {MAX_LABEL} bytes")]
    TooLong(&'static str),
    /// More bytes than an event carries.
    #[error("an io message carries {0} bytes; at most {MAX_EVENT_BYTES} are published")]
    TooManyBytes(usize),
    /// `size` is smaller than the bytes carried.
    #[error("an io message says size {size} but carries {carried} bytes")]
    SizeBelowData {
        /// The claimed size.
        size: usize,
        /// The bytes carried.
        carried: usize,
    },
    /// Too many stages.
    #[error("a run announces {0} stages; at most {MAX_STAGES}")]
    TooManyStages(usize),
}

fn short(field: &'static str, text: &str) -> Result<(), Invalid> {
    if text.len() > MAX_LABEL {
        Err(Invalid::TooLong(field))
    } else {
        Ok(())
    }
}

impl CheckMsg {
    /// Checks every field against its bound (the report and verdict are
    /// bounded by [`MAX_PUBLISH_MESSAGE`], which the WebSocket enforces).
    pub fn validate(&self) -> Result<(), Invalid> {
        match self {
            CheckMsg::Started {
                lesson,
                command,
                stages,
                ..
            } => {
                short("lesson", lesson)?;
                short("command", command)?;
                if stages.len() > MAX_STAGES {
                    return Err(Invalid::TooManyStages(stages.len()));
                }
                stages.iter().try_for_each(|s| short("stages", s))
            }
            CheckMsg::StageStarted { name, .. } => short("name", name),
            CheckMsg::Io {
                conn, size, data, ..
            } => {
                short("conn", conn)?;
                if data.0.len() > MAX_EVENT_BYTES {
                    return Err(Invalid::TooManyBytes(data.0.len()));
                }
                if *size < data.0.len() {
                    return Err(Invalid::SizeBelowData {
                        size: *size,
                        carried: data.0.len(),
                    });
                }
                Ok(())
            }
            CheckMsg::Note { conn, text, .. } => {
                short("conn", conn.as_deref().unwrap_or_default())?;
                short("text", text)
            }
            CheckMsg::StageFinished { .. } | CheckMsg::Finished { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Connection A's read or write in `stage`.
    fn io(stage: u32, dir: Direction, size: usize, data: HexBytes) -> CheckMsg {
        CheckMsg::Io {
            stage,
            conn: "A".into(),
            dir,
            size,
            data,
            datagram: false,
        }
    }

    #[test]
    fn messages_round_trip_and_read_well() {
        let io = io(2, Direction::Sent, 2, HexBytes(vec![0, 0x7b]));
        let text = serde_json::to_string(&io).unwrap();
        assert_eq!(
            text,
            r#"{"type":"io","stage":2,"conn":"A","dir":"sent","size":2,"data":"007b"}"#
        );
        assert_eq!(serde_json::from_str::<CheckMsg>(&text).unwrap(), io);
        for msg in [
            CheckMsg::Started {
                lesson: "framed".into(),
                command: "python3 s.py {port}".into(),
                seed: 7,
                stages: vec!["one frame".into()],
            },
            CheckMsg::StageStarted {
                stage: 1,
                name: "one frame".into(),
            },
            CheckMsg::Note {
                stage: 1,
                conn: Some("A".into()),
                text: "A connected".into(),
            },
            CheckMsg::StageFinished {
                stage: 1,
                passed: false,
                ms: 3,
            },
            CheckMsg::Finished {
                passed: false,
                verdict: "FAIL: …".into(),
                report: "    likely bug: …\n".into(),
                dropped: 0,
            },
        ] {
            let text = serde_json::to_string(&msg).unwrap();
            assert_eq!(serde_json::from_str::<CheckMsg>(&text).unwrap(), msg);
            assert_eq!(msg.validate(), Ok(()));
        }
    }

    #[test]
    fn unknown_fields_and_oversized_fields_are_refused() {
        for bad in [
            r#"{"type":"stage_started","stage":1,"name":"x","extra":1}"#,
            r#"{"type":"io","stage":1,"conn":"A","dir":"sideways","size":0,"data":""}"#,
            r#"{"type":"launch","stage":1}"#,
            r#"[1,2,3]"#,
        ] {
            assert!(serde_json::from_str::<CheckMsg>(bad).is_err(), "{bad}");
        }
        let big = CheckMsg::Io {
            stage: 1,
            conn: "A".into(),
            dir: Direction::Read,
            size: 5000,
            data: HexBytes(vec![0; MAX_EVENT_BYTES + 1]),
            datagram: false,
        };
        assert_eq!(
            big.validate(),
            Err(Invalid::TooManyBytes(MAX_EVENT_BYTES + 1))
        );
        let lying = io(1, Direction::Read, 1, HexBytes(vec![1, 2]));
        assert!(matches!(
            lying.validate(),
            Err(Invalid::SizeBelowData { .. })
        ));
        let long = CheckMsg::Note {
            stage: 1,
            conn: None,
            text: "x".repeat(MAX_LABEL + 1),
        };
        assert_eq!(long.validate(), Err(Invalid::TooLong("text")));
        let stages = CheckMsg::Started {
            lesson: "framed".into(),
            command: String::new(),
            seed: 0,
            stages: vec![String::new(); MAX_STAGES + 1],
        };
        assert_eq!(
            stages.validate(),
            Err(Invalid::TooManyStages(MAX_STAGES + 1))
        );
    }
}
