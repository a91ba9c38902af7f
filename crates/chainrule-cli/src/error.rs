//! The CLI's error: a message for people and the exit code that goes with it.

use std::fmt;

/// Exit code for bad input or usage (clap uses the same for its own usage errors).
pub const BAD_INPUT: u8 = 2;

/// A failure to report: printed as `error: {message}`, then the process exits with `code`.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad input from the user: exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        CliError {
            code: BAD_INPUT,
            message: message.into(),
        }
    }

    /// A failure while carrying out a valid command (writing a file, a run that blew up): exit
    /// code 1.
    pub fn failure(message: impl Into<String>) -> Self {
        CliError {
            code: 1,
            message: message.into(),
        }
    }

    /// Bad input from the user, kept on one line: exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::input(message.into().replace('\n', " "))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<chainrule::expr::ParseError> for CliError {
    fn from(e: chainrule::expr::ParseError) -> Self {
        CliError::input(format!("cannot parse the expression: {e}"))
    }
}
