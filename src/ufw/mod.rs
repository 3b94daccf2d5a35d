//! The UFW firewall resource: observe ufw's files, plan from the profile,
//! write byte-identical files and load them with as little disruption as
//! the change allows.
pub mod addr;
pub mod apply;
pub mod apps;
pub mod config;
pub mod desired;
pub mod kernel;
pub mod lockout;
pub mod merge;
pub mod observe;
pub mod plan;
pub mod ports;
pub mod rule;
pub mod rulesfile;
pub mod show;

use serde::{Deserialize, Serialize};

pub use plan::{plan, FirewallActions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off = 0,
    Low = 100,
    Medium = 200,
    High = 300,
    Full = 400,
}

impl LogLevel {
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "off" => LogLevel::Off,
            "low" => LogLevel::Low,
            "medium" => LogLevel::Medium,
            "high" => LogLevel::High,
            "full" => LogLevel::Full,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Low => "low",
            LogLevel::Medium => "medium",
            LogLevel::High => "high",
            LogLevel::Full => "full",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    Allow,
    Deny,
    Reject,
}

impl Policy {
    /// From /etc/default/ufw as ufw's Python reads it (already lowercased).
    pub fn from_ufw(s: &str) -> Option<Policy> {
        match s {
            "accept" => Some(Policy::Allow),
            "drop" => Some(Policy::Deny),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
    /// The value ufw writes: `"ACCEPT"` with the quotes.
    pub fn file_value(self) -> &'static str {
        match self {
            Policy::Allow => "\"ACCEPT\"",
            Policy::Deny => "\"DROP\"",
            Policy::Reject => "\"REJECT\"",
        }
    }
    /// The iptables target.
    pub fn target(self) -> &'static str {
        match self {
            Policy::Allow => "ACCEPT",
            Policy::Deny => "DROP",
            Policy::Reject => "REJECT",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Allow => "allow",
            Policy::Deny => "deny",
            Policy::Reject => "reject",
        }
    }
}
